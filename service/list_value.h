// A Redis list as a composite record (store/fields.h), so that a command's journal cost
// follows what it changes: LPUSH of one element on a 100k-element list journals that
// element and the record's header, never the list.
//
// Layout: element i lives in the field named by id (head + i) mod 2^64, 8 bytes big-endian;
// `meta` holds head, 8 bytes little-endian. Ids stay dense, so LINDEX is one lookup and a
// push or a pop at either end changes one field and the header. An edit in the middle
// (LINSERT, LREM) moves the elements on its shorter side, one field each, as Redis's own
// memmove costs O(N); LTRIM, LSET and the ends move nothing.
//
// A ListEdit is one write's view of a list: it copies the published fields (O(1), shared
// nodes) or, when the commit group may reuse them (Mutation::Edit), changes them in place,
// and names every field it changes for the journal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/mutation.h"
#include "store/record.h"

namespace devstate {

class ListEdit {
 public:
  // `current` must be a list record or null (a new, empty list).
  ListEdit(const RecordPtr& current, bool reusable);

  size_t size() const { return fields_->size(); }
  bool empty() const { return fields_->empty(); }
  // The element at `index` (< size()), valid until the next change.
  std::string_view At(size_t index) const;

  void PushFront(std::string_view value);
  void PushBack(std::string_view value);
  // Removes and returns the first (last) element; the list must not be empty.
  std::string PopFront();
  std::string PopBack();
  void Set(size_t index, std::string_view value);
  // Replaces the elements [from, to) with `with` (from <= to <= size()), moving the
  // elements on whichever side of the range is shorter.
  void Replace(size_t from, size_t to, const std::vector<std::string>& with);

  bool changed() const { return !ops_.empty(); }
  // The change for the pipeline: none, the list's deletion when it is left empty, or a
  // patch naming the fields changed. `touch`: a patch even when nothing changed, which
  // journals nothing and still counts as a write of the key (LTRIM: its keyspace event,
  // and WATCH, as Redis signals them however little it trims).
  Change Finish(bool touch = false);

 private:
  void Put(uint64_t id, std::string_view value);
  void Erase(uint64_t id);

  int64_t expire_at_ms_ = 0;
  uint64_t head_ = 0;
  std::shared_ptr<FieldMap> fields_;
  std::vector<FieldOp> ops_;
};

// A list record's elements, first to last, for the reads (LRANGE, LINDEX, LPOS).
class ListView {
 public:
  explicit ListView(const Record& list);
  size_t size() const { return fields_.size(); }
  std::string_view At(size_t index) const;

 private:
  const FieldMap& fields_;
  uint64_t head_;
};

// A Redis list index (negative from the end) as a position, or false when out of range.
bool ListIndex(int64_t index, size_t size, size_t* at);

}  // namespace devstate
