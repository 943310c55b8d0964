#include "store/key_table.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace devstate {

KeyNode* KeyNode::New(uint64_t hash, std::string_view key, RecordPtr record) {
  void* memory = ::operator new(sizeof(KeyNode) + key.size());
  if ((reinterpret_cast<uint64_t>(memory) >> 48) != 0) {
    // The slot's tag lives in these bits; no platform devstate builds for uses them.
    std::fputs("KeyNode: a heap address beyond 48 bits\n", stderr);
    std::abort();
  }
  auto* node = new (memory)
      KeyNode{std::move(record), static_cast<uint32_t>(key.size()), static_cast<uint32_t>(hash)};
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(node + 1), key.data(), key.size());
  return node;
}

void KeyNode::Delete(KeyNode* node) {
  node->~KeyNode();
  ::operator delete(node);
}

KeyTable::~KeyTable() { Clear(); }

void KeyTable::Clear() {
  for (const Slot s : slots_) {
    if (s != 0) KeyNode::Delete(NodeOf(s));
  }
  std::vector<Slot>().swap(slots_);
  mask_ = 0;
  size_ = 0;
}

void KeyTable::Insert(uint64_t hash, KeyNode* node) {
  if (slots_.empty()) {
    Resize(kMinCapacity);
  } else if ((size_ + 1) * 4 > slots_.size() * 3) {
    Resize(slots_.size() * 2);
  }
  Place(SlotOf(hash, node));
  ++size_;
}

void KeyTable::Place(Slot slot) {
  size_t i = HashOf(slot) & mask_;
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = slot;
}

KeyNode* KeyTable::Remove(uint64_t hash, std::string_view key) {
  if (size_ == 0) return nullptr;
  size_t i = hash & mask_;
  for (;; i = (i + 1) & mask_) {
    if (slots_[i] == 0) return nullptr;
    if (Holds(slots_[i], hash, key)) break;
  }
  KeyNode* removed = NodeOf(slots_[i]);
  // Backward shift: pull each later entry of the run into the hole when the hole lies
  // between its home slot and where it sits, so every entry stays reachable from home.
  for (size_t j = (i + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
    const size_t home = HashOf(slots_[j]) & mask_;
    if (((j - home) & mask_) >= ((j - i) & mask_)) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = 0;
  --size_;
  if (size_ == 0) {
    slots_ = std::vector<Slot>();
    mask_ = 0;
  } else if (slots_.size() > kMinCapacity && size_ * 8 < slots_.size()) {
    Resize(slots_.size() / 2);
  }
  return removed;
}

void KeyTable::Resize(size_t capacity) {
  if (capacity - 1 > UINT32_MAX) throw std::length_error("a key table beyond 2^32 slots");
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  mask_ = capacity - 1;
  for (const Slot s : old) {
    if (s != 0) Place(s);
  }
}

}  // namespace devstate
