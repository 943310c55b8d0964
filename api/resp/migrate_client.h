// MigrateClient: MIGRATE's side of the network. A MIGRATE's round trip to its target runs
// on this client's own thread, never on an event loop, one request after another; a
// connection to each host:port is kept for the next MIGRATE there, as Redis keeps its
// migrate sockets: at most kMaxCached, each closed once unused for kIdleClose (INFO's
// migrate_cached_sockets counts them).
//
// Each request does what Redis's migrateCommand does on the wire: [AUTH], SELECT when the
// connection's database is not the one asked for, then one RESTORE-ASKING per key, all
// written at once, then their one-line replies read in turn. The timeout bounds the
// connect and each write and each read. A request whose cached connection fails before
// any reply (the target closed it meanwhile) is tried once more on a new connection.
//
// Written by hand on POSIX sockets with poll() deadlines: Boost.Asio's synchronous calls
// have no deadline, and nothing here needs more than one socket at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace devstate::resp {

class MigrateClient {
 public:
  static constexpr size_t kMaxCached = 64;
  static constexpr std::chrono::seconds kIdleClose{10};

  struct Request {
    std::string host;
    std::string port;  // as given: host:port names the cached connection, as in Redis
    std::chrono::milliseconds timeout{1000};
    std::string auth;  // an AUTH command, encoded; empty for none
    int64_t db = 0;
    std::vector<std::string> restores;  // RESTORE-ASKING commands, encoded, one per key
  };
  struct Outcome {
    std::vector<bool> acked;  // restores[i] was answered +OK
    std::string error;        // the MIGRATE's error reply (no '-', no CRLF); empty: +OK
  };
  using Done = std::function<void(Outcome)>;

  MigrateClient();
  // Requests not served yet are answered with an error; cached connections are closed.
  ~MigrateClient();
  MigrateClient(const MigrateClient&) = delete;
  MigrateClient& operator=(const MigrateClient&) = delete;

  // Serves `request` on the client's thread; `done` runs there.
  void Send(Request request, Done done);

  size_t cached() const;

 private:
  struct Connection {
    int fd = -1;
    int64_t db = -1;  // selected (-1: not known)
    std::chrono::steady_clock::time_point last_use;
    std::string pending;  // bytes read past the last reply line
  };

  void Run();
  Outcome Serve(const Request& r);
  // The cached connection to host:port, or a new one (null, and *error set, on failure).
  Connection* Connect(const Request& r, std::string* error);
  void Close(const std::string& name);
  void CloseIdle();

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<Request, Done>> queue_;     // guarded by mu_
  bool stopping_ = false;                          // guarded by mu_
  size_t cached_ = 0;                              // guarded by mu_: connections_.size()
  std::map<std::string, Connection> connections_;  // the client thread's only
  std::thread thread_;
};

}  // namespace devstate::resp
