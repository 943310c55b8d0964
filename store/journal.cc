#include "store/journal.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "store/append_memtable.h"

namespace devstate {
namespace {

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::OK();
  if (s.IsNoSpace()) return Status::NoSpace(s.ToString());
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  if (s.IsNotFound()) return Status::NotFound(s.ToString());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(s.ToString());
  return Status::IOError(s.ToString());
}

// Every commit ends in an fdatasync of the write-ahead log, and what that fdatasync must
// write besides the data is most of its cost here. Two steps keep it to the data:
//
// 1. RocksDB preallocates a log's blocks with fallocate(FALLOC_FL_KEEP_SIZE), so each append
//    still grows the file's size and each fdatasync commits that inode change through the
//    file system's own journal. Preallocating without KEEP_SIZE sets the size once per log
//    (write_buffer_size * 1.1, ~18 MB by default).
// 2. Preallocated blocks are "unwritten" extents: the first write into one must convert it,
//    again through the file system's journal. ZeroAheadLog writes zeros a chunk ahead of the
//    data, so a commit overwrites blocks that are already written and one fdatasync per
//    chunk carries the conversion. PostgreSQL zero-fills its WAL segments for the same
//    reason (wal_init_zero).
// What each step saved is measured in docs/BENCHMARKS.md, "Commit pipeline".
//
// Neither changes what a reader sees: preallocated blocks read as zeros, written zeros are
// zeros. A crash leaves the log's tail as zeros, which RocksDB's log reader skips (the
// format of preallocated logs); a clean close trims the file to its data.
// LogFileSystem does both for the write-ahead logs (*.log) RocksDB creates through it.
constexpr size_t kZeroChunk = 128 * 1024;

class ZeroAheadLog : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  ZeroAheadLog(std::unique_ptr<rocksdb::FSWritableFile> log,
               std::unique_ptr<rocksdb::FSRandomRWFile> zeroer)
      : FSWritableFileOwnerWrapper(std::move(log)), zeroer_(std::move(zeroer)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = ZeroAhead(data.size(), options, dbg);
    return s.ok() ? target()->Append(data, options, dbg) : s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = ZeroAhead(data.size(), options, dbg);
    return s.ok() ? target()->Append(data, options, info, dbg) : s;
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus zeroer = zeroer_->Close(options, dbg);
    rocksdb::IOStatus s = target()->Close(options, dbg);  // trims the file to its data
    return s.ok() ? zeroer : s;
  }

 private:
  // Makes sure the next `bytes` of the log land on blocks already written with zeros.
  rocksdb::IOStatus ZeroAhead(size_t bytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) {
    static const std::string kZeros(kZeroChunk, '\0');
    const uint64_t end = target()->GetFileSize(options, dbg) + bytes;
    while (zeroed_ < end) {
      rocksdb::IOStatus s = zeroer_->Write(zeroed_, kZeros, options, dbg);
      if (!s.ok()) return s;
      zeroed_ += kZeroChunk;
    }
    return rocksdb::IOStatus::OK();
  }

  const std::unique_ptr<rocksdb::FSRandomRWFile> zeroer_;  // a second handle on the log
  uint64_t zeroed_ = 0;  // [0, zeroed_) holds data or written zeros
};

// RocksDB's info log, handed to the service's logger. RocksDB's default logger writes a LOG
// file beside the journal; on a full disk its failed write was followed by a write to the
// same file writer that Debian's librocksdb (built with assertions) aborts on, inside the
// commit that hit the full disk. A callback has no file to fail.
class CallbackLogger final : public rocksdb::Logger {
 public:
  explicit CallbackLogger(LogFn log)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), log_(std::move(log)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (!log_ || level < GetInfoLogLevel()) return;
    char line[1024];
    const int n = std::vsnprintf(line, sizeof line, format, ap);
    if (n < 0) return;
    const size_t len = std::min(static_cast<size_t>(n), sizeof line - 1);
    LogLevel ours = LogLevel::kDebug;
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      ours = LogLevel::kError;
    } else if (level == rocksdb::InfoLogLevel::WARN_LEVEL) {
      ours = LogLevel::kWarn;
    }
    log_(ours, "rocksdb: " + std::string(line, len));
  }

 private:
  const LogFn log_;
};

class LogFileSystem : public rocksdb::FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  const char* Name() const override { return "LogFileSystem"; }

  rocksdb::FileOptions OptimizeForLogWrite(const rocksdb::FileOptions& options,
                                           const rocksdb::DBOptions& db_options) const override {
    rocksdb::FileOptions log = target()->OptimizeForLogWrite(options, db_options);
    log.fallocate_with_keep_size = false;
    return log;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (!s.ok() || !IsLog(name) || options.use_direct_writes) return s;
    std::unique_ptr<rocksdb::FSRandomRWFile> zeroer;
    if (target()->NewRandomRWFile(name, rocksdb::FileOptions(), &zeroer, dbg).ok()) {
      *result = std::make_unique<ZeroAheadLog>(std::move(*result), std::move(zeroer));
    }
    return s;
  }

 private:
  static bool IsLog(const std::string& name) {
    return name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0;
  }
};

}  // namespace

Journal::Journal(std::string dir, std::unique_ptr<rocksdb::Env> env, rocksdb::Options options)
    : dir_(std::move(dir)), env_(std::move(env)), options_(std::move(options)) {}

Journal::~Journal() {
  WriteLock lock(&db_mu_);
  CloseDb();
}

void Journal::CloseDb() {
  if (!db_) return;
  closed_seq_ = db_->GetLatestSequenceNumber();
  for (rocksdb::ColumnFamilyHandle* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  meta_ = nullptr;
  fields_ = nullptr;
  // Close() reports errors that the destructor would swallow; nothing to do with them
  // here beyond closing, since every acknowledged write was already synced.
  (void)db_->Close();
  db_.reset();
}

Status Journal::OpenDb() {
  // The keyspace's records in the default column family; what the store keeps about the
  // journal itself (epoch markers) in "meta"; composite records' fields in "fields". All
  // are written in the same groups and replicated with them, with the same options.
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options_)},
      {"meta", rocksdb::ColumnFamilyOptions(options_)},
      {"fields", rocksdb::ColumnFamilyOptions(options_)}};
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::Open(rocksdb::DBOptions(options_), dir_, families, &handles, &db);
  if (!s.ok()) return FromRocks(s);
  db_.reset(db);
  handles_ = std::move(handles);
  meta_ = handles_.at(1);
  fields_ = handles_.at(2);
  return Status::OK();
}

namespace {

// The files RocksDB keeps in its directory (what a full copy replaces); anything else
// there (the service's own files, the replication staging directory) is left alone.
bool IsRocksDbFile(const std::string& name) {
  auto ends = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name == "CURRENT" || name == "IDENTITY" || name == "LOCK" || name == "archive" ||
         name.rfind("LOG", 0) == 0 || name.rfind("MANIFEST-", 0) == 0 ||
         name.rfind("OPTIONS-", 0) == 0 || ends(".sst") || ends(".log") || ends(".blob") ||
         ends(".dbtmp");
}

constexpr std::string_view kReplacing = "REPLACING";

Status RemoveRocksDbFiles(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!IsRocksDbFile(name)) continue;
    std::filesystem::remove_all(entry.path(), ec);
    if (ec)
      return Status::IOError("cannot remove '" + entry.path().string() + "': " + ec.message());
  }
  return ec ? Status::IOError("cannot list '" + dir + "': " + ec.message()) : Status::OK();
}

void SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

bool Journal::CopyInterrupted(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(dir) / std::string(kReplacing), ec);
}

Status Journal::Replace(const std::string& copy_dir) {
  namespace fs = std::filesystem;
  WriteLock lock(&db_mu_);
  CloseDb();
  // A marker first: a crash before the copy is complete leaves a directory that Open
  // empties rather than a mix of two databases.
  const fs::path marker = fs::path(dir_) / std::string(kReplacing);
  { std::ofstream(marker) << "a full copy from the primary is being installed\n"; }
  SyncDir(dir_);
  Status s = RemoveRocksDbFiles(dir_);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(copy_dir, ec)) {
    if (!s.ok()) break;
    fs::rename(entry.path(), fs::path(dir_) / entry.path().filename(), ec);
    if (ec) s = Status::IOError("cannot move '" + entry.path().string() + "': " + ec.message());
  }
  if (s.ok()) {
    SyncDir(dir_);
    s = OpenDb();
  }
  if (s.ok()) {
    fs::remove(marker, ec);
    SyncDir(dir_);
  }
  return s;
}

Status Journal::Open(const JournalOptions& options, std::unique_ptr<Journal>* journal) {
  rocksdb::Env* base = options.env != nullptr ? options.env : rocksdb::Env::Default();
  std::unique_ptr<rocksdb::Env> env =
      rocksdb::NewCompositeEnv(std::make_shared<LogFileSystem>(base->GetFileSystem()));
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.env = env.get();  // the journal owns the Env, which outlives every open of db_
  // A crash can tear the last log record; drop it and keep every earlier (synced) one.
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  opts.paranoid_checks = true;
  opts.max_background_jobs = 2;
  opts.info_log = std::make_shared<CallbackLogger>(options.log);
  opts.avoid_flush_during_shutdown = false;
  // devstate never reads through RocksDB's memtable: the keyspace serves every read and
  // RocksDB is only iterated once, at recovery. An append-only vector memtable makes the
  // insert on the commit path O(1) instead of a skiplist insert (docs/BENCHMARKS.md,
  // "Commit pipeline"). It needs a single memtable writer, which the pipeline is. Ours sorts
  // at flush by key prefixes (store/append_memtable.h; "Journal memtable" there).
  opts.memtable_factory = std::make_shared<AppendMemTableFactory>();
  opts.allow_concurrent_memtable_write = false;
  opts.write_buffer_size = static_cast<size_t>(options.write_buffer_mb) << 20;
  // Replication: the log outlives its memtable this long (or up to this size), so a
  // replica behind can catch up from it (ReadSince).
  opts.WAL_ttl_seconds = options.wal_retention_s;
  opts.WAL_size_limit_MB = options.wal_retention_mb;
  opts.create_missing_column_families = true;
  // The meta family (epoch markers) changes rarely; flushed alone, the data family's flush
  // would leave every log since the last marker pinned by meta's memtable, beyond the
  // retention above. Flushing both together frees a log once its data is in tables.
  opts.atomic_flush = true;

  if (options.env == nullptr) {
    // RocksDB makes only the last directory; an operator's /var/lib/devstate/data should
    // work without a mkdir first. (A test's own Env sees its own file system.)
    std::error_code ec;
    std::filesystem::create_directories(options.dir, ec);
    if (ec)
      return Status::IOError("cannot create directory '" + options.dir + "': " + ec.message());
  }

  std::unique_ptr<Journal> j(new Journal(options.dir, std::move(env), std::move(opts)));
  if (std::filesystem::exists(std::filesystem::path(options.dir) / std::string(kReplacing))) {
    // A full copy was being installed when the process stopped: what is here is neither
    // the old database nor the new one. Start empty; the primary sends a copy again.
    if (options.log) {
      options.log(LogLevel::kWarn, "store: an interrupted full copy is discarded; starting empty");
    }
    Status s = RemoveRocksDbFiles(options.dir);
    if (!s.ok()) return s;
    std::error_code ec;
    std::filesystem::remove(std::filesystem::path(options.dir) / std::string(kReplacing), ec);
  }
  {
    WriteLock lock(&j->db_mu_);
    Status s = j->OpenDb();
    if (!s.ok()) return s;
  }
  *journal = std::move(j);
  return Status::OK();
}

Status Journal::Append(rocksdb::WriteBatch* batch, uint64_t* first, uint64_t* last) {
  ReadLock lock(&db_mu_);
  rocksdb::WriteOptions wo;
  wo.sync = false;  // Sync() follows: the group's replicas are sent it in between
  const uint32_t count = batch->Count();
  if (!db_) return NotOpen();
  rocksdb::Status s = db_->Write(wo, batch);
  if (!s.ok()) return FromRocks(s);
  // Only the pipeline's committing thread writes, so the latest sequence is this batch's last.
  *last = db_->GetLatestSequenceNumber();
  *first = *last + 1 - count;
  return Status::OK();
}

Status Journal::Sync() {
  ReadLock lock(&db_mu_);
  if (!db_) return NotOpen();
  return FromRocks(db_->SyncWAL());
}

Status Journal::Commit(rocksdb::WriteBatch* batch, uint64_t* seq) {
  uint64_t first = 0;
  Status s = Append(batch, &first, seq);
  return s.ok() ? Sync() : s;
}

Status Journal::Resume() {
  // Not RocksDB's Resume(): when the log was empty at the failure (just opened, or just
  // switched by a flush), 7.8's recovery flush keeps that log's writer, which carries the
  // error, and the next write to it aborts on an assertion. Closing and reopening replaces
  // every writer; recovery drops the failed group's torn tail as after a crash, and flushes
  // what the old logs hold. While there is no room the reopen fails and is tried again.
  WriteLock lock(&db_mu_);
  CloseDb();
  return OpenDb();
}

Status Journal::NotOpen() const {
  return Status::NoSpace("the journal is closed until its disk has room to reopen it");
}

Status Journal::ReadSince(uint64_t seq, const GroupFn& fn) {
  ReadLock lock(&db_mu_);
  if (!db_) return Status::IOError(NotOpen().message());
  std::unique_ptr<rocksdb::TransactionLogIterator> it;
  rocksdb::Status s = db_->GetUpdatesSince(seq, &it);
  if (!s.ok())
    return Status::NotFound("the log no longer holds position " + std::to_string(seq) + ": " +
                            s.ToString());
  bool first = true;
  for (; it->Valid(); it->Next()) {
    rocksdb::BatchResult batch = it->GetBatch();
    // The first group returned must begin exactly at `seq` (a group boundary): a log that
    // starts later has lost what a reader needs.
    if (first && batch.sequence > seq) {
      return Status::NotFound("the log starts at " + std::to_string(batch.sequence) + ", after " +
                              std::to_string(seq));
    }
    first = false;
    if (batch.sequence + batch.writeBatchPtr->Count() <= seq) continue;  // wholly before seq
    if (!fn(batch.sequence, batch.writeBatchPtr->Data())) return Status::OK();
  }
  s = it->status();
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s);
  // Nothing at all from a position the journal has passed: its log is gone.
  if (first && seq <= db_->GetLatestSequenceNumber()) {  // db_mu_ is held: not LastSequence()
    return Status::NotFound("the log no longer holds position " + std::to_string(seq));
  }
  return Status::OK();
}

Status Journal::Checkpoint(const std::string& dir, uint64_t* seq) {
  ReadLock lock(&db_mu_);
  if (!db_) return Status::IOError(NotOpen().message());
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return FromRocks(s);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: the memtable is flushed first, so the copy is SST files only
  // (no log to replay).
  uint64_t reported = 0;
  s = checkpoint->CreateCheckpoint(dir, 0, &reported);
  if (!s.ok()) return FromRocks(s);
  // RocksDB reports the position it read before the flush; writes committed meanwhile are in
  // the copy too. What the copy holds is what a database opened on it says.
  rocksdb::DBOptions db_options;
  db_options.info_log = options_.info_log;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"meta", rocksdb::ColumnFamilyOptions()},
      {"fields", rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_copy = nullptr;
  s = rocksdb::DB::OpenForReadOnly(db_options, dir, families, &handles, &raw_copy);
  if (!s.ok()) return FromRocks(s);
  std::unique_ptr<rocksdb::DB> copy(raw_copy);
  *seq = copy->GetLatestSequenceNumber();
  for (auto* h : handles) (void)copy->DestroyColumnFamilyHandle(h);
  return Status::OK();
}

Status Journal::Load(const LoadFn& fn) { return LoadFamily(nullptr, fn); }

Status Journal::LoadMeta(const LoadFn& fn) { return LoadFamily(meta_, fn); }

Status Journal::LoadFields(const LoadFn& fn) { return LoadFamily(fields_, fn); }

Status Journal::LoadFamily(rocksdb::ColumnFamilyHandle* family, const LoadFn& fn) {
  ReadLock lock(&db_mu_);
  if (!db_) return Status::IOError(NotOpen().message());
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(ro, family != nullptr ? family : db_->DefaultColumnFamily()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Status s = fn(std::string_view(it->key().data(), it->key().size()),
                  std::string_view(it->value().data(), it->value().size()));
    if (!s.ok()) return s;
  }
  return FromRocks(it->status());
}

uint64_t Journal::LastSequence() const {
  ReadLock lock(&db_mu_);
  return db_ ? db_->GetLatestSequenceNumber() : closed_seq_;
}

bool Journal::LastKey(std::string* key) const {
  ReadLock lock(&db_mu_);
  if (!db_) return false;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  it->SeekToLast();
  if (!it->Valid()) return false;
  key->assign(it->key().data(), it->key().size());
  return true;
}

uint64_t Journal::BackgroundJobs() const {
  ReadLock lock(&db_mu_);
  if (!db_) return 0;
  uint64_t jobs = 0;
  for (const char* property : {"rocksdb.num-running-flushes", "rocksdb.num-running-compactions",
                               "rocksdb.mem-table-flush-pending", "rocksdb.compaction-pending"}) {
    uint64_t n = 0;
    if (db_->GetIntProperty(property, &n)) jobs += n;
  }
  return jobs;
}

uint64_t Journal::MemtableBytes() const {
  ReadLock lock(&db_mu_);
  uint64_t bytes = 0;
  if (db_) db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &bytes);
  return bytes;
}

}  // namespace devstate
