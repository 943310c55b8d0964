#include "service/expiry_sweeper.h"

#include <string>
#include <vector>

#include "store/thread_name.h"

namespace devstate {

void ExpirySweeper::Start() {
  thread_ = std::thread([this] {
    SetThreadName("ds-expiry");
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      // A full slice of expired keys means there are probably more: go on without waiting.
      const bool busy = SweepOnce() >= keys_per_pass_ / 4;
      lock.lock();
      if (!busy) cv_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  });
}

void ExpirySweeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

size_t ExpirySweeper::SweepOnce() {
  const int64_t now = store_->NowMs();
  std::vector<std::string> expired;
  cursor_ = store_->keyspace().Scan(cursor_, keys_per_pass_,
                                    [&](const std::string& key, const RecordPtr& r) {
                                      if (r->ExpiredAt(now)) expired.push_back(key);
                                    });
  if (expired.empty()) return 0;
  std::vector<Mutation> mutations;
  mutations.reserve(expired.size());
  for (std::string& key : expired) {
    // Handed an expired record, the pipeline deletes it; handed a live one (rewritten
    // since the scan), it keeps it, since this mutation changes nothing.
    mutations.push_back(Mutation{std::move(key), [](const RecordPtr&) { return Change::None(); }});
  }
  const size_t n = mutations.size();
  if (store_->WriteAndWait(std::move(mutations)).ok())
    expired_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

}  // namespace devstate
