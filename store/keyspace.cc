#include "store/keyspace.h"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace devstate {

uint64_t Keyspace::Hash(std::string_view key) {
  // The standard library's string hash (8 bytes a step), then a murmur-style finaliser so
  // the top bits (the shard) and the low bits (the bucket) are both well mixed.
  uint64_t h = std::hash<std::string_view>{}(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

RecordPtr Keyspace::Get(std::string_view key) const {
  const uint64_t hash = Hash(key);
  const Shard& shard = shards_[ShardOf(hash)];
  ReadLock lock(&shard.mu);
  const KeyNode* node = shard.table.Find(hash, key);
  return node == nullptr ? nullptr : node->record;
}

void Keyspace::Prefetch(std::span<const std::string_view> keys) const {
  // A lookup is a chain of dependent loads: slot, node, record, value. Each pass below
  // starts one link of the chain for every key and moves on without waiting; by the time
  // the next pass comes back to a key, its line has (mostly) arrived. The keys' misses
  // overlap instead of following one another. Each step holds the shard's lock, since a
  // writer may resize the table or free a node in between.
  uint64_t hashes[kPrefetchMax];
  const size_t n = std::min(keys.size(), kPrefetchMax);
  for (size_t i = 0; i < n; ++i) hashes[i] = Hash(keys[i]);
  auto pass = [&](auto step) {
    for (size_t i = 0; i < n; ++i) {
      const Shard& shard = shards_[ShardOf(hashes[i])];
      ReadLock lock(&shard.mu);
      step(shard.table, i);
    }
  };
  pass([&](const KeyTable& t, size_t i) { t.PrefetchSlot(hashes[i]); });
  pass([&](const KeyTable& t, size_t i) { t.PrefetchNode(hashes[i]); });
  pass([&](const KeyTable& t, size_t i) {
    if (const KeyNode* node = t.Find(hashes[i], keys[i])) PrefetchLine(node->record.get());
  });
  pass([&](const KeyTable& t, size_t i) {
    if (const KeyNode* node = t.Find(hashes[i], keys[i]))
      PrefetchLine(node->record->value().data());
  });
}

void Keyspace::SetObserver(KeyObserver* observer) const {
  observer_.store(observer, std::memory_order_seq_cst);
  if (observer != nullptr) return;
  // A publisher that saw the old one is inside Tell: let it leave first.
  while (observing_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
}

void Keyspace::Tell(const std::string_view* key, bool end) const {
  observing_.fetch_add(1, std::memory_order_seq_cst);
  KeyObserver* o = observer_.load(std::memory_order_seq_cst);
  if (o != nullptr && o->active.load(std::memory_order_relaxed)) {
    if (end) {
      o->Published();
    } else if (key != nullptr) {
      o->Changed(*key);
    } else {
      o->ChangedAll();
    }
  }
  observing_.fetch_sub(1, std::memory_order_seq_cst);
}

void Keyspace::Put(std::string_view key, RecordPtr record) {
  Insert(key, std::move(record), /*defer_order=*/false);
  Told(key);
}

void Keyspace::Load(std::string_view key, RecordPtr record) {
  Insert(key, std::move(record), /*defer_order=*/true);
}

void Keyspace::FinishLoad() {
  // Shards are independent: a few threads share them (a fifth of a 10M-key recovery).
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::vector<Position> positions;
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < kShards;) {
      Shard& shard = shards_[i];
      WriteLock lock(&shard.mu);
      if (!shard.loaded) continue;
      shard.loaded = false;
      positions.clear();
      positions.reserve(shard.table.size());
      shard.table.ForEach([&](const KeyNode* node) {
        positions.push_back(Position{Hash(node->key()), node});
      });
      std::sort(positions.begin(), positions.end(), Less());
      // Sorted input: each insert lands at the end hint (no search), and each leaf is left
      // full when the next one starts.
      shard.order.clear();
      for (const Position& p : positions) shard.order.insert(shard.order.end(), p);
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& h : helpers) h.join();
  ToldAll();
}

void Keyspace::Insert(std::string_view key, RecordPtr record, bool defer_order) {
  const uint64_t hash = Hash(key);
  Shard& shard = shards_[ShardOf(hash)];
  RecordPtr old;  // released outside the lock
  {
    WriteLock lock(&shard.mu);
    const bool expires = record->expire_at_ms() != 0;
    if (KeyNode* node = shard.table.Find(hash, key); node != nullptr) {
      old = std::move(node->record);
      node->record = std::move(record);
      const bool expired_before = old->expire_at_ms() != 0;
      if (expires != expired_before) {
        if (expires) {
          with_expiry_.fetch_add(1, std::memory_order_relaxed);
        } else {
          with_expiry_.fetch_sub(1, std::memory_order_relaxed);
        }
      }
      return;
    }
    KeyNode* node = KeyNode::New(hash, key, std::move(record));
    shard.table.Insert(hash, node);
    if (defer_order) {
      shard.loaded = true;
    } else {
      shard.order.insert(Position{hash, node});
    }
    if (expires) with_expiry_.fetch_add(1, std::memory_order_relaxed);
  }
  size_.fetch_add(1, std::memory_order_relaxed);
}

bool Keyspace::Erase(std::string_view key) {
  const uint64_t hash = Hash(key);
  Shard& shard = shards_[ShardOf(hash)];
  RecordPtr old;
  {
    WriteLock lock(&shard.mu);
    KeyNode* node = shard.table.Remove(hash, key);
    if (node == nullptr) return false;
    old = std::move(node->record);
    if (old->expire_at_ms() != 0) with_expiry_.fetch_sub(1, std::memory_order_relaxed);
    // Before the key it views goes away.
    if (auto it = shard.order.find(Probe{hash, key}); it != shard.order.end()) {
      shard.order.erase(it);
    }  // else loaded, not ordered yet
    KeyNode::Delete(node);
  }
  size_.fetch_sub(1, std::memory_order_relaxed);
  Told(key);
  return true;
}

void Keyspace::Clear() {
  for (Shard& shard : shards_) {
    size_t removed = 0;
    size_t expiring = 0;
    {
      WriteLock lock(&shard.mu);
      removed = shard.table.size();
      shard.table.ForEach(
          [&](const KeyNode* node) { expiring += node->record->expire_at_ms() != 0; });
      shard.order.clear();
      shard.loaded = false;
      shard.table.Clear();
    }
    size_.fetch_sub(removed, std::memory_order_relaxed);
    with_expiry_.fetch_sub(expiring, std::memory_order_relaxed);
  }
  ToldAll();
}

uint64_t Keyspace::Scan(uint64_t cursor, size_t count, const ScanFn& fn) const {
  if (count == 0) count = 1;
  size_t visited = 0;
  std::vector<std::pair<std::string, RecordPtr>> batch;
  for (size_t s = ShardOf(cursor); s < kShards; ++s) {
    const Shard& shard = shards_[s];
    batch.clear();
    uint64_t last_hash = 0;
    bool stopped = false;
    {
      ReadLock lock(&shard.mu);
      auto it = shard.order.lower_bound(Probe{cursor, std::string_view()});
      for (; it != shard.order.end(); ++it) {
        // Never split the keys of one hash between two calls: the cursor names a hash.
        if (visited + batch.size() >= count && it->hash != last_hash) {
          stopped = true;
          break;
        }
        last_hash = it->hash;
        batch.emplace_back(std::string(it->node->key()), it->node->record);
      }
    }
    // Visit outside the lock, so a slow visitor never blocks the committer.
    for (const auto& [key, record] : batch) fn(key, record);
    visited += batch.size();
    if (stopped) return last_hash + 1;  // last_hash < 2^64-1 here: a key follows it
    if (visited >= count && s + 1 < kShards) return (uint64_t{s} + 1) << (64 - kShardBits);
    cursor = 0;  // later shards are scanned from their start
  }
  return 0;
}

}  // namespace devstate
