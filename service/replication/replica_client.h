// ReplicaClient: this node's link to its primary (DESIGN.md §5), on its own thread and
// io_context. It connects to the primary's RESP port (TLS with replication.tls, verifying
// the primary against tls.ca), authenticates as replication.user, and asks to continue
// from its last position:
//
//   PSYNC devstate <node id> <epoch of last position> <last position> <term> <announce>
//
// The primary answers "+CONTINUE <epoch> <node id> <announce>" or "+FULLSYNC ..." and the
// connection becomes the replication stream: the client feeds it to the Applier (which
// writes, syncs and publishes) and sends the acknowledgements back. Nothing here waits on
// an event loop of the RESP or HTTP servers. A dropped link, a refused handshake, a stream
// error or silence for `timeout` (the primary sends heartbeats) closes the connection and
// reconnects with backoff; the primary then decides again between continuing and a full
// copy. A node that is no longer primary answers "-NOTPRIMARY host:port" when it knows the
// primary: the client reports it (on_redirect), so replicas follow a failover. A journal
// failure here stops acknowledgements (the link stays down, and says why).
//
// Thread safety: Start/Stop from one thread; state() from any.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "service/replication/role_view.h"
#include "store/store.h"

namespace devstate {

struct ReplicaClientOptions {
  std::string host;
  uint16_t port = 0;
  std::string user;  // empty: none
  std::string password;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain TCP
  std::string node_id;
  std::string announce;  // host:resp_port:http_port that clients reach this node at
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{2000};
};

class ReplicaClient {
 public:
  // Called on the client's thread (hand them to another thread): `on_promote` when the
  // primary asks this node to take over (FAILOVER) and it holds everything; `on_redirect`
  // when the node it follows is no longer primary and names the one that is.
  ReplicaClient(Store* store, ReplicaClientOptions options,
                std::function<void(uint64_t epoch)> on_promote,
                std::function<void(const std::string& host, uint16_t port)> on_redirect = {});
  ~ReplicaClient();
  ReplicaClient(const ReplicaClient&) = delete;
  ReplicaClient& operator=(const ReplicaClient&) = delete;

  void Start();
  void Stop();  // closes the link and joins; idempotent
  LinkState state() const;
  const ReplicaClientOptions& options() const { return options_; }

 private:
  class Session;
  void Run();

  Store* const store_;
  const ReplicaClientOptions options_;
  const std::function<void(uint64_t)> on_promote_;
  const std::function<void(const std::string&, uint16_t)> on_redirect_;
  std::unique_ptr<boost::asio::io_context> ioc_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  LinkState state_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  friend class Session;
};

}  // namespace devstate
