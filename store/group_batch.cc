#include "store/group_batch.h"

#include <cstring>

namespace devstate {

std::string GroupBatch::HeldKey(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  const uint32_t id = cf != nullptr ? cf->GetID() : 0;
  std::string out(sizeof id, '\0');
  std::memcpy(out.data(), &id, sizeof id);
  out.append(key);
  return out;
}

void GroupBatch::Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                     std::string_view value) {
  auto [it, added] = index_.try_emplace(HeldKey(cf, key), held_.size());
  if (added) {
    held_.push_back({cf, std::string(key), std::string(value)});
    return;
  }
  ++coalesced_;
  held_[it->second].value.assign(value);
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
    if (h.cf != nullptr) {
      batch_->Put(h.cf, h.key, h.value);
    } else {
      batch_->Put(h.key, h.value);
    }
  }
  held_.clear();
  index_.clear();
}

}  // namespace devstate
