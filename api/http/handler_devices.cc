// The device routes of the HTTP handler: POST /devices/<id>, POST /events, GET
// /devices/<id>, GET /devices, GET /deadletters (routing and credentials: handler.cc).
#include <fmt/format.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <charconv>
#include <memory>
#include <optional>

#include "api/http/handler.h"
#include "api/http/responses.h"
#include "service/device_record.h"
#include "service/json.h"
#include "service/rfc3339.h"
#include "service/text.h"

namespace devstate::http {

namespace internal {

void AppendPayloadHead(std::string* out, std::string_view head) {
  // Drop a multi-byte character the head's length cut short: a lead byte followed by
  // fewer continuation bytes than it announces.
  std::string_view text = head;
  for (size_t back = 1; back <= 4 && back <= head.size(); ++back) {
    const auto c = static_cast<unsigned char>(head[head.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (need > back) text = head.substr(0, head.size() - back);
    break;
  }
  if (simdjson::validate_utf8(text.data(), text.size())) {
    out->append("\"payloadHead\":");
    AppendJsonString(out, text);
    return;
  }
  std::string b64(4 * ((head.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(head.data()),
                                static_cast<int>(head.size()));
  b64.resize(static_cast<size_t>(n));
  out->append("\"payloadHeadBase64\":\"");
  out->append(b64);
  out->push_back('"');
}

}  // namespace internal

using namespace internal;  // NOLINT: the file's own helpers

void Handler::PostDevice(const Request& req, std::string_view id, Reply reply) const {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  if (!req.has_content_length() && !req.chunked()) {
    return reply(Error(status::length_required, "a POST needs Content-Length (or chunked encoding)",
                       version, keep_alive));
  }
  if (!AcceptsContentType(req, false)) {
    return reply(Error(status::unsupported_media_type, "Content-Type must be application/json",
                       version, keep_alive));
  }
  if (req.body().size() > options_.limits.max_bytes) {
    service_->CountRejected(1);
    return reply(Error(status::payload_too_large,
                       fmt::format("event is {} bytes, more than the limit of {}",
                                   req.body().size(), options_.limits.max_bytes),
                       version, keep_alive));
  }
  std::vector<Event> events(1);
  Status s = Parser().Parse(req.body(), id, service_->NowMs(), &events[0]);
  if (!s.ok()) {
    service_->CountRejected(1);
    return reply(Error(status::bad_request, s.message(), version, keep_alive));
  }
  service_->Ingest(std::move(events), [reply = std::move(reply), version, keep_alive](
                                          const Status& s, std::vector<IngestResult> results) {
    const Status& outcome = s.ok() ? results[0].status : s;
    if (!outcome.ok())
      return reply(Error(StatusFor(outcome), outcome.message(), version, keep_alive));
    reply(Make(status::ok,
               fmt::format("{{\"version\":{},\"stale\":{}}}", results[0].version,
                           results[0].outcome == MergeOutcome::kStale),
               version, keep_alive));
  });
}

void Handler::PostEvents(const Request& req, const acl::User* user, Reply reply) const {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  if (!req.has_content_length() && !req.chunked()) {
    return reply(Error(status::length_required, "a POST needs Content-Length (or chunked encoding)",
                       version, keep_alive));
  }
  if (!AcceptsContentType(req, true)) {
    return reply(Error(status::unsupported_media_type,
                       "Content-Type must be application/json (an array) or application/x-ndjson",
                       version, keep_alive));
  }
  std::vector<BatchItem> items;
  Status s = Parser().ParseBatch(req.body(), service_->NowMs(), options_.max_batch_events, &items);
  if (!s.ok()) {
    service_->CountRejected(1);
    return reply(Error(status::bad_request, s.message(), version, keep_alive));
  }
  // The batch is one write: a device the user may not write refuses all of it.
  for (const BatchItem& item : items) {
    if (item.status.ok() && !Permits(user, "set", kSetCategories, item.event.device_id, true)) {
      return reply(Error(
          status::forbidden,
          fmt::format("user '{}' may not write device '{}'", user->name, item.event.device_id),
          version, keep_alive));
    }
  }
  // Per item: its error, or its device id (the results come back for the valid ones only).
  struct Item {
    std::string device_id;
    std::string error;
  };
  auto slots = std::make_shared<std::vector<Item>>(items.size());
  std::vector<Event> events;
  events.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].status.ok()) {
      (*slots)[i].device_id = items[i].event.device_id;
      events.push_back(std::move(items[i].event));
    } else {
      (*slots)[i].error = items[i].status.message();
    }
  }
  const size_t rejected = items.size() - events.size();
  if (rejected > 0) service_->CountRejected(rejected);

  auto render = [slots, version, keep_alive, rejected](const std::vector<IngestResult>& results) {
    size_t accepted = 0, stale = 0, conflicts = 0, next = 0;
    std::string list;
    for (const Item& item : *slots) {
      if (!list.empty()) list.push_back(',');
      if (!item.error.empty()) {
        list += "{\"error\":" + JsonString(item.error) + "}";
        continue;
      }
      const IngestResult& r = results[next++];
      if (!r.status.ok()) {
        ++conflicts;
        list += "{\"deviceId\":" + JsonString(item.device_id) +
                ",\"error\":" + JsonString(r.status.message()) + "}";
        continue;
      }
      ++accepted;
      const bool is_stale = r.outcome == MergeOutcome::kStale;
      stale += is_stale;
      list += fmt::format("{{\"deviceId\":{},\"version\":{},\"stale\":{}}}",
                          JsonString(item.device_id), r.version, is_stale);
    }
    return Make(accepted == 0 ? status::bad_request : status::ok,
                fmt::format("{{\"accepted\":{},\"stale\":{},\"rejected\":{},\"results\":[{}]}}",
                            accepted, stale, rejected + conflicts, list),
                version, keep_alive);
  };
  if (events.empty()) return reply(render({}));
  service_->Ingest(std::move(events), [reply = std::move(reply), render, version, keep_alive](
                                          const Status& s, std::vector<IngestResult> results) {
    if (!s.ok()) return reply(Error(StatusFor(s), s.message(), version, keep_alive));
    reply(render(results));
  });
}

Response Handler::GetDevice(const Request& req, std::string_view id, std::string_view query) const {
  RecordPtr record = service_->Get(DeviceKey(id));
  if (!record) return Json(req, status::not_found, ErrorBody(fmt::format("no device '{}'", id)));
  if (record->type() != kDeviceRecordType) {
    // A value stored over RESP (SET device:<id>:latest ...): served as given.
    const bool json = simdjson::validate_utf8(record->value().data(), record->value().size()) &&
                      record->value().find_first_not_of(" \t\r\n") != std::string::npos &&
                      record->value()[record->value().find_first_not_of(" \t\r\n")] == '{';
    return Make(status::ok, std::string(record->value()), req.version(), req.keep_alive(),
                json ? "application/json" : "application/octet-stream");
  }
  const std::string etag = fmt::format("\"{}\"", DeviceVersion(*record));
  if (ETagMatches(req[field::if_none_match], etag)) {
    Response res{status::not_modified, req.version()};
    res.set(field::server, "devstate");
    res.set(field::etag, etag);
    res.keep_alive(req.keep_alive());
    return res;
  }
  std::string body;
  if (QueryParam(query, "view") == "meta") {
    DeviceRecord device;
    Status s = FromRecord(*record, &device);
    if (!s.ok()) return Json(req, status::internal_server_error, ErrorBody(s.message()));
    body = "{\"state\":" + std::string(record->value()) +
           fmt::format(",\"version\":{},\"updatedAt\":\"{}\",\"fields\":{{", device.version,
                       FormatRfc3339(device.updated_at_ms));
    bool first = true;
    for (const auto& [name, f] : device.fields) {
      if (!first) body.push_back(',');
      first = false;
      AppendJsonString(&body, name);
      body += fmt::format(":{{\"time\":\"{}\"{}}}", FormatRfc3339(f.time_ms),
                          f.tombstone() ? ",\"deleted\":true" : "");
    }
    body += "}}";
  } else {
    body = record->value();
  }
  Response res = Json(req, status::ok, std::move(body));
  res.set(field::etag, etag);
  return res;
}

Response Handler::GetDeadLetters(const Request& req, std::string_view query) const {
  size_t limit = 100;
  const std::string_view text = QueryParam(query, "limit");
  if (!text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit == 0 || limit > 100000) {
      return Json(req, status::bad_request, ErrorBody("limit must be an integer 1..100000"));
    }
  }
  std::string body = fmt::format("{{\"total\":{},\"entries\":[", service_->DeadLetterTotal());
  bool first = true;
  for (const DeadLetter& d : service_->DeadLetters(limit)) {
    if (!first) body.push_back(',');
    first = false;
    body += fmt::format("{{\"id\":{},\"time\":\"{}\",\"source\":", d.id, FormatRfc3339(d.time_ms));
    AppendJsonString(&body, d.source);
    body += ",\"reason\":";
    AppendJsonString(&body, d.reason);
    body += fmt::format(",\"payloadBytes\":{},", d.payload_bytes);
    AppendPayloadHead(&body, d.payload_head);
    body.push_back('}');
  }
  body += "]}";
  return Json(req, status::ok, std::move(body));
}

Response Handler::ListDevices(const Request& req, std::string_view query) const {
  uint64_t cursor = 0;
  size_t limit = 100;
  const std::string_view cursor_text = QueryParam(query, "cursor");
  if (!cursor_text.empty()) {
    auto [end, ec] =
        std::from_chars(cursor_text.data(), cursor_text.data() + cursor_text.size(), cursor);
    if (ec != std::errc() || end != cursor_text.data() + cursor_text.size()) {
      return Json(req, status::bad_request,
                  ErrorBody("cursor must be the value a previous page returned"));
    }
  }
  const std::string_view limit_text = QueryParam(query, "limit");
  if (!limit_text.empty()) {
    auto [end, ec] =
        std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
    if (ec != std::errc() || end != limit_text.data() + limit_text.size() || limit == 0 ||
        limit > 1000) {
      return Json(req, status::bad_request, ErrorBody("limit must be an integer 1..1000"));
    }
  }
  // Keyspace cursors are positions in hash order: a device present for the whole listing
  // appears exactly once, however the keyspace changes between pages.
  const int64_t now = service_->NowMs();
  std::string ids;
  size_t n = 0;
  do {
    cursor = service_->Scan(cursor, limit - n, [&](const std::string& key, const RecordPtr& r) {
      if (r->type() != kDeviceRecordType || r->ExpiredAt(now)) return;
      constexpr std::string_view kPrefix = "device:", kSuffix = ":latest";
      if (key.size() <= kPrefix.size() + kSuffix.size()) return;
      if (n++ > 0) ids.push_back(',');
      AppendJsonString(&ids, std::string_view(key).substr(
                                 kPrefix.size(), key.size() - kPrefix.size() - kSuffix.size()));
    });
  } while (cursor != 0 && n < limit);
  return Json(req, status::ok,
              fmt::format("{{\"devices\":[{}],\"cursor\":{}}}", ids,
                          cursor == 0 ? std::string("null") : fmt::format("\"{}\"", cursor)));
}

}  // namespace devstate::http
