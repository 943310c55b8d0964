#include "store/keyspace.h"

#include <mutex>
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
  std::shared_lock lock(shard.mu);
  auto it = shard.table.find(Probe{hash, key});
  return it == shard.table.end() ? nullptr : it->second;
}

void Keyspace::Put(std::string_view key, RecordPtr record) {
  const uint64_t hash = Hash(key);
  Shard& shard = shards_[ShardOf(hash)];
  RecordPtr old;  // released outside the lock
  {
    std::unique_lock lock(shard.mu);
    const bool expires = record->expire_at_ms != 0;
    auto it = shard.table.find(Probe{hash, key});
    if (it != shard.table.end()) {
      old = std::move(it->second);
      it->second = std::move(record);
      const bool expired_before = old->expire_at_ms != 0;
      if (expires != expired_before) {
        if (expires) {
          with_expiry_.fetch_add(1, std::memory_order_relaxed);
        } else {
          with_expiry_.fetch_sub(1, std::memory_order_relaxed);
        }
      }
      return;
    }
    auto node = shard.table.emplace(StoredKey{hash, std::string(key)}, std::move(record)).first;
    shard.order.insert(Position{hash, node->first.key, &node->second});
    if (expires) with_expiry_.fetch_add(1, std::memory_order_relaxed);
  }
  size_.fetch_add(1, std::memory_order_relaxed);
}

bool Keyspace::Erase(std::string_view key) {
  const uint64_t hash = Hash(key);
  Shard& shard = shards_[ShardOf(hash)];
  RecordPtr old;
  {
    std::unique_lock lock(shard.mu);
    auto it = shard.table.find(Probe{hash, key});
    if (it == shard.table.end()) return false;
    old = std::move(it->second);
    if (old->expire_at_ms != 0) with_expiry_.fetch_sub(1, std::memory_order_relaxed);
    shard.order.erase(shard.order.find(Probe{hash, key}));  // before the key it views goes away
    shard.table.erase(it);
  }
  size_.fetch_sub(1, std::memory_order_relaxed);
  return true;
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
      std::shared_lock lock(shard.mu);
      auto it = shard.order.lower_bound(Probe{cursor, std::string_view()});
      for (; it != shard.order.end(); ++it) {
        // Never split the keys of one hash between two calls: the cursor names a hash.
        if (visited + batch.size() >= count && it->hash != last_hash) {
          stopped = true;
          break;
        }
        last_hash = it->hash;
        batch.emplace_back(std::string(it->key), *it->record);
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
