// GroupBatch: a commit group's journal batch, with each key's latest Put held back until
// the group ends.
//
// A group is journaled, replicated and recovered as one: no reader, replica or restart
// ever sees the state between two of its writes (the keyspace is published per group, a
// replica applies a group whole, recovery replays whole batches). So when one group
// writes a key many times (a pipeline of INCRs of one counter, HSETs of one field, a
// stream's counters on every XADD), only the last value needs to reach the journal: the
// journal, the replicas and the memtable then handle one entry where they handled
// hundreds. A Put waits here per (column family, key), and a later Put of the key
// replaces its value where it stands; a Delete or a range delete first writes every Put
// held, in the order they first came, then itself. So the batch holds the same operations
// in the same order but for the Puts that a later Put of their key replaced: a record's
// header still precedes its fields (a replica builds the record from the header on), and
// nothing moves across a delete.
//
// Not thread-safe: the committing thread's, for one group.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace devstate {

class GroupBatch {
 public:
  explicit GroupBatch(rocksdb::WriteBatch* batch) : batch_(batch) {}

  // `cf` null: the default column family.
  void Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value);
  void Delete(rocksdb::ColumnFamilyHandle* cf, std::string_view key);
  void DeleteRange(rocksdb::ColumnFamilyHandle* cf, std::string_view begin, std::string_view end);
  // Writes the Puts held to the batch: at the group's end, and before an operation whose
  // place in the batch matters (an epoch marker's position is its place).
  void Flush();

  size_t held() const { return held_.size(); }
  // Puts replaced while held: the entries the journal did not get.
  size_t coalesced() const { return coalesced_; }

 private:
  // Where a held Put's bytes are: its index key (the column family's id, 4 bytes, then
  // the key) and its latest value, both in arena_.
  struct Held {
    rocksdb::ColumnFamilyHandle* cf;
    std::string_view id_and_key;
    std::string_view value;
    size_t value_room;  // bytes at value.data() it may reuse
  };

  // Room for n bytes that stays put until the group ends: one allocation per block, not
  // two or three per Put (a key over 15 bytes, its index entry, a long value).
  char* Allocate(size_t n);

  rocksdb::WriteBatch* const batch_;
  std::vector<Held> held_;                               // in the order each key was first put
  absl::flat_hash_map<std::string_view, size_t> index_;  // id_and_key -> its place in held_
  std::vector<std::unique_ptr<char[]>> arena_;           // blocks; the last one is filling
  char* arena_next_ = nullptr;                           // the last block's first free byte
  size_t arena_left_ = 0;                                // and how many follow it
  size_t arena_block_ = 0;  // the size the last block was meant to have
  std::string probe_;       // the index key of the Put being looked up, reused across Puts
  size_t coalesced_ = 0;
};

}  // namespace devstate
