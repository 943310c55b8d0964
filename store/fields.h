// FieldMap: the fields of a composite value (a Redis hash), and how each field is kept in
// the journal on its own.
//
// A record whose `fields` is set is journaled as a header (the record without its fields,
// under its key in the default column family) plus one entry per field in the "fields"
// column family, under FieldJournalKey(key, name). A change to one field journals that
// field: HSET of one field on a 100k-field hash writes one entry, not the hash.
//
// In memory, a FieldMap is persistent: copying one is O(1) (the copies share their nodes),
// and Set or Erase copies only the path to the field it changes (a radix tree over the
// field's hash, 16 ways per level, whose leaves hold up to kLeafMax fields). A writer
// copies the published map, changes its copy and publishes a new record while readers keep
// reading the old one without a lock; a write costs O(log n), never a copy of the hash.
// Written by hand: Debian ships no persistent map (immer is not packaged), and abseil's
// containers copy whole.
//
// Order: fields are visited by (hash of the name, name), so HSCAN's cursor is a position in
// that order (the next field's hash): fields present for a whole scan are returned exactly
// once however the hash changes in between, as Redis's SCAN guarantees.
//
// Thread safety: the nodes are immutable once shared; a FieldMap object itself is not
// thread-safe (a published record's is never changed).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace devstate {

class FieldMap {
 public:
  // The value of `name`, or null (valid while this map is unchanged).
  const std::string* Find(std::string_view name) const;
  // Sets `name` to `value`; true when the field is new.
  bool Set(std::string_view name, std::string value);
  // Removes `name`; true when it was there.
  bool Erase(std::string_view name);
  void Clear() {
    root_.reset();
    size_ = 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Every field, in scan order.
  using FieldFn = std::function<void(const std::string& name, const std::string& value)>;
  void ForEach(const FieldFn& fn) const;
  // Visits fields from `cursor` (0 starts) until at least `count` were visited and the
  // next field's hash differs; returns the next call's cursor, 0 when done.
  uint64_t Scan(uint64_t cursor, size_t count, const FieldFn& fn) const;

  // A cursor is a field's hash; 0 means "start" or "done", so no hash is 0.
  static uint64_t Hash(std::string_view name);

  static constexpr size_t kLeafMax = 32;

 private:
  // A field, shared by every copy of the leaves that hold it: a leaf's copy (on a write's
  // path) copies a pointer per field, never a name or a value (a string copy per field
  // was most of an HSET's cost on a large hash).
  struct Field {
    std::string name;
    std::string value;
  };
  struct Entry {
    uint64_t hash;
    std::shared_ptr<const Field> field;
  };
  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  struct Node {
    bool leaf = true;
    std::vector<Entry> entries;     // a leaf's, by (hash, name)
    std::vector<NodePtr> children;  // a branch's kWays, by kBits of the hash (a leaf has none)
  };
  // A walk over the fields in order; returns false to stop.
  using EntryFn = std::function<bool(const Entry& e)>;

  // Branches split on kBits of the hash per level, from the top: 16 ways keeps the copy of
  // a write's path short (a 64-way tree copied three times as many pointers per write).
  static constexpr int kBits = 4;
  static constexpr size_t kWays = size_t{1} << kBits;
  static int Shift(int depth) { return 64 - kBits * (depth + 1); }
  static size_t Slot(uint64_t hash, int depth) { return (hash >> Shift(depth)) & (kWays - 1); }
  // The node of `node` (copied unless this map holds the only reference) with `name` set;
  // *added when it is new.
  static NodePtr SetIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                       std::string&& value, bool* added);
  static NodePtr EraseIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                         bool* erased);
  static bool Walk(const Node& node, int depth, uint64_t prefix, uint64_t from, const EntryFn& fn);

  NodePtr root_;
  size_t size_ = 0;
};

// The journal key of field `name` of `key`: [key's length, 4 bytes big-endian][key][name],
// so a key's fields are one contiguous range (FieldRangeBegin/End) and no two (key, name)
// pairs share an encoding.
std::string FieldJournalKey(std::string_view key, std::string_view name);
std::string FieldRangeBegin(std::string_view key);
std::string FieldRangeEnd(std::string_view key);
// Splits a journal key back; false when it is malformed.
bool ParseFieldJournalKey(std::string_view journal_key, std::string_view* key,
                          std::string_view* name);

}  // namespace devstate
