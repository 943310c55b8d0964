// KeyTable: the hash table inside each Keyspace shard, from key to its KeyNode.
//
// Open addressing with linear probing. Each slot is 8 bytes: the node's pointer, with 16
// bits of the key's hash (bits 32-47) in the pointer's unused top bits; the node keeps the
// hash's low 32 bits (its home slot) beside the key stored inline after it. A lookup reads
// one line of the slot array and then, only on a tag match, the node. A hit costs two
// cache misses where std::unordered_map costs four (the bucket, the node before, the node,
// the key's heap buffer): with a million keys, the misses are most of a GET's cost. Packing
// the tag into the pointer halves the slot (16 bytes a key less, at the table's load).
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

// A key and its record: 16 bytes, then the key's.
struct KeyNode {
  RecordPtr record;
  uint32_t key_size;
  uint32_t hash_low;  // the key's hash, low 32 bits: its home slot in any table size

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }

  // One allocation: the node, then the key's bytes. Keys are at most 512 MiB (RESP's
  // proto-max-bulk-len), far below the 32-bit size.
  static KeyNode* New(uint64_t hash, std::string_view key, RecordPtr record);
  static void Delete(KeyNode* node);
};
static_assert(sizeof(KeyNode) == 16);

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
      if (slots_[i] == 0) return nullptr;
      if (Holds(slots_[i], hash, key)) return NodeOf(slots_[i]);
    }
  }

  // Prefetch stages (see Keyspace::Prefetch): start loading the slot line a lookup of
  // `hash` reads first, then, once it is cached, the node its first tag match names.
  void PrefetchSlot(uint64_t hash) const {
    if (size_ != 0) PrefetchLine(&slots_[hash & mask_]);
  }
  void PrefetchNode(uint64_t hash) const {
    if (size_ == 0) return;
    for (size_t i = hash & mask_; slots_[i] != 0; i = (i + 1) & mask_) {
      if ((slots_[i] & kTagMask) == Tag(hash)) return PrefetchLine(NodeOf(slots_[i]));
    }
  }

  // Calls fn(node) for every node, in slot order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const Slot s : slots_) {
      if (s != 0) fn(static_cast<const KeyNode*>(NodeOf(s)));
    }
  }

  // Takes `node` (made with `hash`), whose key must not be in the table.
  void Insert(uint64_t hash, KeyNode* node);

  // Deletes every node.
  void Clear();

  // Removes the node of `key` and hands it back (the caller deletes it), or null.
  KeyNode* Remove(uint64_t hash, std::string_view key);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }

 private:
  // A node's pointer in the low 48 bits (user-space addresses on x86-64 and arm64 fit in
  // 47 or 48), the tag in the top 16; 0 is empty.
  using Slot = uint64_t;
  static constexpr uint64_t kTagMask = uint64_t{0xFFFF} << 48;
  static uint64_t Tag(uint64_t hash) { return ((hash >> 32) & 0xFFFF) << 48; }
  static KeyNode* NodeOf(Slot s) { return reinterpret_cast<KeyNode*>(s & ~kTagMask); }
  static Slot SlotOf(uint64_t hash, KeyNode* node) {
    return reinterpret_cast<uint64_t>(node) | Tag(hash);
  }
  // Whether slot `s` (not empty) holds `key`, whose hash is `hash`: the tag first, then
  // the node's low bits and key.
  static bool Holds(Slot s, uint64_t hash, std::string_view key) {
    return (s & kTagMask) == Tag(hash) && NodeOf(s)->hash_low == static_cast<uint32_t>(hash) &&
           NodeOf(s)->key() == key;
  }
  // A slot's full home position needs only the node's low hash bits (mask_ < 2^32).
  static uint64_t HashOf(Slot s) { return (s & kTagMask) >> 16 | NodeOf(s)->hash_low; }

  static constexpr size_t kMinCapacity = 16;

  void Place(Slot slot);
  void Resize(size_t capacity);

  std::vector<Slot> slots_;  // a power of two in size, or empty
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace devstate
