// Server-Sent Events (text/event-stream): a browser's EventSource, or any HTTP client,
// watches devices live. GET /devices/<id>/events sends the device's current state, then
// each change; with Last-Event-ID (a version) the current state is sent only if it is newer,
// so a reconnecting client resumes from the current state without a repeat. GET
// /events?match=<glob> sends every change of the devices whose id matches. Events are
// told only after their commit (Notifier), and only those the user may read
// (GET permission on the device's key).
#include <fmt/format.h>

#include <charconv>

#include "api/glob.h"
#include "api/http/handler.h"
#include "api/http/responses.h"
#include "service/device_record.h"

namespace devstate::http {

using namespace internal;  // NOLINT: the responses helpers

bool Handler::EventStream::Wants(std::string_view id) const {
  if (!device_id.empty() ? id != device_id : !api::GlobMatch(match, id)) return false;
  if (!user || user->AllowsEverything()) return true;
  return user->AllowsCommand("get", kGetCategories) && user->AllowsKey(DeviceKey(id), false);
}

bool Handler::EventStream::Advance(uint64_t version) {
  uint64_t seen = last_version.load();
  while (version > seen) {
    if (last_version.compare_exchange_weak(seen, version)) return true;
  }
  return false;
}

std::string Handler::EventStream::Frame(uint64_t version, std::string_view data) {
  std::string out = fmt::format("id: {}\nevent: change\n", version);
  // One data line per line of the message (a JSON message has one).
  for (size_t at = 0;;) {
    const size_t nl = data.find('\n', at);
    out += "data: ";
    out.append(data.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at));
    out += '\n';
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  out += '\n';
  return out;
}

Response Handler::OpenStream(const Request& req, std::shared_ptr<EventStream> stream,
                             Exchange* exchange) const {
  const std::string_view last = req["Last-Event-ID"];
  uint64_t after = 0;
  if (!last.empty() &&
      std::from_chars(last.data(), last.data() + last.size(), after).ec != std::errc()) {
    after = 0;
  }
  stream->last_version = after;
  std::string body = "retry: 1000\n\n" + CatchUp(*stream);  // EventSource retries after 1 s
  // No length: the body is the stream, until either side closes.
  Response res{status::ok, req.version()};
  res.set(field::server, "devstate");
  res.set(field::content_type, "text/event-stream");
  res.set(field::cache_control, "no-cache");
  res.keep_alive(false);
  res.body() = std::move(body);
  exchange->stream = std::move(stream);
  return res;
}

std::string Handler::CatchUp(EventStream& stream) const {
  if (stream.device_id.empty()) return {};
  RecordPtr record = service_->Get(DeviceKey(stream.device_id));
  std::string id, message;
  uint64_t version = 0;
  if (!record || !DeviceChangeMessage(*record, &id, &version, &message)) return {};
  if (!stream.Advance(version)) return {};
  return EventStream::Frame(version, message);
}

uint64_t Handler::Watch(std::shared_ptr<EventStream> stream,
                        std::function<void(std::string)> send) const {
  return service_->notifier().Watch(
      [stream = std::move(stream), send = std::move(send)](
          std::string_view device_id, uint64_t version, const std::string& message) {
        if (!stream->Wants(device_id)) return;
        // One device: a change already sent (as the current state) is not sent again.
        if (!stream->device_id.empty() && !stream->Advance(version)) return;
        send(EventStream::Frame(version, message));
      });
}

void Handler::Unwatch(uint64_t id) const { service_->notifier().Unwatch(id); }

}  // namespace devstate::http
