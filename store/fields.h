// FieldMap: the fields of a composite value (a Redis hash), and how each field is kept in
// the journal on its own.
//
// A record whose `fields` is set is journaled as a header (the record without its fields,
// under its key in the default column family) plus one entry per field in the "fields"
// column family, under FieldJournalKey(key, name). A change to one field journals that
// field: HSET of one field on a 100k-field hash writes one entry, not the hash.
//
// Order: fields are kept by (hash of the name, name), so HSCAN's cursor is a position in
// that order (the next field's hash): fields present for a whole scan are returned exactly
// once however the hash changes in between, as Redis's SCAN guarantees.
//
// Thread safety: a FieldMap inside a published record is immutable (records are shared
// with readers); writers copy it, change the copy and publish a new record.
#pragma once

#include <absl/container/btree_map.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace devstate {

class FieldMap {
 public:
  // The value of `name`, or null.
  const std::string* Find(std::string_view name) const;
  // Sets `name` to `value`; true when the field is new.
  bool Set(std::string_view name, std::string value);
  // Removes `name`; true when it was there.
  bool Erase(std::string_view name);
  void Clear() { map_.clear(); }

  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }

  // Every field, in scan order.
  using FieldFn = std::function<void(const std::string& name, const std::string& value)>;
  void ForEach(const FieldFn& fn) const;
  // Visits fields from `cursor` (0 starts) until at least `count` were visited and the
  // next field's hash differs; returns the next call's cursor, 0 when done.
  uint64_t Scan(uint64_t cursor, size_t count, const FieldFn& fn) const;

  // A cursor is a field's hash; 0 means "start" or "done", so no hash is 0.
  static uint64_t Hash(std::string_view name);

 private:
  struct Key {
    uint64_t hash;
    std::string name;
  };
  struct Probe {
    uint64_t hash;
    std::string_view name;
  };
  struct Less {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      if (a.hash != b.hash) return a.hash < b.hash;
      return std::string_view(a.name) < std::string_view(b.name);
    }
  };
  absl::btree_map<Key, std::string, Less> map_;
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
