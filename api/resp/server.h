// Server: the RESP listener. One Session per connection, all on `threads` event-loop
// threads (1 by default: on small machines extra threads only add handoffs). Plain TCP
// runs on api::EventLoop (one per thread, connections dealt out in turn); TLS on Asio.
//
// A session parses every command already buffered, runs reads at once and hands writes to
// the commit pipeline, and sends replies in command order, several per write. A read that
// follows a write on the same connection waits for that write's reply (read-your-writes
// in a pipeline). Limits: query buffer, output buffer (a client that does not read its
// replies is disconnected), commands in flight, max clients, idle timeout. A protocol error
// gets an error reply, then the connection is closed.
//
// Start/Stop from one thread; destroy only after the store is closed (late commit
// callbacks post to the server's loops).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/event_loop.h"
#include "api/resp/command_table.h"
#include "store/status.h"

namespace devstate::resp {

class ReadySessions;
class Transport;

// Built from the config table by api::RespServerOptions (api/options.h), the one place
// the resp.* and limits.* keys become fields; no field has a default of its own.
struct ServerOptions {
  std::string bind;
  uint16_t port = 0;  // 0: any free port
  int threads = 0;
  // Plain TCP: each loop polls this long after a turn before it sleeps (api::EventLoop's
  // SetBusyPoll). Not with one CPU to run on, where polling would keep the clients off it.
  std::chrono::microseconds busy_poll{0};
  ServerLimits limits;
  std::shared_ptr<boost::asio::ssl::context> tls;  // set: the listener speaks TLS only
  acl::Acl* acl = nullptr;  // not owned; null: the default user only (no auth)
  // Where clients reach this node (CLUSTER SLOTS, MOVED); empty: the bind address.
  std::string announce_host;
  bool replica_reads_need_readonly = false;  // replication.replica_reads = readonly
};

class Server {
 public:
  Server(DeviceService* service, ServerOptions options);
  ~Server();

  Status Start();
  uint16_t port() const { return port_; }
  void Stop();
  ServerState& state() { return *state_; }

 private:
  class Listener;
  void AcceptReady();  // plain TCP
  void AcceptTls();
  void Open(std::unique_ptr<Transport> io, std::shared_ptr<ReadySessions> ready);  // either kind
  void RunTlsLoop();

  ServerOptions options_;
  acl::Acl own_acl_;                         // used when options_.acl is null
  boost::asio::io_context ioc_;              // TLS connections
  boost::asio::ip::tcp::acceptor acceptor_;  // the listening socket
  std::shared_ptr<ServerState> state_;
  // Plain TCP: one loop per thread, each with its queue of sessions with commit replies.
  std::vector<std::unique_ptr<api::EventLoop>> loops_;
  std::vector<std::shared_ptr<ReadySessions>> loop_ready_;
  std::unique_ptr<Listener> listener_;
  api::EventLoop::Watch* listen_watch_ = nullptr;
  size_t next_loop_ = 0;
  static constexpr std::chrono::milliseconds kAcceptRetry{100};  // after EMFILE and the like
  bool accept_retry_ = false;                 // a retry is scheduled (on the first loop)
  std::shared_ptr<ReadySessions> tls_ready_;  // TLS: sessions with commit replies to take in
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace devstate::resp
