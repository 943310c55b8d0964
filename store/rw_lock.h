// RwLock: a reader-writer lock that prefers writers, with clang thread-safety annotations.
//
// std::shared_mutex on glibc prefers readers: readers polling one hot key can starve the
// committer, and a starved committer stalls every write in the process. This lock makes
// new readers wait while a writer is waiting. Not recursive. Take it with ReadLock or
// WriteLock (scoped), so clang's -Wthread-safety can check what it guards (GUARDED_BY).
#pragma once

#include <absl/base/thread_annotations.h>
#include <pthread.h>

namespace devstate {

class ABSL_LOCKABLE RwLock {
 public:
  RwLock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~RwLock() { pthread_rwlock_destroy(&lock_); }
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { pthread_rwlock_wrlock(&lock_); }
  void unlock() ABSL_UNLOCK_FUNCTION() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() ABSL_SHARED_LOCK_FUNCTION() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() ABSL_UNLOCK_FUNCTION() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

class ABSL_SCOPED_LOCKABLE ReadLock {
 public:
  explicit ReadLock(RwLock* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) { mu_->lock_shared(); }
  ~ReadLock() ABSL_UNLOCK_FUNCTION() { mu_->unlock_shared(); }
  ReadLock(const ReadLock&) = delete;
  ReadLock& operator=(const ReadLock&) = delete;

 private:
  RwLock* const mu_;
};

class ABSL_SCOPED_LOCKABLE WriteLock {
 public:
  explicit WriteLock(RwLock* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->lock(); }
  ~WriteLock() ABSL_UNLOCK_FUNCTION() { mu_->unlock(); }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

 private:
  RwLock* const mu_;
};

}  // namespace devstate
