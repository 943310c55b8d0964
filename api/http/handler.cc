#include "api/http/handler.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <memory>
#include <optional>

#include "api/http/responses.h"
#include "service/device_record.h"
#include "service/json.h"
#include "service/rfc3339.h"
#include "service/text.h"
#include "service/version.h"

namespace devstate::http {
using namespace internal;  // NOLINT: the file's own helpers

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

bool Handler::Identify(const Request& req, Exchange* exchange,
                       std::shared_ptr<const acl::User>* user, Response* denied) const {
  acl::Acl& acl = *options_.acl;
  const auto now = acl::AuthThrottle::Clock::now();
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
  // An address that spent its failure budget waits for every answer, right or wrong.
  acl::AuthThrottle::Answer answer = acl.throttle().BeforeCheck(exchange->peer, now);
  exchange->answer_delay = answer.wait;
  if (answer.throttled) service_->metrics().auth_throttled.fetch_add(1, std::memory_order_relaxed);
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
  entry.client_info = fmt::format("addr={}", exchange->peer);
  acl.Log(std::move(entry), service_->NowMs());
  spdlog::warn("http: failed authentication as '{}' ({} credentials) from {}", name, scheme,
               exchange->peer);
  // A token names no user: only the address's budget counts it.
  answer = acl.throttle().Failed(exchange->peer, name == "(token)" ? "" : name, now);
  if (!answer.started.empty()) {
    spdlog::warn("auth: failure budget spent by {}their answers are throttled", answer.started);
  }
  if (answer.throttled) service_->metrics().auth_throttled.fetch_add(1, std::memory_order_relaxed);
  exchange->answer_delay = std::max(exchange->answer_delay, answer.wait);
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

void Handler::Handle(const Request& req, Exchange* exchange, Reply reply) const {
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
    if (!Identify(req, exchange, &user, &denied)) return reply(std::move(denied));
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

  // A primary that cannot be sure its lease is its own serves no device data at all.
  if (path.substr(0, 8) == "/devices" || path == "/events") {
    if (const Status serving = service_->ServingStatus(); !serving.ok()) {
      Response res = Error(StatusFor(serving), serving.message(), req.version(), req.keep_alive());
      res.set(field::retry_after, "1");
      return reply(std::move(res));
    }
  }
  if (path.substr(0, 9) == "/devices/" && path.ends_with("/events") && path.size() > 16) {
    const std::string_view id = path.substr(9, path.size() - 16);
    if (!ValidDeviceId(id))
      return error(status::bad_request, "device id must match [A-Za-z0-9._:-]{1,128}");
    if (only(beast_http::verb::get, "GET") && permit("get", kGetCategories, id, false)) {
      auto stream = std::make_shared<EventStream>();
      stream->device_id = id;
      stream->user = user;
      reply(OpenStream(req, std::move(stream), exchange));
    }
    return;
  }
  if (path.substr(0, 9) == "/devices/") {
    const std::string_view id = path.substr(9);
    if (id.find('/') != std::string_view::npos) return error(status::not_found, "no such resource");
    if (!ValidDeviceId(id))
      return error(status::bad_request, "device id must match [A-Za-z0-9._:-]{1,128}");
    if (method == beast_http::verb::get) {
      if (permit("get", kGetCategories, id, false)) {
        Response res = GetDevice(req, id, query);
        // How far this node's copy goes (on a replica: what it holds of the primary's).
        res.set("X-Devstate-Position", std::to_string(service_->JournalPosition()));
        reply(std::move(res));
      }
      return;
    }
    if (method == beast_http::verb::post) {
      if (permit("set", kSetCategories, id, true) && !ToPrimary(req, reply)) {
        PostDevice(req, id, std::move(reply));
      }
      return;
    }
    return (void)only(beast_http::verb::get, "GET, POST");
  }
  if (path == "/events" && method == beast_http::verb::get) {
    if (permit("get", kGetCategories, {}, false)) {
      auto stream = std::make_shared<EventStream>();
      stream->match = QueryParam(query, "match");
      if (stream->match.empty()) stream->match = "*";
      stream->user = user;
      reply(OpenStream(req, std::move(stream), exchange));
    }
    return;
  }
  if (path == "/events") {
    if (only(beast_http::verb::post, "GET, POST") && permit("set", kSetCategories, {}, true) &&
        !ToPrimary(req, reply)) {
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

bool Handler::ToPrimary(const Request& req, const Reply& reply) const {
  if (service_->IsPrimary()) return false;
  const RoleView role = service_->Role();
  if (role.primary_http_port == 0) {
    reply(Error(status::service_unavailable,
                "this node is a replica and does not know its primary's HTTP address yet; retry",
                req.version(), req.keep_alive()));
    return true;
  }
  // 307 keeps the method and the body: the client sends the same write to the primary.
  Response res = Error(status::temporary_redirect, "writes go to the primary", req.version(),
                       req.keep_alive());
  res.set(field::location, fmt::format("{}://{}:{}{}", options_.scheme, role.primary_host,
                                       role.primary_http_port, std::string_view(req.target())));
  reply(std::move(res));
  return true;
}

// Ready: a primary that takes writes (and, with MQTT, is subscribed); a replica that is
// streaming from its primary and not loading a full copy (it serves reads).
Response Handler::Ready(const Request& req) const {
  if (!service_->IsPrimary()) {
    const RoleView role = service_->Role();
    const bool ready = role.link.up && !service_->Loading();
    std::string body = fmt::format(
        "{{\"ready\":{},\"role\":\"replica\",\"link\":{},\"loading\":{}}}", ready,
        role.link.up ? std::string("\"up\"")
                     : JsonString("down" + (role.link.error.empty() ? std::string()
                                                                    : ": " + role.link.error)),
        service_->Loading());
    return Json(req, ready ? status::ok : status::service_unavailable, std::move(body));
  }
  const Status serving = service_->ServingStatus();
  const Status store = serving.ok() ? service_->WriteStatus() : serving;
  const MqttState mqtt = service_->mqtt_state();
  const bool ready = store.ok() && (mqtt == MqttState::kConnected || mqtt == MqttState::kDisabled);
  const std::string mqtt_error = service_->mqtt_error();
  std::string body = fmt::format(
      "{{\"ready\":{},\"store\":{},\"mqtt\":\"{}\",{}\"role\":\"primary\"}}", ready,
      store.ok() ? "\"writable\"" : JsonString("refusing writes: " + store.message()),
      MqttStateName(mqtt),
      mqtt_error.empty() ? std::string() : "\"mqttError\":" + JsonString(mqtt_error) + ",");
  return Json(req, ready ? status::ok : status::service_unavailable, std::move(body));
}

}  // namespace devstate::http
