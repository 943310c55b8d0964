// Handler: devstate's HTTP API as a function from a request to a response, with no sockets
// (the server in server.h does the I/O). Unit tests call it directly against a fake
// DeviceService.
//
//   POST /devices/<id>      one event             200 {"version":N,"stale":bool} after commit
//   POST /events            JSON array or NDJSON  200 per-item results, one commit
//   GET  /devices/<id>      the state object      ETag "<version>", If-None-Match -> 304
//   GET  /devices/<id>?view=meta                  state plus per-field times, version, updatedAt
//   GET  /devices?cursor=C&limit=N               device ids, paged; stable under writes
//   GET  /deadletters?limit=N                     newest dead letters, and the total
//   GET  /devices/<id>/events  Server-Sent Events: the current state, then every change
//   GET  /events?match=<glob>  Server-Sent Events: every change of the matching devices
//   GET  /healthz, /readyz, /metrics (Prometheus text format)
//
// With an Acl, a request names its user with `Authorization: Basic` (user:password) or
// `Bearer <token>`; without credentials it is the default user if that needs no password,
// else 401. Each route is checked as the Redis command it resembles, so one ACL rules
// both protocols: GET /devices/<id> as GET on device:<id>:latest, POST /devices/<id> and
// every event of POST /events as SET on its key, GET /devices as SCAN, /metrics as INFO,
// /deadletters as an admin command; 403 when the user may not. /healthz and /readyz are
// open (probes carry no credentials).
//
// Errors are JSON {"error": "..."} with 400, 404, 405, 409, 411, 413, 415 or 503. The
// Handler is thread-safe; each thread keeps its own event parser.
#pragma once

#include <atomic>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/acl.h"
#include "service/device_service.h"
#include "service/event.h"

namespace devstate::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
// Called exactly once per request: at once for reads and errors, from the thread that
// completes the commit for writes (so it must only hand the response over, not write it).
using Reply = std::function<void(Response)>;

// Built from the config table by api::HttpHandlerOptions (api/options.h).
struct HandlerOptions {
  EventLimits limits;
  size_t max_batch_events = 0;
  acl::Acl* acl = nullptr;  // not owned; null: no authentication, every request allowed
  // The scheme of the primary's HTTP address in a replica's redirects (http.tls).
  std::string scheme = "http";
};

class Handler {
 public:
  Handler(DeviceService* service, HandlerOptions options) : service_(service), options_(options) {}

  // A Server-Sent Events stream (text/event-stream) a request opened: which devices it
  // follows, as whom. Each change of such a device, once committed, is one event whose id
  // is the device's version and whose data is {"deviceId","version","state"}.
  struct EventStream {
    std::string device_id;                  // one device (GET /devices/<id>/events), or
    std::string match;                      // a glob over device ids (GET /events?match=)
    std::shared_ptr<const acl::User> user;  // null: no ACL
    // The newest version already sent (or Last-Event-ID); raised by whichever thread sends.
    std::atomic<uint64_t> last_version{0};
    // Whether this stream carries a change of `device_id` (it matches, and the user may
    // read the device's key).
    bool Wants(std::string_view device_id) const;
    // Whether `version` is newer than what was sent (it is then taken as sent).
    bool Advance(uint64_t version);
    // An event's bytes on the wire.
    static std::string Frame(uint64_t version, std::string_view data);
  };

  // What the server knows of a request beyond its bytes, and what the handler tells it back.
  struct Exchange {
    std::string_view peer;  // the client's address (no port), for the failure budget
    // Set when the answer must wait (wrong credentials, or an address that spent its
    // authentication failure budget: acl::AuthThrottle); the server holds it this long.
    std::chrono::milliseconds answer_delay{0};
    // Set when the response opens an event stream: the server writes its head (and the
    // events in its body), then the stream's events as they come (Watch), until the client
    // leaves; no further request is read on the connection.
    std::shared_ptr<EventStream> stream;
  };

  // Calls `send` (on the thread that completes a commit: it must hand the frame to its own
  // executor) with each event `stream` carries, until Unwatch.
  uint64_t Watch(std::shared_ptr<EventStream> stream, std::function<void(std::string)> send) const;
  void Unwatch(uint64_t id) const;
  // A one-device stream's current state as an event, if newer than what it sent (else
  // empty). Called once more after Watch, so no change between the response and the
  // watch is missed; a change seen both ways is sent once.
  std::string CatchUp(EventStream& stream) const;

  void Handle(const Request& request, Exchange* exchange, Reply reply) const;
  void Handle(const Request& request, Reply reply) const {
    Exchange exchange;
    Handle(request, &exchange, std::move(reply));
  }

  // A JSON error response: {"error": message}.
  static Response Error(beast_http::status status, std::string_view message, unsigned version,
                        bool keep_alive);

 private:
  // The user a request's credentials name; false (with `denied` set to a 401) if it has
  // none and needs them, or they are wrong.
  bool Identify(const Request& request, Exchange* exchange, std::shared_ptr<const acl::User>* user,
                Response* denied) const;
  // Whether `user` (null: no ACL) may run `command` on the key of `device_id` (empty: no
  // key); logs a denial.
  bool Permits(const acl::User* user, std::string_view command,
               const std::vector<std::string_view>& categories, std::string_view device_id,
               bool write) const;
  void PostDevice(const Request& request, std::string_view id, Reply reply) const;
  void PostEvents(const Request& request, const acl::User* user, Reply reply) const;
  Response GetDevice(const Request& request, std::string_view id, std::string_view query) const;
  // GET /devices/<id>/events and GET /events (handler_events.cc).
  Response OpenStream(const Request& request, std::shared_ptr<EventStream> stream,
                      Exchange* exchange) const;
  // On a replica: a write's answer (307 to the primary, or 503 while it is unknown); false
  // on the primary, which takes the write itself.
  bool ToPrimary(const Request& request, const Reply& reply) const;
  Response GetDeadLetters(const Request& request, std::string_view query) const;
  Response ListDevices(const Request& request, std::string_view query) const;
  Response Ready(const Request& request) const;
  EventParser& Parser() const;

  DeviceService* const service_;
  const HandlerOptions options_;
};

}  // namespace devstate::http
