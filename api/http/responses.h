// Response helpers shared by the HTTP handler's files (private to api/http): the one place
// a store error becomes an HTTP status, and how JSON responses and errors are built.
#pragma once

#include <boost/beast/http.hpp>
#include <string>
#include <string_view>

#include "api/http/handler.h"
#include "service/json.h"
#include "service/text.h"

namespace devstate::http::internal {

using beast_http::field;
using beast_http::status;

// The ACL categories of the Redis commands the routes are checked as.
inline const std::vector<std::string_view> kGetCategories = {"read", "string", "fast"};
inline const std::vector<std::string_view> kSetCategories = {"write", "string", "slow"};
inline const std::vector<std::string_view> kScanCategories = {"keyspace", "read", "slow"};
inline const std::vector<std::string_view> kInfoCategories = {"slow", "dangerous"};
inline const std::vector<std::string_view> kAdminCategories = {"admin", "slow", "dangerous"};

using beast_http::field;
using beast_http::status;

inline Response Make(status code, std::string body, unsigned version, bool keep_alive,
                     std::string_view content_type = "application/json") {
  Response res{code, version};
  res.set(field::server, "devstate");
  res.set(field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

inline Response Json(const Request& req, status code, std::string body) {
  return Make(code, std::move(body), req.version(), req.keep_alive());
}

// Maps a store error to its HTTP status: the one place this is decided.
inline status StatusFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kWriteRefused:
    case Status::Code::kIOError:
    case Status::Code::kShutdown:
    case Status::Code::kNoReplicas:
    case Status::Code::kFenced:
      return status::service_unavailable;
    case Status::Code::kNotPrimary:
      return status::service_unavailable;  // the server answers a redirect before this
    case Status::Code::kNoSpace:
      return status::insufficient_storage;  // 507: writes resume once the disk has room
    case Status::Code::kWrongType:
      return status::conflict;  // the key holds something that is not a device record
    default:
      return status::internal_server_error;
  }
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// application/json (any parameters), application/*+json, and with `ndjson` also
// application/x-ndjson and application/ndjson.
inline bool AcceptsContentType(const Request& req, bool ndjson) {
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

inline std::string_view QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : pair.substr(eq + 1);
  }
  return {};
}

inline std::string ErrorBody(std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(&body, message);
  body.push_back('}');
  return body;
}

inline bool ETagMatches(std::string_view if_none_match, std::string_view etag) {
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
void AppendPayloadHead(std::string* out, std::string_view head);

}  // namespace devstate::http::internal
