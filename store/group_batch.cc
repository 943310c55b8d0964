#include "store/group_batch.h"

#include <algorithm>
#include <cstring>

namespace devstate {

namespace {
// The arena's blocks double from the first to the largest: a group of one event allocates
// a small block, a group of hundreds a few large ones (allocations above jemalloc's thread
// cache, ~32 KiB, each take its arena's lock).
constexpr size_t kFirstBlock = 1024;
constexpr size_t kLargestBlock = 64 * 1024;
}  // namespace

char* GroupBatch::Allocate(size_t n) {
  if (n > arena_left_) {
    arena_block_ = arena_block_ == 0 ? kFirstBlock : std::min(arena_block_ * 2, kLargestBlock);
    const size_t block = std::max(n, arena_block_);
    arena_.push_back(std::make_unique_for_overwrite<char[]>(block));
    arena_next_ = arena_.back().get();
    arena_left_ = block;
  }
  char* at = arena_next_;
  arena_next_ += n;
  arena_left_ -= n;
  return at;
}

void GroupBatch::Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                     std::string_view value) {
  const uint32_t id = cf != nullptr ? cf->GetID() : 0;
  // Look up by a key built in a buffer the batch reuses; the arena copy is made once added.
  probe_.assign(reinterpret_cast<const char*>(&id), sizeof id);
  probe_.append(key);
  const std::string_view id_and_key = probe_;

  if (auto it = index_.find(id_and_key); it != index_.end()) {
    ++coalesced_;
    Held& h = held_[it->second];
    char* to = value.size() <= h.value_room ? const_cast<char*>(h.value.data())
                                            : Allocate(h.value_room = value.size());
    std::memcpy(to, value.data(), value.size());
    h.value = std::string_view(to, value.size());
    return;
  }
  char* bytes = Allocate(id_and_key.size() + value.size());
  std::memcpy(bytes, id_and_key.data(), id_and_key.size());
  std::memcpy(bytes + id_and_key.size(), value.data(), value.size());
  const std::string_view held_key(bytes, id_and_key.size());
  held_.push_back(
      {cf, held_key, std::string_view(bytes + held_key.size(), value.size()), value.size()});
  index_.emplace(held_key, held_.size() - 1);
}

void GroupBatch::Delete(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  Flush();
  if (cf != nullptr) {
    batch_->Delete(cf, key);
  } else {
    batch_->Delete(key);
  }
}

void GroupBatch::DeleteRange(rocksdb::ColumnFamilyHandle* cf, std::string_view begin,
                             std::string_view end) {
  Flush();
  if (cf != nullptr) {
    batch_->DeleteRange(cf, begin, end);
  } else {
    batch_->DeleteRange(begin, end);
  }
}

void GroupBatch::Flush() {
  for (const Held& h : held_) {
    const std::string_view key = h.id_and_key.substr(sizeof(uint32_t));
    if (h.cf != nullptr) {
      batch_->Put(h.cf, key, h.value);
    } else {
      batch_->Put(key, h.value);
    }
  }
  held_.clear();
  index_.clear();
  // The arena's blocks stay: a later Put of this group reuses none of their bytes, but a
  // flush mid-group (a delete, an epoch marker) is rare and the group frees them all.
}

}  // namespace devstate
