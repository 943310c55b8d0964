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
// field's hash, 16 ways per level, whose leaves hold up to kLeafMax fields and kLeafBytes
// bytes, packed in one buffer). A node that only this map holds is changed in place. A
// writer copies the published map, changes its copy and publishes a new record while
// readers keep reading the old one without a lock; a write costs O(log n), never a copy
// of the hash. A commit group's later writes to one hash reuse the map its first write
// made (Mutation::Edit), so they change in place the nodes that write already copied.
// Written by hand: Debian ships no persistent map (immer is not packaged), and abseil's
// containers copy whole.
//
// Order: fields are visited by (hash of the name, name), so HSCAN's cursor is a position in
// that order (the next field's hash): fields present for a whole scan are returned exactly
// once however the hash changes in between, as Redis's SCAN guarantees.
//
// Scored maps (a sorted set's members, a stream's rows): every value starts with a score,
// a double in 8 bytes (ScoreValue), which a payload may follow (a stream entry's fields);
// the map keeps its fields a second time, name and score only, in a tree of the same kind
// whose 64-bit key is the score in an order-preserving form instead of the name's hash. That
// tree's order is (score, name), Redis's skiplist order; every node counts the fields
// under it, so a rank (ZRANK) or the field at a rank (ZRANGE 100 110) costs O(log n).
// Below the 16 levels that the 64-bit key fills, the order tree goes on splitting on the
// name's nibbles (17 ways: the name's end first, then its next nibble, which is bytewise
// name order), so members sharing a score (a set whose scores are all equal: ZRANGEBYLEX's
// use, or a leaderboard of ties) still sit in leaves of at most kLeafMax fields, and a
// write to them costs O(log n) plus the nibbles their names share.
//
// Thread safety: the nodes are immutable once shared; a FieldMap object itself is not
// thread-safe (a published record's is never changed).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace devstate {

class FieldMap {
 public:
  FieldMap() = default;
  // An empty scored map (see the header).
  static FieldMap Scored() {
    FieldMap m;
    m.scored_ = true;
    return m;
  }
  bool scored() const { return scored_; }
  // An empty map of the same kind.
  FieldMap EmptyLike() const { return scored_ ? Scored() : FieldMap(); }

  // The value of `name`, or none (valid while this map is unchanged).
  std::optional<std::string_view> Find(std::string_view name) const;
  // Sets `name` to `value`; true when the field is new.
  bool Set(std::string_view name, std::string_view value);
  // Removes `name`; true when it was there.
  bool Erase(std::string_view name);
  void Clear() {
    root_.reset();
    order_.reset();
    size_ = 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The bytes of its nodes, for MEMORY USAGE.
  size_t AllocatedSize() const;
  // The most fields one leaf holds, in either tree: what one write may have to copy
  // (at most kLeafMax, or a single field).
  size_t MaxLeafFields() const;

  // Every field, in scan order.
  using FieldFn = std::function<void(std::string_view name, std::string_view value)>;
  void ForEach(const FieldFn& fn) const;
  // Visits fields from `cursor` (0 starts) until at least `count` were visited and the
  // next field's hash differs; returns the next call's cursor, 0 when done.
  uint64_t Scan(uint64_t cursor, size_t count, const FieldFn& fn) const;

  // A cursor is a field's hash; 0 means "start" or "done", so no hash is 0.
  static uint64_t Hash(std::string_view name);

  // Scored maps: a score as a value, and back (the first 8 bytes; a shorter value reads
  // as 0).
  static std::string ScoreValue(double score);
  static double ScoreOf(std::string_view value);
  // The number of fields ordered before (score, name): with an empty name, those of a
  // lower score; with `name` + '\0', those up to (score, name) included.
  size_t RankBefore(double score, std::string_view name) const;
  // The number of fields whose score is at most `score`.
  size_t RankThrough(double score) const;
  // Visits the fields from rank `from` (< size()) towards the last (reverse: the first)
  // until `fn` returns false.
  using ScoredFn = std::function<bool(std::string_view name, double score)>;
  void WalkRanks(size_t from, bool reverse, const ScoredFn& fn) const;

  // A leaf splits when it holds more fields or bytes than this (a leaf of one field may
  // be larger: its value's size is the writer's).
  static constexpr size_t kLeafMax = 64;
  static constexpr size_t kLeafBytes = 4096;

 private:
  // A leaf's fields are packed in one buffer, by (hash, name), each as
  // [hash, 8 bytes][name size, 4][value size, 4][name][value]: a leaf's copy (on a write's
  // path) is one allocation and one memcpy. Fields kept as shared blocks instead cost one
  // cold reference count per field on every copy and every release, most of an HSET's
  // time on a large hash.
  struct Entry {
    uint64_t hash;
    std::string_view name;
    std::string_view value;
    size_t at;    // its offset in the leaf's buffer
    size_t size;  // its bytes there; 0 for "no entry" (Seek)
    bool Is(uint64_t h, std::string_view n) const { return size != 0 && hash == h && name == n; }
  };
  static constexpr size_t kEntryHeader = 16;
  static Entry EntryAt(std::string_view packed, size_t at);
  // The first entry of a leaf at or after (hash, name), or none (size 0, `at` the end).
  static Entry Seek(const std::string& packed, uint64_t hash, std::string_view name);
  static void AppendEntry(std::string* packed, uint64_t hash, std::string_view name,
                          std::string_view value);

  struct Node;
  using NodePtr = std::shared_ptr<const Node>;
  struct Node {
    Node() = default;
    Node(const Node& other);
    ~Node();
    bool leaf = true;
    uint32_t count = 0;             // the fields under it
    std::string packed;             // a leaf's fields (see Entry)
    std::vector<NodePtr> children;  // a branch's kWays, by kBits of the hash (a leaf has none)
  };
  // `node` itself when this map holds its only reference, else a copy of it.
  static std::shared_ptr<Node> Own(NodePtr&& node);
  // A walk over the fields in order; returns false to stop.
  using EntryFn = std::function<bool(const Entry& e)>;

  // Branches split on kBits of the hash per level, from the top: 16 ways keeps the copy of
  // a write's path short (a 64-way tree copied three times as many pointers per write).
  static constexpr int kBits = 4;
  static constexpr size_t kWays = size_t{1} << kBits;
  static constexpr int kKeyLevels = 64 / kBits;
  static int Shift(int depth) { return 64 - kBits * (depth + 1); }
  // The child of a branch at `depth` that holds (hash, name): by the hash's bits for the
  // first kKeyLevels levels, then (the order tree only) by the name: 0 once it has ended,
  // else 1 + its next nibble, so a name sorts before its extensions as in bytewise order.
  static size_t Slot(uint64_t hash, std::string_view name, int depth) {
    if (depth < kKeyLevels) return (hash >> Shift(depth)) & (kWays - 1);
    const auto nibble = static_cast<size_t>(depth - kKeyLevels);
    if (nibble / 2 >= name.size()) return 0;
    const auto byte = static_cast<unsigned char>(name[nibble / 2]);
    return 1 + (nibble % 2 == 0 ? byte >> kBits : byte & (kWays - 1));
  }
  static size_t WaysAt(int depth) { return depth < kKeyLevels ? kWays : kWays + 1; }
  // The node of `node` (copied unless this map holds the only reference) with `name` set;
  // *added when it is new.
  // `by_name`: past the key's levels a full leaf splits on the name (the order tree);
  // otherwise it grows there (the field tree, whose 64-bit hashes practically never tie).
  static NodePtr SetIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                       std::string_view value, bool by_name, bool* added);
  static NodePtr EraseIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                         bool* erased);
  static bool Walk(const Node& node, int depth, uint64_t prefix, uint64_t from, const EntryFn& fn);
  static bool WalkRanksIn(const Node& node, size_t from, bool reverse, const EntryFn& fn);
  static size_t NodeSize(const Node& node);
  static size_t MaxLeafIn(const Node& node);
  // A score's key in the order tree: IEEE bits mapped so that unsigned order is numeric
  // order (-0 as 0, which Redis compares equal).
  static uint64_t ScoreKey(double score);
  // The fields of the order tree before (key, name).
  size_t CountBelow(uint64_t key, std::string_view name) const;
  // Keeps the order tree in step with a change of `name` from `old` (if any) to `value`
  // (if any).
  void Reorder(std::string_view name, std::optional<std::string_view> old,
               std::optional<std::string_view> value);

  NodePtr root_;
  NodePtr order_;  // scored maps: the fields by (ScoreKey, name), with their values
  size_t size_ = 0;
  bool scored_ = false;
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
