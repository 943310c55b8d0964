#include "api/http/handler.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <memory>
#include <optional>

#include "service/device_record.h"
#include "service/json.h"
#include "service/rfc3339.h"
#include "service/version.h"

namespace devstate::http {
namespace {

using beast_http::field;
using beast_http::status;

Response Make(status code, std::string body, unsigned version, bool keep_alive,
              std::string_view content_type = "application/json") {
  Response res{code, version};
  res.set(field::server, "devstate");
  res.set(field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response Json(const Request& req, status code, std::string body) {
  return Make(code, std::move(body), req.version(), req.keep_alive());
}

// Maps a store error to its HTTP status: the one place this is decided.
status StatusFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kWriteRefused:
    case Status::Code::kIOError:
    case Status::Code::kShutdown:
    case Status::Code::kNoReplicas:
      return status::service_unavailable;
    case Status::Code::kInvalidArgument:
      return status::conflict;  // the key holds something that is not a device record
    default:
      return status::internal_server_error;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// application/json (any parameters), application/*+json, and with `ndjson` also
// application/x-ndjson and application/ndjson.
bool AcceptsContentType(const Request& req, bool ndjson) {
  std::string_view type = req[field::content_type];
  type = Trim(type.substr(0, type.find(';')));
  if (EqualsNoCase(type, "application/json")) return true;
  if (type.size() > 17 && EqualsNoCase(type.substr(0, 12), "application/") &&
      EqualsNoCase(type.substr(type.size() - 5), "+json")) {
    return true;
  }
  return ndjson &&
         (EqualsNoCase(type, "application/x-ndjson") || EqualsNoCase(type, "application/ndjson"));
}

std::string_view QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : pair.substr(eq + 1);
  }
  return {};
}

std::string ErrorBody(std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(&body, message);
  body.push_back('}');
  return body;
}

bool ETagMatches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view tag = Trim(if_none_match.substr(0, comma));
    if_none_match.remove_prefix(comma == std::string_view::npos ? if_none_match.size() : comma + 1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

// The payload head as a JSON member: text when it is UTF-8 (a multi-byte character cut by
// the head's length is dropped), base64 otherwise.
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

}  // namespace

Response Handler::Error(status code, std::string_view message, unsigned version, bool keep_alive) {
  return Make(code, ErrorBody(message), version, keep_alive);
}

EventParser& Handler::Parser() const {
  // One parser per thread, reused; rebuilt only if a handler with other limits runs here.
  thread_local std::unique_ptr<EventParser> parser;
  if (!parser || parser->limits().max_bytes != options_.limits.max_bytes ||
      parser->limits().max_depth != options_.limits.max_depth ||
      parser->limits().max_fields != options_.limits.max_fields) {
    parser = std::make_unique<EventParser>(options_.limits);
  }
  return *parser;
}

namespace {

// The categories of the Redis commands the routes are checked as (Redis 7.0's table).
const std::vector<std::string_view> kGetCategories = {"read", "string", "fast"};
const std::vector<std::string_view> kSetCategories = {"write", "string", "slow"};
const std::vector<std::string_view> kScanCategories = {"keyspace", "read", "slow"};
const std::vector<std::string_view> kInfoCategories = {"slow", "dangerous"};
const std::vector<std::string_view> kAdminCategories = {"admin", "slow", "dangerous"};

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t length = static_cast<size_t>(n);
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && length > 0; --i) --length;  // padding
  out.resize(length);
  return out;
}

}  // namespace

bool Handler::Identify(const Request& req, std::shared_ptr<const acl::User>* user,
                       Response* denied) const {
  acl::Acl& acl = *options_.acl;
  const std::string_view authorization = Trim(req[field::authorization]);
  auto refuse = [&](std::string_view message) {
    *denied = Error(status::unauthorized, message, req.version(), req.keep_alive());
    denied->set(field::www_authenticate, "Basic realm=\"devstate\", Bearer realm=\"devstate\"");
    return false;
  };
  if (authorization.empty()) {
    *user = acl.DefaultUser();
    return *user != nullptr ||
           refuse("authentication required: send Authorization: Basic or Bearer");
  }
  const size_t space = authorization.find(' ');
  const std::string_view scheme = authorization.substr(0, space);
  const std::string_view credentials =
      space == std::string_view::npos ? std::string_view() : Trim(authorization.substr(space + 1));
  std::string name;
  if (EqualsNoCase(scheme, "Basic")) {
    const std::optional<std::string> decoded = DecodeBase64(credentials);
    const size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon != std::string::npos) {
      name = decoded->substr(0, colon);
      *user = acl.Authenticate(name, std::string_view(*decoded).substr(colon + 1));
    }
  } else if (EqualsNoCase(scheme, "Bearer") && !credentials.empty()) {
    name = "(token)";
    *user = acl.AuthenticateToken(credentials);
  } else {
    return refuse("unsupported Authorization scheme: use Basic or Bearer");
  }
  if (*user) return true;
  service_->metrics().auth_failures.fetch_add(1, std::memory_order_relaxed);
  acl::LogEntry entry;
  entry.reason = "auth";
  entry.context = "http";
  entry.object = std::string(scheme);
  entry.username = name;
  acl.Log(std::move(entry), service_->NowMs());
  spdlog::warn("http: failed authentication as '{}' ({} credentials)", name, scheme);
  return refuse("invalid username-password pair, token, or user is disabled");
}

bool Handler::Permits(const acl::User* user, std::string_view command,
                      const std::vector<std::string_view>& categories, std::string_view device_id,
                      bool write) const {
  if (user == nullptr || user->AllowsEverything()) return true;
  const std::string key = device_id.empty() ? std::string() : DeviceKey(device_id);
  std::string_view reason;
  if (!user->AllowsCommand(command, categories)) {
    reason = "command";
  } else if (!key.empty() && !user->AllowsKey(key, write)) {
    reason = "key";
  } else {
    return true;
  }
  acl::LogEntry entry;
  entry.reason = std::string(reason);
  entry.context = "http";
  entry.object = std::string(reason == "key" ? key : command);
  entry.username = user->name;
  options_.acl->Log(std::move(entry), service_->NowMs());
  return false;
}

void Handler::Handle(const Request& req, Reply reply) const {
  const std::string_view target = req.target();
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query = qmark == std::string_view::npos ? "" : target.substr(qmark + 1);
  const auto method = req.method();
  auto error = [&](status code, std::string_view message) {
    reply(Error(code, message, req.version(), req.keep_alive()));
  };
  std::shared_ptr<const acl::User> user;
  if (options_.acl != nullptr && path != "/healthz" && path != "/readyz") {
    Response denied;
    if (!Identify(req, &user, &denied)) return reply(std::move(denied));
  }
  // False (and 403 sent) if the user may not do this.
  auto permit = [&](std::string_view command, const std::vector<std::string_view>& categories,
                    std::string_view device_id, bool write) {
    if (Permits(user.get(), command, categories, device_id, write)) return true;
    error(status::forbidden,
          fmt::format("user '{}' may not {} {}", user->name, req.method_string(),
                      device_id.empty() ? path : std::string_view(DeviceKey(device_id))));
    return false;
  };
  auto only = [&](beast_http::verb allowed, std::string_view allow) {
    if (method == allowed) return true;
    Response res = Error(status::method_not_allowed, fmt::format("use {}", allow), req.version(),
                         req.keep_alive());
    res.set(field::allow, allow);
    reply(std::move(res));
    return false;
  };

  if (path.substr(0, 9) == "/devices/") {
    const std::string_view id = path.substr(9);
    if (id.find('/') != std::string_view::npos) return error(status::not_found, "no such resource");
    if (!ValidDeviceId(id))
      return error(status::bad_request, "device id must match [A-Za-z0-9._:-]{1,128}");
    if (method == beast_http::verb::get) {
      if (permit("get", kGetCategories, id, false)) reply(GetDevice(req, id, query));
      return;
    }
    if (method == beast_http::verb::post) {
      if (permit("set", kSetCategories, id, true)) PostDevice(req, id, std::move(reply));
      return;
    }
    return (void)only(beast_http::verb::get, "GET, POST");
  }
  if (path == "/events") {
    if (only(beast_http::verb::post, "POST") && permit("set", kSetCategories, {}, true)) {
      PostEvents(req, user.get(), std::move(reply));
    }
    return;
  }
  if (path == "/healthz") {
    if (only(beast_http::verb::get, "GET")) reply(Json(req, status::ok, "{\"status\":\"ok\"}"));
    return;
  }
  if (path == "/readyz") {
    if (only(beast_http::verb::get, "GET")) reply(Ready(req));
    return;
  }
  if (path == "/devices") {
    if (only(beast_http::verb::get, "GET") && permit("scan", kScanCategories, {}, false)) {
      reply(ListDevices(req, query));
    }
    return;
  }
  if (path == "/metrics") {
    if (only(beast_http::verb::get, "GET") && permit("info", kInfoCategories, {}, false)) {
      reply(Make(status::ok, service_->MetricsText(), req.version(), req.keep_alive(),
                 "text/plain; version=0.0.4; charset=utf-8"));
    }
    return;
  }
  if (path == "/deadletters") {
    if (only(beast_http::verb::get, "GET") && permit("deadletters", kAdminCategories, {}, false)) {
      reply(GetDeadLetters(req, query));
    }
    return;
  }
  error(status::not_found, "no such resource");
}

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
  if (record->type != kDeviceRecordType) {
    // A value stored over RESP (SET device:<id>:latest ...): served as given.
    const bool json = simdjson::validate_utf8(record->value.data(), record->value.size()) &&
                      record->value.find_first_not_of(" \t\r\n") != std::string::npos &&
                      record->value[record->value.find_first_not_of(" \t\r\n")] == '{';
    return Make(status::ok, record->value, req.version(), req.keep_alive(),
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
    body = "{\"state\":" + record->value +
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
    body = record->value;
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
      if (r->type != kDeviceRecordType || r->ExpiredAt(now)) return;
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

Response Handler::Ready(const Request& req) const {
  const Status store = service_->WriteStatus();
  const MqttState mqtt = service_->mqtt_state();
  const bool ready = store.ok() && (mqtt == MqttState::kConnected || mqtt == MqttState::kDisabled);
  std::string body =
      fmt::format("{{\"ready\":{},\"store\":{},\"mqtt\":\"{}\"}}", ready,
                  store.ok() ? "\"writable\"" : JsonString("refusing writes: " + store.message()),
                  MqttStateName(mqtt));
  return Json(req, ready ? status::ok : status::service_unavailable, std::move(body));
}

}  // namespace devstate::http
