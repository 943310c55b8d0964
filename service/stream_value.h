// A Redis stream as a composite record (store/fields.h), so that a command's journal cost
// follows what it changes: XADD journals its entry and the stream's counters, XACK the
// pending rows it removes, never the stream.
//
// Layout: one scored FieldMap holds every row of the stream. A row's score decides its
// kind and its place; within one score rows sort by name, bytewise:
//   score -5  "m"                           the counters: last id, max deleted id, entries added
//   score -4  'g' group                     a consumer group: last delivered id, entries read
//   score -3  'c' esc(group) esc(consumer)  a consumer: seen time
//   score -2  'p' esc(group) id             a pending entry: delivery time and count, owner
//   score -1  'q' esc(group) esc(consumer) id   the same entry in its owner's list
//   score ms  'e' id                        an entry, with its fields and values
// An id is 16 bytes, ms and seq big-endian, so names sort as ids do; an entry's score is
// its ms (and a fraction of its seq) as a double, which rounds monotonically, so (score,
// name) order is id order. A
// name inside a name is escaped (0x00 -> 0x00 0xff, ending 0x00 0x01), which keeps it
// order-preserving and prefix-free: one group's rows are one run, one consumer's pending
// entries another, and the row counts of a run are two rank lookups (FieldMap::RankBefore).
// The "m" row is always there, so a stream with no entries (XGROUP CREATE MKSTREAM, XDEL
// of the last one) is still a record with fields, as a Redis stream outlives its entries.
//
// Every value starts with its row's score (FieldMap::ScoreValue), as a scored map needs;
// the order tree keeps only that score, the payload lives once.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/mutation.h"
#include "store/record.h"

namespace devstate {

struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  static constexpr StreamId Max() { return {UINT64_MAX, UINT64_MAX}; }
  bool IsZero() const { return ms == 0 && seq == 0; }
  std::string ToString() const;
  // The next (previous) id; false, and the id wrapped to 0-0 (max), past the last (first).
  bool Incr();
  bool Decr();
  // 16 bytes, ms then seq, big-endian: bytewise order is id order.
  std::string Encode() const;
  static StreamId Decode(std::string_view bytes);

  friend auto operator<=>(const StreamId& a, const StreamId& b) {
    if (a.ms != b.ms) return a.ms <=> b.ms;
    return a.seq <=> b.seq;
  }
  friend bool operator==(const StreamId& a, const StreamId& b) {
    return a.ms == b.ms && a.seq == b.seq;
  }
};

// An id as Redis's streamGenericParseIDOrReply reads it: "ms-seq", "ms" (seq then
// `missing_seq`), "-" and "+" (unless `strict`), and with `seq_given` non-null "ms-*"
// (*seq_given false). False when it is not one.
bool ParseStreamId(std::string_view text, uint64_t missing_seq, bool strict, StreamId* id,
                   bool* seq_given = nullptr);

// The stream's counters ("m" row).
struct StreamCounters {
  StreamId last_id;
  StreamId max_deleted;
  uint64_t entries_added = 0;

  bool operator==(const StreamCounters&) const = default;
};

struct StreamGroup {
  std::string name;
  StreamId last_id;
  int64_t entries_read = -1;  // -1: not known (Redis's SCG_INVALID_ENTRIES_READ)
};

struct StreamPending {
  StreamId id;
  std::string consumer;
  int64_t delivery_time = 0;  // Unix ms
  uint64_t delivery_count = 0;

  bool operator==(const StreamPending&) const = default;
};

// An entry's fields and values, alternating.
using StreamFields = std::vector<std::string_view>;

// Reads a stream record. Valid while the record is.
class StreamView {
 public:
  explicit StreamView(const Record& stream) : StreamView(*stream.fields()) {}
  explicit StreamView(const FieldMap& rows);

  const StreamCounters& counters() const { return counters_; }
  size_t length() const;
  // The first entry's id, 0-0 when there is none (Redis's recorded first id).
  StreamId FirstId() const;
  // The last entry's id, 0-0 when there is none (not the last id ever generated).
  StreamId LastEntryId() const;

  // Visits the entries in [start, end], first to last (reverse: last to first), until
  // `fn` returns false.
  using EntryFn = std::function<bool(StreamId id, const StreamFields& fields)>;
  void Range(StreamId start, StreamId end, bool reverse, const EntryFn& fn) const;
  // As Range, the ids only.
  void RangeIds(StreamId start, StreamId end, bool reverse,
                const std::function<bool(StreamId id)>& fn) const;
  // The fields of entry `id`, or none.
  std::optional<StreamFields> Entry(StreamId id) const;
  bool HasEntry(StreamId id) const;

  std::optional<StreamGroup> Group(std::string_view name) const;
  // Every group, by name.
  void Groups(const std::function<void(const StreamGroup&)>& fn) const;
  size_t GroupCount() const;

  // A consumer's seen time, or none when the group has no such consumer.
  std::optional<int64_t> ConsumerSeen(std::string_view group, std::string_view consumer) const;
  // A group's consumers, by name, with their seen time.
  void Consumers(std::string_view group,
                 const std::function<void(std::string_view name, int64_t seen)>& fn) const;
  size_t ConsumerCount(std::string_view group) const;

  std::optional<StreamPending> Pending(std::string_view group, StreamId id) const;
  // A group's pending entries from `start` on, by id, until `fn` returns false.
  void PendingFrom(std::string_view group, StreamId start,
                   const std::function<bool(const StreamPending&)>& fn) const;
  size_t PendingCount(std::string_view group) const;
  // A consumer's pending ids from `start` on, until `fn` returns false.
  void ConsumerPendingFrom(std::string_view group, std::string_view consumer, StreamId start,
                           const std::function<bool(StreamId id)>& fn) const;
  size_t ConsumerPendingCount(std::string_view group, std::string_view consumer) const;

  // The group's lag (Redis's streamReplyWithCGLag), or none when it cannot be known.
  std::optional<int64_t> Lag(const StreamGroup& group) const;
  // The number of entries from the first ever added to `id` (Redis's
  // streamEstimateDistanceFromFirstEverEntry), or -1 when it cannot be known.
  int64_t EntriesReadAt(StreamId id) const;
  // Whether [start, end] may hold a deleted entry (Redis's streamRangeHasTombstones).
  bool RangeHasTombstones(StreamId start, StreamId end) const;

 protected:
  StreamView() = default;
  // Reads the rows of `rows` (a stream's), which must outlive this view.
  void Load(const FieldMap& rows);
  // The rank of the first row of score `score` at or after `name`.
  size_t RankOf(double score, std::string_view name) const;
  // Visits the rows from rank `from` while they start with `prefix`.
  void WalkPrefix(
      size_t from, std::string_view prefix,
      const std::function<bool(std::string_view name, std::string_view value)>& fn) const;

  const FieldMap* rows_ = nullptr;
  StreamCounters counters_;
};

// One write's view of a stream: its rows copied (O(1), shared nodes) or, when the commit
// group may reuse them (Mutation::Edit), changed in place; every row it changes is named
// for the journal.
class StreamEdit : public StreamView {
 public:
  // `current` must be a stream record or null (a new, empty stream).
  StreamEdit(const RecordPtr& current, bool reusable);

  using StreamView::counters;
  StreamCounters& counters() { return counters_; }
  void AddEntry(StreamId id, std::span<const std::string> fields_and_values);
  bool DeleteEntry(StreamId id);

  void PutGroup(const StreamGroup& group);
  // Removes the group with its consumers and pending entries; false when there was none.
  bool DestroyGroup(std::string_view name);
  void PutConsumer(std::string_view group, std::string_view consumer, int64_t seen);
  // Removes the consumer and its pending entries; returns how many it had.
  size_t DeleteConsumer(std::string_view group, std::string_view consumer);
  // Sets a pending entry (its owner may change).
  void PutPending(std::string_view group, const StreamPending& pending);
  bool DeletePending(std::string_view group, StreamId id);

  bool changed() const { return !ops_.empty(); }
  // The change for the pipeline: none, or a patch naming the rows changed (the counters'
  // row included when they changed).
  Change Finish();

 private:
  void Put(std::string name, double score, std::string_view payload);
  void Erase(std::string name);

  std::shared_ptr<FieldMap> fields_;
  int64_t expire_at_ms_ = 0;
  StreamCounters original_;
  bool created_ = false;
  std::vector<FieldOp> ops_;
};

// An entry's fields as XADD received them, encoded; and back.
std::string EncodeStreamFields(std::span<const std::string> fields_and_values);
StreamFields DecodeStreamFields(std::string_view payload);

}  // namespace devstate
