// FaultFs: a RocksDB FileSystem that can fail or hold the journal's syncs, leveldb
// fault_injection_test-style. Only write-ahead-log files (*.log) are affected, so opening
// and closing the database stays normal. Thread-safe.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

namespace devstate::testing {

class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  FaultFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FaultFs"; }

  // Every later journal sync fails with an I/O error.
  void FailSyncs(bool fail) { fail_syncs_ = fail; }
  // Every later append to the journal fails as on a full disk (ENOSPC).
  void FailAppendsNoSpace(bool fail) { fail_appends_ = fail; }

  // While held, journal syncs block (before reaching the disk) until Release.
  void HoldSyncs() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void ReleaseSyncs() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Waits until `n` syncs are blocked by HoldSyncs; false after the deadline.
  bool WaitForBlockedSyncs(int n, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return blocked_ >= n; });
  }
  int syncs() const { return syncs_.load(); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok() && name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) {
      *result = std::make_unique<Wal>(std::move(*result), this);
    }
    return s;
  }

 private:
  class Wal : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    Wal(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFs* fs)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
      if (fs_->fail_appends_) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(data, o, d);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* d) override {
      if (fs_->fail_appends_) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(data, o, info, d);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      rocksdb::IOStatus s = fs_->BeforeSync();
      return s.ok() ? target()->Sync(o, d) : s;
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      rocksdb::IOStatus s = fs_->BeforeSync();
      return s.ok() ? target()->Fsync(o, d) : s;
    }

   private:
    FaultFs* fs_;
  };

  rocksdb::IOStatus BeforeSync() {
    {
      std::unique_lock lock(mu_);
      ++blocked_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !held_; });
      --blocked_;
    }
    ++syncs_;
    if (fail_syncs_) return rocksdb::IOStatus::IOError("injected sync failure");
    return rocksdb::IOStatus::OK();
  }

  std::atomic<bool> fail_syncs_{false};
  std::atomic<bool> fail_appends_{false};
  std::atomic<int> syncs_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;  // guarded by mu_
  int blocked_ = 0;    // guarded by mu_
};

// An Env over a FaultFs, for StoreOptions::env.
struct FaultEnv {
  std::shared_ptr<FaultFs> fs = std::make_shared<FaultFs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
};

}  // namespace devstate::testing
