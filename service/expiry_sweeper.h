// ExpirySweeper: removes expired keys nobody touches (Redis's active expiry).
//
// A read never returns an expired record, and a write to an expired key deletes it in its
// commit group; but a key that is never touched again would stay in memory and in the
// journal forever. The sweeper walks the keyspace a slice at a time (`keys_per_pass` every
// `interval`), and for the expired keys it finds submits one write of no-op mutations: the
// commit pipeline deletes an expired record it is handed, durably, in commit order (so a
// key rewritten in between is left alone). Start/Stop from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "service/notifier.h"
#include "store/store.h"

namespace devstate {

// The defaults are the config table's (expiry.sweep_interval_ms, expiry.sweep_keys).
struct SweepOptions {
  std::chrono::milliseconds interval{100};  // between passes that found few expired keys
  size_t keys_per_pass = 1000;
};

class ExpirySweeper {
 public:
  // `notifier` (optional) hears an "expired" event for each key removed, once committed.
  ExpirySweeper(Store* store, SweepOptions options, Notifier* notifier = nullptr)
      : store_(store),
        notifier_(notifier),
        interval_(options.interval),
        keys_per_pass_(options.keys_per_pass) {}
  ~ExpirySweeper() { Stop(); }

  void Start();
  void Stop();
  // One pass: scans the next slice and submits deletes for the expired keys in it; returns
  // how many were submitted. Public for tests.
  size_t SweepOnce();
  uint64_t expired() const { return expired_.load(std::memory_order_relaxed); }

 private:
  Store* const store_;
  Notifier* const notifier_;
  const std::chrono::milliseconds interval_;
  const size_t keys_per_pass_;
  uint64_t cursor_ = 0;  // sweeper thread only
  std::atomic<uint64_t> expired_{0};
  std::thread thread_;
  std::mutex mu_;  // guards stopping_
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace devstate
