// Journal: the durable copy of the keyspace, a RocksDB database whose write-ahead log is
// the synchronous journal. Every Commit is one WriteBatch written with sync = true; the
// RocksDB sequence number after it is the journal position of that commit group.
//
// Thread safety: Commit is called by whichever thread commits a group for the pipeline
// (its committer thread, or a RESP event loop committing its turn inline), one at a time;
// Load is called once, before the pipeline starts. LastSequence and LastKey may be called
// from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "store/status.h"

namespace rocksdb {
class DB;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace devstate {

struct JournalOptions {
  std::string dir;
  // Optional; not owned and must outlive the journal. Tests pass an Env whose file
  // system fails or blocks syncs (leveldb-style fault injection).
  rocksdb::Env* env = nullptr;
};

class Journal {
 public:
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens (creating if needed) the database in options.dir. A torn tail of the log from a
  // crash is dropped (point-in-time recovery); everything synced before it is kept.
  static Status Open(const JournalOptions& options, std::unique_ptr<Journal>* journal);

  // Writes `batch` and syncs the log. On success *seq is the sequence number of the last
  // operation in the batch. A failure leaves the journal in an unknown state.
  Status Commit(rocksdb::WriteBatch* batch, uint64_t* seq);

  // Calls fn for every stored key and encoded record, in key order.
  using LoadFn = std::function<Status(std::string_view key, std::string_view value)>;
  Status Load(const LoadFn& fn);

  uint64_t LastSequence() const;

  // The greatest key stored (false when there is none): the end of FLUSHALL's range delete.
  bool LastKey(std::string* key) const;

  // RocksDB flushes and compactions running or waiting to run: the upkeep of the snapshot
  // in its tables, done by RocksDB's own threads, never on the commit path. 0 when idle.
  uint64_t BackgroundJobs() const;

 private:
  Journal(std::unique_ptr<rocksdb::Env> env, rocksdb::DB* db);

  std::unique_ptr<rocksdb::Env>
      env_;  // RocksDB's files, seen through journal.cc's LogFileSystem; outlives db_
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace devstate
