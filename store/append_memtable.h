// AppendMemTable: the journal's RocksDB memtable. Inserts append a pointer; the memtable is
// sorted once, when RocksDB flushes it, by a sort that compares 16-byte key prefixes held in
// the sort array before it touches a key.
//
// Why not RocksDB's own: devstate never reads through the memtable (the keyspace serves every
// read), so RocksDB's VectorRep (append, sort at flush) already fits. Its sort compares
// through pointers into the arena, one cache miss or two per comparison, ~18 comparisons per
// entry for a 16 MB memtable: under durable INCR -P 16 on new keys it was most of the flush
// thread's CPU (docs/BENCHMARKS.md, "the journal memtable's sort and the commit path"). This
// sort loads each key's bytes into the sort array once per level at which it ties. No
// packaged memtable sorts that way.
//
// Order: the same as RocksDB's internal key order for the bytewise comparator (user key
// ascending, then sequence number descending). Use it only with BytewiseComparator, the
// journal's only comparator. Seek and Get use the comparator RocksDB passes in; only the
// flush-time sort uses the prefix.
//
// Thread-safety: as VectorRep. One writer (allow_concurrent_memtable_write = false); readers
// of a mutable memtable iterate a sorted copy; an immutable one is sorted once, in place.
#pragma once

#include <rocksdb/memtablerep.h>

#include <memory>

namespace devstate {

// For tests: the order the flush sort produces (-1, 0, 1), on two encoded memtable entries
// (varint32 internal-key length, user key, 8-byte sequence and type, ...).
int CompareAppendEntries(const char* a, const char* b);

class AppendMemTableFactory : public rocksdb::MemTableRepFactory {
 public:
  using MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator& compare,
                                          rocksdb::Allocator* allocator,
                                          const rocksdb::SliceTransform* prefix,
                                          rocksdb::Logger* logger) override;
  const char* Name() const override { return "DevstateAppendMemTable"; }
};

}  // namespace devstate
