// ReadWaiters: readers waiting for a key's record to change (XREAD BLOCK on a replica).
//
// A blocking command that writes (BLPOP, XREADGROUP) waits inside the commit pipeline
// (store/waiters.h) and takes in commit order. A reader changes nothing, so it needs no
// place in that order: it waits here, beside the keyspace, and is woken after a record it
// waits on is published - by the commit pipeline on a primary, by the replication applier
// on a replica - so a wait outlives a change of role. Woken, it reads the keyspace itself.
//
// No lost wake-up: a reader registers (Add) before its first read, so a record published
// after that read wakes it, and one published before it is seen by it.
//
// Wakes run on the publishing thread, outside the keyspace's locks and this registry's:
// a wake must be quick (read a few keys, hand a reply over), must never wait, and may call
// Remove. It may run on two threads at once (a primary's publisher and a FLUSHALL's), and
// once more after Remove returned on another thread; the reader orders its own wakes.
//
// Thread safety: every method is safe from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace devstate {

class ReadWaiters {
 public:
  using Wake = std::function<void()>;

  // Registers a reader of `keys`; `wake` runs after each change of one of them until
  // Remove. Returns its id (never 0).
  uint64_t Add(const std::vector<std::string>& keys, Wake wake) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops waking the reader `id` (a wake already running may finish); false if unknown.
  bool Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // A record was published (put or removed): wakes the readers of `key`, oldest first.
  void Changed(std::string_view key) ABSL_LOCKS_EXCLUDED(mu_);
  // Any record may have changed (FLUSHALL, a full copy installed): wakes every reader.
  void ChangedAll() ABSL_LOCKS_EXCLUDED(mu_);

  // Cheap: the publisher's test before it calls Changed.
  bool empty() const { return count_.load(std::memory_order_acquire) == 0; }
  size_t size() const { return count_.load(std::memory_order_acquire); }

 private:
  struct Reader {
    std::vector<std::string> keys;
    std::shared_ptr<const Wake> wake;
  };
  void Run(const std::vector<std::shared_ptr<const Wake>>& wakes);

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Reader> readers_ ABSL_GUARDED_BY(mu_);
  // Per key, the ids reading it in the order they came.
  absl::flat_hash_map<std::string, std::vector<uint64_t>> by_key_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> count_{0};
};

}  // namespace devstate
