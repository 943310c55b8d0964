// KeyTable: the hash table inside each Keyspace shard, from key to its KeyNode.
//
// Open addressing with linear probing. Each slot holds the key's full hash beside the node
// pointer, so a lookup reads one line of the slot array and then, only on a hash match,
// the node, whose key is stored inline after it. A hit costs two cache misses where
// std::unordered_map costs four (the bucket, the node before, the node, the key's heap
// buffer): with a million keys, the misses are most of a GET's cost.
//
// Erasure shifts later slots of the probe run back (no tombstones), so lookups never slow
// down with churn. The table grows at 3/4 full and shrinks below 1/8.
//
// Ownership: the table owns its nodes; Erase and the destructor free them. A node's address
// never changes while it is in the table (a resize moves only slots), so the shard's scan
// order may point at it. Not thread-safe: the shard's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "store/record.h"

namespace devstate {

// Starts loading the cache line at `p`. GCC treats __builtin_prefetch as free of effects
// and drops it, with the loop that computed `p`, when nothing else uses the result; a
// volatile asm is never dropped.
inline void PrefetchLine(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
  asm volatile("" : : "r"(p) : "memory");
#endif
}

struct KeyNode {
  uint64_t hash;
  RecordPtr record;
  size_t key_size;

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }

  // One allocation: the node, then the key's bytes.
  static KeyNode* New(uint64_t hash, std::string_view key, RecordPtr record);
  static void Delete(KeyNode* node);
};

class KeyTable {
 public:
  KeyTable() = default;
  ~KeyTable();
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  // The node of `key` (whose hash is `hash`), or null.
  KeyNode* Find(uint64_t hash, std::string_view key) const {
    if (size_ == 0) return nullptr;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.node == nullptr) return nullptr;
      if (s.hash == hash && s.node->key() == key) return s.node;
    }
  }

  // Prefetch stages (see Keyspace::Prefetch): start loading the slot line a lookup of
  // `hash` reads first, then, once it is cached, the node its first hash match names.
  void PrefetchSlot(uint64_t hash) const {
    if (size_ != 0) PrefetchLine(&slots_[hash & mask_]);
  }
  void PrefetchNode(uint64_t hash) const {
    if (size_ == 0) return;
    for (size_t i = hash & mask_; slots_[i].node != nullptr; i = (i + 1) & mask_) {
      if (slots_[i].hash == hash) return PrefetchLine(slots_[i].node);
    }
  }

  // Takes `node`, whose key must not be in the table.
  void Insert(KeyNode* node);

  // Deletes every node.
  void Clear();

  // Removes the node of `key` and hands it back (the caller deletes it), or null.
  KeyNode* Remove(uint64_t hash, std::string_view key);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t hash = 0;
    KeyNode* node = nullptr;  // null: empty
  };

  static constexpr size_t kMinCapacity = 16;

  void Place(KeyNode* node);
  void Resize(size_t capacity);

  std::vector<Slot> slots_;  // a power of two in size, or empty
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace devstate
