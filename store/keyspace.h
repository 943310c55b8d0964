// Keyspace: the in-memory map from key to the latest committed Record; it serves every read.
//
// Thread safety: every method is safe to call from any thread. Keys are spread over
// kShards shards, each guarded by its own reader-writer lock held only for the lookup and
// the copy of a shared pointer, so readers never wait on a global lock and never wait for
// the journal. Only the commit pipeline writes, and only after the journal has synced.
//
// Order and cursors: each shard keeps its keys ordered by (hash, key), and shard i holds
// the i-th slice of the hash space, so the whole keyspace is ordered by hash. A scan cursor
// is a position in that order: keys present for the whole of a scan are returned exactly
// once however the keyspace changes in between (the guarantee Redis SCAN gives).
#pragma once

#include <absl/container/btree_set.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>

#include "store/key_table.h"
#include "store/read_waiters.h"
#include "store/record.h"
#include "store/rw_lock.h"

namespace devstate {

// Told of every key's change once it is visible to reads, on the publishing thread and
// outside the keyspace's locks (after the key's ReadWaiters are woken): server-assisted
// client-side caching's invalidations (api/resp/tracking.h). Must be quick and never wait.
class KeyObserver {
 public:
  virtual ~KeyObserver() = default;
  virtual void Changed(std::string_view key) = 0;
  virtual void ChangedAll() = 0;  // every key may have changed (FLUSHALL, a copy installed)
  // The changes told since the last call were one commit's (one group's), and its writers
  // were answered: an observer may have gathered them, to tell them together now.
  virtual void Published() {}
  // While false the publisher skips the call: one load per change when nobody tracks.
  std::atomic<bool> active{false};
};

class Keyspace {
 public:
  static constexpr int kShardBits = 8;
  static constexpr size_t kShards = size_t{1} << kShardBits;

  Keyspace() = default;
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  // The record stored under `key`, or null. Expiry is the caller's business.
  RecordPtr Get(std::string_view key) const;

  // A hint that `keys` are about to be read: loads, for all of them at once, the memory
  // their lookups would miss on (slot, node, record, the value's first line), so a
  // pipeline of reads waits for memory about once instead of four times per key. Looks at
  // the first kPrefetchMax keys; changes nothing.
  static constexpr size_t kPrefetchMax = 64;
  void Prefetch(std::span<const std::string_view> keys) const;

  // Replaces (or inserts) the record under `key`. `record` must not be null.
  void Put(std::string_view key, RecordPtr record);

  // Recovery's Put: the same, except that the key does not join the scan order yet;
  // FinishLoad() rebuilds the order of each shard that was loaded into, from its table,
  // sorted, in one pass. Random inserts into the order's B-tree were half of a 10M-key
  // recovery. Until FinishLoad a Scan misses keys loaded (which a loading store does not
  // serve).
  void Load(std::string_view key, RecordPtr record);
  void FinishLoad();

  // Removes `key`; returns whether it was present.
  bool Erase(std::string_view key);

  // Removes every key (FLUSHALL), shard by shard: a reader meanwhile may see some shards
  // emptied and others not yet, as a SCAN does.
  void Clear();

  // Readers waiting for keys to change (store/read_waiters.h): Put and Erase wake a key's
  // readers once the key's new state is visible, Clear and FinishLoad wake all of them.
  // Synchronised on its own, so a const keyspace lends it.
  ReadWaiters& read_waiters() const { return read_waiters_; }
  // The one observer of changes (null: none). Once this returns with null, no publisher
  // is inside the old observer, which may go. Like the registry above, a const keyspace
  // lends it.
  void SetObserver(KeyObserver* observer) const;
  // A publisher's end of one group's changes (see KeyObserver::Published).
  void Published() const {
    if (observer_.load(std::memory_order_relaxed) != nullptr) Tell(nullptr, true);
  }

  size_t Size() const { return size_.load(std::memory_order_relaxed); }
  // Keys whose record has an expiry time (INFO keyspace's `expires`).
  size_t WithExpiry() const { return with_expiry_.load(std::memory_order_relaxed); }

  // Visits keys in hash order from `cursor` (0 starts a scan) until at least `count` were
  // visited or the keyspace ends. Returns the cursor of the next call, 0 when done.
  using ScanFn = std::function<void(const std::string& key, const RecordPtr& record)>;
  uint64_t Scan(uint64_t cursor, size_t count, const ScanFn& fn) const;

  static uint64_t Hash(std::string_view key);

 private:
  // A key's place in scan order: its hash, and its node in the shard's table (a node
  // never moves while it is in the table).
  struct Position {
    uint64_t hash;
    const KeyNode* node;
  };
  struct Probe {
    uint64_t hash;
    std::string_view key;
  };
  struct Less {
    using is_transparent = void;
    static std::string_view KeyOf(const Position& p) { return p.node->key(); }
    static std::string_view KeyOf(const Probe& p) { return p.key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      if (a.hash != b.hash) return a.hash < b.hash;
      return KeyOf(a) < KeyOf(b);
    }
  };
  struct Shard {
    mutable RwLock mu;
    // Owns keys and records; point reads and writes in O(1).
    KeyTable table ABSL_GUARDED_BY(mu);
    // The same keys in (hash, key) order, which scans and cursors walk.
    // A B-tree: a new key's insert misses the cache a few times instead of once per level
    // of a red-black tree (~20 at 1M keys; that walk was 4% of a SET -P 1 profile), and
    // a key costs ~16 bytes here instead of a 48-byte tree node.
    absl::btree_set<Position, Less> order ABSL_GUARDED_BY(mu);
    // Keys were loaded (Load) that are not in `order` yet.
    bool loaded ABSL_GUARDED_BY(mu) = false;
  };

  void Insert(std::string_view key, RecordPtr record, bool defer_order);

  static size_t ShardOf(uint64_t hash) { return hash >> (64 - kShardBits); }

  std::array<Shard, kShards> shards_;
  mutable ReadWaiters read_waiters_;
  mutable std::atomic<KeyObserver*> observer_{nullptr};
  mutable std::atomic<int> observing_{0};  // publishers inside Tell

  // After a key's change is visible: its readers, then the observer (null key: all).
  void Told(std::string_view key) const {
    if (!read_waiters_.empty()) read_waiters_.Changed(key);
    if (observer_.load(std::memory_order_relaxed) != nullptr) Tell(&key, false);
  }
  void ToldAll() const {
    if (!read_waiters_.empty()) read_waiters_.ChangedAll();
    if (observer_.load(std::memory_order_relaxed) != nullptr) Tell(nullptr, false);
  }
  // Tells the observer of `key`, of every key (null), or of a group's end (`end`).
  void Tell(const std::string_view* key, bool end) const;
  std::atomic<size_t> size_{0};
  std::atomic<size_t> with_expiry_{0};
};

}  // namespace devstate
