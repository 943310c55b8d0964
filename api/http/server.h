// Server: the HTTP/1.1 listener (Boost.Beast) that feeds requests to a Handler.
//
// One Session per connection, on its own strand. Each connection reads requests ahead of
// its responses (pipelining) up to `max_pipeline` in flight and answers them in order; a
// write completes on whichever thread completes its commit (the committer, a RESP loop
// committing inline, the replication gate's thread) and is posted back to the session's
// strand.
// Bounds: header and body sizes (431/413, then close), a header timeout from the first
// byte of a request, a body timeout, an idle timeout between requests, and a connection
// cap (503, then close). A slow or stuck client only holds its own session.
//
// Start/Stop from one thread. Stop the server before closing the store it serves, and
// destroy it only after the store is closed (late commit callbacks post to its executor).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/http/handler.h"
#include "service/metrics.h"
#include "store/status.h"

namespace devstate::http {

// Built from the config table by api::HttpServerOptions (api/options.h), the one place
// the http.* keys become fields; no field has a default of its own.
struct ServerOptions {
  std::string bind;
  uint16_t port = 0;  // 0: any free port
  int threads = 0;
  size_t max_body_bytes = 0;
  size_t max_header_bytes = 0;
  std::chrono::milliseconds header_timeout{0};
  std::chrono::milliseconds body_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
  size_t max_connections = 0;
  size_t max_pipeline = 0;
  // Event-stream bytes a client may leave unread before it is disconnected (a slow
  // consumer never makes the server buffer without bound).
  size_t max_stream_backlog = 0;
  std::chrono::milliseconds stream_heartbeat{15000};  // a comment line on a quiet stream
  std::shared_ptr<boost::asio::ssl::context> tls;     // set: the listener speaks TLS only
};

struct ServerShared;  // what every session needs: handler, options, counters

class Server {
 public:
  // `metrics` (optional, not owned) receives response and connection counts.
  Server(const Handler* handler, ServerOptions options, Metrics* metrics = nullptr);
  ~Server();

  Status Start();
  uint16_t port() const { return port_; }
  size_t connections() const;
  void Stop();

 private:
  void Accept();

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<ServerShared> shared_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace devstate::http
