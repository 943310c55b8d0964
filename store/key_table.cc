#include "store/key_table.h"

#include <cstring>
#include <new>
#include <utility>

namespace devstate {

KeyNode* KeyNode::New(uint64_t hash, std::string_view key, RecordPtr record) {
  void* memory = ::operator new(sizeof(KeyNode) + key.size());
  auto* node = new (memory) KeyNode{hash, std::move(record), key.size()};
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(node + 1), key.data(), key.size());
  return node;
}

void KeyNode::Delete(KeyNode* node) {
  node->~KeyNode();
  ::operator delete(node);
}

KeyTable::~KeyTable() { Clear(); }

void KeyTable::Clear() {
  for (const Slot& s : slots_) {
    if (s.node != nullptr) KeyNode::Delete(s.node);
  }
  std::vector<Slot>().swap(slots_);
  mask_ = 0;
  size_ = 0;
}

void KeyTable::Insert(KeyNode* node) {
  if (slots_.empty()) {
    Resize(kMinCapacity);
  } else if ((size_ + 1) * 4 > slots_.size() * 3) {
    Resize(slots_.size() * 2);
  }
  Place(node);
  ++size_;
}

void KeyTable::Place(KeyNode* node) {
  size_t i = node->hash & mask_;
  while (slots_[i].node != nullptr) i = (i + 1) & mask_;
  slots_[i] = Slot{node->hash, node};
}

KeyNode* KeyTable::Remove(uint64_t hash, std::string_view key) {
  if (size_ == 0) return nullptr;
  size_t i = hash & mask_;
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].node == nullptr) return nullptr;
    if (slots_[i].hash == hash && slots_[i].node->key() == key) break;
  }
  KeyNode* removed = slots_[i].node;
  // Backward shift: pull each later entry of the run into the hole when the hole lies
  // between its home slot and where it sits, so every entry stays reachable from home.
  for (size_t j = (i + 1) & mask_; slots_[j].node != nullptr; j = (j + 1) & mask_) {
    const size_t home = slots_[j].hash & mask_;
    if (((j - home) & mask_) >= ((j - i) & mask_)) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
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
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  mask_ = capacity - 1;
  for (const Slot& s : old) {
    if (s.node != nullptr) Place(s.node);
  }
}

}  // namespace devstate
