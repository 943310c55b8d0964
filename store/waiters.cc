#include "store/waiters.h"

#include <algorithm>
#include <utility>

namespace devstate {

uint64_t Waiters::Add(Waiter waiter) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  for (const std::string& key : waiter.keys) {
    std::deque<uint64_t>& ids = by_key_[key];
    // BLPOP k k: one turn per waiter, not one per time it names the key.
    if (ids.empty() || ids.back() != id) ids.push_back(id);
  }
  waiting_.emplace(id, std::move(waiter));
  count_.fetch_add(1, std::memory_order_release);
  return id;
}

bool Waiters::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  if (waiting_.find(id) == waiting_.end()) return false;
  EraseLocked(id);
  return true;
}

void Waiters::EraseLocked(uint64_t id) {
  auto it = waiting_.find(id);
  for (const std::string& key : it->second.keys) {
    auto k = by_key_.find(key);
    if (k == by_key_.end()) continue;
    std::deque<uint64_t>& ids = k->second;
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    if (ids.empty()) by_key_.erase(k);
  }
  waiting_.erase(it);
  count_.fetch_sub(1, std::memory_order_release);
}

void Waiters::Serve(std::string_view key, KeyView& view, std::vector<CommitCallback>* served) {
  absl::MutexLock lock(&mu_);
  auto k = by_key_.find(std::string(key));
  if (k == by_key_.end()) return;
  // A copy: serving removes ids from the list being walked.
  const std::vector<uint64_t> ids(k->second.begin(), k->second.end());
  // A key the group removed (DEL, a type's last element) wakes all its waiters: some
  // answer that (XREADGROUP's "no longer exists"), the others keep waiting.
  const bool held = view.Get(key) != nullptr;
  for (uint64_t id : ids) {
    auto it = waiting_.find(id);
    if (it == waiting_.end()) continue;
    const Waiter::Result result = it->second.serve(view);
    if (result == Waiter::Result::kWaiting) continue;
    if (result == Waiter::Result::kServed) served->push_back(std::move(it->second.done));
    EraseLocked(id);
    if (held && !view.Get(key)) return;  // taken to the last: the rest keep waiting
  }
}

std::vector<std::string> Waiters::Keys() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> keys;
  keys.reserve(by_key_.size());
  for (const auto& [key, ids] : by_key_) keys.push_back(key);
  return keys;
}

std::vector<CommitCallback> Waiters::TakeAll() {
  std::vector<CommitCallback> dones;
  absl::MutexLock lock(&mu_);
  for (auto& [id, waiter] : waiting_) dones.push_back(std::move(waiter.done));
  waiting_.clear();
  by_key_.clear();
  count_.store(0, std::memory_order_release);
  return dones;
}

}  // namespace devstate
