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
  // Which keys this pass removed (an apply handed null: the group found the key expired
  // and deleted it), for the "expired" events sent once the deletes are committed.
  const bool notify = notifier_ != nullptr && notifier_->Wants(Notifier::kExpired);
  auto removed = std::make_shared<std::vector<std::string>>();
  for (std::string& key : expired) {
    // Handed an expired record, the pipeline deletes it; handed a live one (rewritten
    // since the scan), it keeps it, since this mutation changes nothing.
    Mutation m{std::move(key), nullptr};
    m.apply = [removed, notify, key = notify ? m.key : std::string()](const RecordPtr& current) {
      if (notify && !current) removed->push_back(key);
      return Change::None();
    };
    mutations.push_back(std::move(m));
  }
  const size_t n = mutations.size();
  if (store_->WriteAndWait(std::move(mutations)).ok()) {
    expired_.fetch_add(n, std::memory_order_relaxed);
    for (const std::string& key : *removed) notifier_->Notify(Notifier::kExpired, "expired", key);
  }
  return n;
}

}  // namespace devstate
