// SlowLog: the RESP commands that ran longer than a threshold, newest first, as Redis's
// SLOWLOG keeps them (slowlog-log-slower-than, slowlog-max-len).
//
// A command's time is what its handler took on the connection's thread: a read's lookup,
// a write's parsing and hand-off to the commit pipeline, not the commit it waits for (as
// Redis's own slow log leaves out the fsync of appendfsync always). Arguments are kept as
// Redis keeps them: at most kMaxArgs (the last one saying how many more there were), each
// at most kMaxArgBytes (saying how many more bytes). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace devstate::resp {

class SlowLog {
 public:
  static constexpr size_t kMaxArgs = 32;
  static constexpr size_t kMaxArgBytes = 128;

  struct Entry {
    uint64_t id = 0;
    int64_t unix_seconds = 0;
    int64_t micros = 0;
    std::vector<std::string> args;
    std::string peer;  // ip:port
    std::string name;  // CLIENT SETNAME
  };

  // Below 0: nothing is logged; 0: every command.
  std::atomic<int64_t> slower_than_us{10000};
  std::atomic<int64_t> max_len{128};

  // Whether a command that took `micros` is logged.
  bool Slow(int64_t micros) const {
    const int64_t threshold = slower_than_us.load(std::memory_order_relaxed);
    return threshold >= 0 && micros >= threshold;
  }
  // `args` as an entry keeps them (see the header).
  static std::vector<std::string> Kept(const std::vector<std::string>& args);
  void Add(int64_t unix_seconds, int64_t micros, std::vector<std::string> kept_args,
           std::string peer, std::string name);
  // The newest `count` entries (all when negative), newest first.
  std::vector<Entry> Newest(int64_t count) const;
  size_t size() const;
  void Reset();

 private:
  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // newest first
  uint64_t next_id_ = 0;
};

}  // namespace devstate::resp
