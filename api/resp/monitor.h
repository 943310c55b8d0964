// MONITOR: the connections that watch every command the server runs, each as one line
// (Redis's replicationFeedMonitors): `+<unix seconds>.<micros> [0 <ip:port>] "arg" ...`,
// arguments quoted as Redis's sdscatrepr quotes them and AUTH's redacted. Admin commands
// are not shown, nor commands refused before running or queued in MULTI (EXEC shows them
// as it runs them, then itself), as in Redis. A monitor that leaves more than
// limits.max_pubsub_output_bytes unread is disconnected, as a slow subscriber is.
// Thread-safe; Feed costs one atomic load while nobody monitors.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace devstate::resp {

struct ClientState;

class Monitors {
 public:
  void Add(ClientState* client);
  void Remove(ClientState* client);
  bool any() const { return count_.load(std::memory_order_relaxed) > 0; }
  // Sends `args`, run by the client at `peer`, to every monitor.
  void Feed(std::string_view peer, const std::vector<std::string>& args);

 private:
  mutable std::mutex mu_;
  std::set<ClientState*> clients_;
  std::atomic<size_t> count_{0};
};

// Redis's sdscatrepr: `text` in double quotes, with \\ \" \n \r \t \a \b and \xHH escapes.
void AppendQuoted(std::string* out, std::string_view text);
// The arguments a log may show: AUTH's and HELLO ... AUTH's secrets are "(redacted)".
std::vector<std::string> Redacted(std::string_view command, std::vector<std::string> args);

}  // namespace devstate::resp
