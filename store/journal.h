// Journal: the durable copy of the keyspace, a RocksDB database whose write-ahead log is
// the synchronous journal. A commit group is one WriteBatch, appended to the log and then
// synced; the RocksDB sequence numbers of its operations are its journal positions.
//
// Thread safety: Commit is called by whichever thread commits a group for the pipeline
// (its committer thread, or a RESP event loop committing its turn inline), one at a time;
// Load is called once, before the pipeline starts. LastSequence and LastKey may be called
// from any thread.
#pragma once

#include <rocksdb/options.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/rw_lock.h"
#include "store/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
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
  // How long, and how much of, the write-ahead log is kept after its memtable is flushed,
  // so a replica that fell behind can catch up from it (ReadSince) instead of copying all.
  uint64_t wal_retention_s = 0;
  uint64_t wal_retention_mb = 0;
  // RocksDB's memtable (write_buffer_size): the latest writes, held in memory until they
  // are flushed to tables. devstate never reads it, so it is memory spent on the journal's
  // behalf only; smaller flushes more often.
  uint64_t write_buffer_mb = 16;
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
  // True if `dir` holds a full copy whose install was interrupted (Open will start empty).
  static bool CopyInterrupted(const std::string& dir);

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
  // After NoSpace: closes and reopens the database, so that no writer that saw the error
  // is used again; recovery drops the failed group's torn tail and flushes what the logs
  // hold, which needs free space. Fails with NoSpace until the disk has room; meanwhile
  // every other call fails with NoSpace (writes) or IOError (reads of the log).
  Status Resume();

  // Calls fn for every stored key and encoded record, in key order.
  using LoadFn = std::function<Status(std::string_view key, std::string_view value)>;
  Status Load(const LoadFn& fn);
  // The same over the "meta" column family: what the store keeps about the journal itself
  // (the epoch markers of replication), never part of the keyspace.
  Status LoadMeta(const LoadFn& fn);
  rocksdb::ColumnFamilyHandle* meta() const { return meta_; }
  // The same over the "fields" column family: composite records' fields (fields.h).
  Status LoadFields(const LoadFn& fn);
  rocksdb::ColumnFamilyHandle* fields() const { return fields_; }

  // Calls fn with each group written from position `seq` on, in order: its first position
  // and its WriteBatch bytes. NotFound if the log no longer holds `seq` (it was not kept:
  // see wal_retention_*); stops early when fn returns false.
  using GroupFn = std::function<bool(uint64_t first_seq, std::string_view batch)>;
  Status ReadSince(uint64_t seq, const GroupFn& fn);

  // A consistent copy of the database in `dir` (hard links where it can), and the position
  // it holds everything up to.
  Status Checkpoint(const std::string& dir, uint64_t* seq);

  // Replaces the database with the copy in `copy_dir` (a Checkpoint streamed from the
  // primary), whose files are moved in; the journal then continues from the copy's last
  // position. A crash midway leaves a marker that makes the next Open start empty.
  // Blocks the journal's readers on other threads meanwhile.
  Status Replace(const std::string& copy_dir);

  uint64_t LastSequence() const;

  // The greatest key stored (false when there is none): the end of FLUSHALL's range delete.
  bool LastKey(std::string* key) const;

  // RocksDB flushes and compactions running or waiting to run: the upkeep of the snapshot
  // in its tables, done by RocksDB's own threads, never on the commit path. 0 when idle.
  uint64_t BackgroundJobs() const;
  // The bytes of RocksDB's memtables not yet flushed (at most about two write buffers:
  // the one filling and the one being flushed).
  uint64_t MemtableBytes() const;

 private:
  Journal(std::string dir, std::unique_ptr<rocksdb::Env> env, rocksdb::Options options);
  Status OpenDb() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  void CloseDb() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  Status NotOpen() const;
  Status LoadFamily(rocksdb::ColumnFamilyHandle* family, const LoadFn& fn);

  const std::string dir_;
  // RocksDB's files, seen through journal.cc's LogFileSystem; outlives db_.
  std::unique_ptr<rocksdb::Env> env_;
  const rocksdb::Options options_;
  // Held shared by every use of the database, exclusively while Replace swaps it, so a
  // reader on another thread (INFO, metrics) never meets a closed one.
  mutable RwLock db_mu_;
  std::unique_ptr<rocksdb::DB> db_ ABSL_GUARDED_BY(db_mu_);  // null while Resume reopens it
  uint64_t closed_seq_ ABSL_GUARDED_BY(db_mu_) = 0;          // LastSequence() while db_ is null
  // default, meta, fields
  std::vector<rocksdb::ColumnFamilyHandle*> handles_ ABSL_GUARDED_BY(db_mu_);
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* fields_ = nullptr;
};

}  // namespace devstate
