#include "service/list_value.h"

#include <boost/endian/conversion.hpp>
#include <cstring>

#include "service/record_types.h"

namespace devstate {
namespace {

// An element's field name: its id, big-endian (the journal's field keys then sort in
// list order within a run of ids, though nothing relies on it).
std::string IdName(uint64_t id) {
  const uint64_t be = boost::endian::native_to_big(id);
  return std::string(reinterpret_cast<const char*>(&be), sizeof be);
}

uint64_t HeadOf(std::string_view meta) {
  uint64_t le = 0;
  if (meta.size() == sizeof le) std::memcpy(&le, meta.data(), sizeof le);
  return boost::endian::little_to_native(le);
}

std::string HeadMeta(uint64_t head) {
  const uint64_t le = boost::endian::native_to_little(head);
  return std::string(reinterpret_cast<const char*>(&le), sizeof le);
}

// An element that must be there (ids are dense); a missing one reads as empty rather than
// taking the process down.
std::string_view ElementAt(const FieldMap& fields, uint64_t id) {
  return fields.Find(IdName(id)).value_or(std::string_view());
}

}  // namespace

ListEdit::ListEdit(const RecordPtr& current, bool reusable)
    : fields_(FieldsForEdit(current, reusable)) {
  if (current) {
    expire_at_ms_ = current->expire_at_ms();
    head_ = HeadOf(current->meta());
  }
}

std::string_view ListEdit::At(size_t index) const { return ElementAt(*fields_, head_ + index); }

void ListEdit::Put(uint64_t id, std::string_view value) {
  ops_.push_back({IdName(id), std::string(value), false});
  fields_->Set(ops_.back().name, ops_.back().value);
}

void ListEdit::Erase(uint64_t id) {
  ops_.push_back({IdName(id), {}, true});
  fields_->Erase(ops_.back().name);
}

void ListEdit::PushFront(std::string_view value) { Put(--head_, value); }
void ListEdit::PushBack(std::string_view value) { Put(head_ + size(), value); }

std::string ListEdit::PopFront() {
  std::string value(At(0));
  Erase(head_++);
  return value;
}

std::string ListEdit::PopBack() {
  const uint64_t last = head_ + size() - 1;
  std::string value(ElementAt(*fields_, last));
  Erase(last);
  return value;
}

void ListEdit::Set(size_t index, std::string_view value) { Put(head_ + index, value); }

void ListEdit::Replace(size_t from, size_t to, const std::vector<std::string>& with) {
  const size_t n = size();
  const size_t removed = to - from;
  if (with.size() == removed) {
    for (size_t i = 0; i < with.size(); ++i) Set(from + i, with[i]);
    return;
  }
  if (from <= n - to) {
    // Move the head side: the elements after the range keep their ids.
    std::vector<std::string> before;
    before.reserve(from);
    for (size_t i = 0; i < from; ++i) before.emplace_back(At(i));
    const uint64_t old_head = head_;
    head_ = head_ + removed - with.size();  // mod 2^64
    for (size_t i = 0; i < before.size(); ++i) Put(head_ + i, before[i]);
    for (size_t i = 0; i < with.size(); ++i) Put(head_ + from + i, with[i]);
    // Shrunk: the ids before the new head are no longer elements.
    for (uint64_t id = old_head; id != head_ && removed > with.size(); ++id) Erase(id);
    return;
  }
  // Move the tail side: the elements before the range keep their ids.
  std::vector<std::string> after;
  after.reserve(n - to);
  for (size_t i = to; i < n; ++i) after.emplace_back(At(i));
  for (size_t i = 0; i < with.size(); ++i) Set(from + i, with[i]);
  for (size_t i = 0; i < after.size(); ++i) Set(from + with.size() + i, after[i]);
  const size_t new_size = n - removed + with.size();
  for (size_t i = new_size; i < n; ++i) Erase(head_ + i);
}

Change ListEdit::Finish(bool touch) {
  if (ops_.empty() && (!touch || fields_->empty())) return Change::None();
  if (fields_->empty()) return Change::Delete();
  RecordPtr record = Record::Make({.type = kListRecordType,
                                   .expire_at_ms = expire_at_ms_,
                                   .meta = HeadMeta(head_),
                                   .fields = std::move(fields_)});
  return Change::Patch(std::move(record), std::move(ops_));
}

ListView::ListView(const Record& list) : fields_(*list.fields()), head_(HeadOf(list.meta())) {}

std::string_view ListView::At(size_t index) const { return ElementAt(fields_, head_ + index); }

bool ListIndex(int64_t index, size_t size, size_t* at) {
  const auto n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return false;
  *at = static_cast<size_t>(index);
  return true;
}

}  // namespace devstate
