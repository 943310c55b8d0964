// Journal: the durable copy of the keyspace, a RocksDB database whose write-ahead log is
// the synchronous journal. A commit group is one WriteBatch, appended to the log and then
// synced; the RocksDB sequence numbers of its operations are its journal positions.
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

// Where RocksDB's own log lines go (its "info log"): the service's logger, never a LOG
// file in the store's directory, whose writes would fail with the disk they share.
enum class LogLevel { kDebug, kInfo, kWarn, kError };
using LogFn = std::function<void(LogLevel level, std::string_view line)>;

struct JournalOptions {
  std::string dir;
  LogFn log;  // null: RocksDB's lines are dropped
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

  // Appends `batch` to the log, not yet synced; *first and *last are the journal positions
  // of its first and last operation. NoSpace: the disk is full and nothing of the batch
  // counts (RocksDB refuses writes until Resume); any other failure leaves the journal in
  // an unknown state.
  Status Append(rocksdb::WriteBatch* batch, uint64_t* first, uint64_t* last);
  // Syncs the log: everything appended is durable once this returns OK. A failure leaves
  // the journal in an unknown state: nothing may be acknowledged after it.
  Status Sync();
  // Append and Sync; *seq is the batch's last position.
  Status Commit(rocksdb::WriteBatch* batch, uint64_t* seq);
  // After NoSpace: asks RocksDB to take writes again. It flushes the memtables first (so
  // the log that failed is no longer needed at recovery), which needs free space: this
  // fails with NoSpace until the disk has room.
  Status Resume();

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
