// Server: the HTTP/1.1 listener (Boost.Beast) that feeds requests to a Handler.
//
// One Session per connection, on its own strand. Each connection reads requests ahead of
// its responses (pipelining) up to `max_pipeline` in flight and answers them in order; a
// write that completes on the committer thread is posted back to the session's strand.
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

struct ServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  int threads = 2;
  size_t max_body_bytes = 8 << 20;
  size_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  size_t max_connections = 10000;
  size_t max_pipeline = 16;
  std::chrono::milliseconds auth_failure_delay{200};  // a 401 for wrong credentials waits this long
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
