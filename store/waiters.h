// Waiters: blocking commands (BLPOP, BZPOPMIN ...) waiting inside the commit pipeline for a
// write to one of their keys.
//
// A blocking command first tries to take what it wants in a commit group, as any write
// does. Finding nothing, it registers a Waiter from inside that same group
// (KeyView::Wait), on the committing thread. From then on, each group that writes one of
// its keys calls its `serve` after the group's own writes, in the order the waiters came
// (Redis serves the client that has waited longest first); a waiter that takes something
// is journaled, replicated and acknowledged with that group. Registering, serving and
// cancelling (KeyView::Unwait) all run in commit order on the committing thread, so:
//   - no write falls between a try that found nothing and the registration;
//   - a cancel (timeout, disconnect) either removes the waiter, which then took nothing, or
//     finds it already served, and the taker hears of its element.
//
// Thread safety: Add, Remove and Serve run on the committing thread; TakeAll (a pipeline
// that stops taking writes answers its waiters) and the counts from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/mutation.h"

namespace devstate {

class Waiters {
 public:
  // Registers `waiter`; returns its id (never 0).
  uint64_t Add(Waiter waiter) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the waiter `id`: false when it is not registered (served, or never added).
  bool Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // Serves the waiters of `key`, oldest first, through `view`, until one leaves the key
  // absent (nothing more to take) or every waiter has had its turn (all of them when the
  // key was absent already: removed by the group). A waiter served or
  // gone is removed; the `done` of each one served is appended to *served.
  void Serve(std::string_view key, KeyView& view, std::vector<CommitCallback>* served)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The keys waited on (FLUSHALL wakes them all).
  std::vector<std::string> Keys() const ABSL_LOCKS_EXCLUDED(mu_);
  // Removes every waiter; returns their `done` callbacks.
  std::vector<CommitCallback> TakeAll() ABSL_LOCKS_EXCLUDED(mu_);

  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }
  size_t size() const { return count_.load(std::memory_order_acquire); }

 private:
  void EraseLocked(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Waiter> waiting_ ABSL_GUARDED_BY(mu_);
  // Per key, the ids waiting on it in the order they came.
  std::unordered_map<std::string, std::deque<uint64_t>> by_key_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> count_{0};
};

}  // namespace devstate
