#include "store/read_waiters.h"

#include <algorithm>
#include <utility>

namespace devstate {

uint64_t ReadWaiters::Add(const std::vector<std::string>& keys, Wake wake) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  Reader& r = readers_[id];
  r.wake = std::make_shared<const Wake>(std::move(wake));
  for (const std::string& key : keys) {
    std::vector<uint64_t>& ids = by_key_[key];
    // XREAD STREAMS k k: one wake per change, not one per time it names the key.
    if (ids.empty() || ids.back() != id) {
      ids.push_back(id);
      r.keys.push_back(key);
    }
  }
  count_.fetch_add(1, std::memory_order_release);
  return id;
}

bool ReadWaiters::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = readers_.find(id);
  if (it == readers_.end()) return false;
  for (const std::string& key : it->second.keys) {
    auto k = by_key_.find(key);
    if (k == by_key_.end()) continue;
    std::vector<uint64_t>& ids = k->second;
    ids.erase(std::find(ids.begin(), ids.end(), id));
    if (ids.empty()) by_key_.erase(k);
  }
  readers_.erase(it);
  count_.fetch_sub(1, std::memory_order_release);
  return true;
}

void ReadWaiters::Changed(std::string_view key) {
  std::vector<std::shared_ptr<const Wake>> wakes;
  {
    absl::MutexLock lock(&mu_);
    auto k = by_key_.find(std::string(key));  // (Debian's abseil hashes no std::string_view)
    if (k == by_key_.end()) return;
    wakes.reserve(k->second.size());
    for (uint64_t id : k->second) wakes.push_back(readers_.at(id).wake);
  }
  Run(wakes);
}

void ReadWaiters::ChangedAll() {
  std::vector<std::pair<uint64_t, std::shared_ptr<const Wake>>> all;
  {
    absl::MutexLock lock(&mu_);
    all.reserve(readers_.size());
    for (const auto& [id, r] : readers_) all.emplace_back(id, r.wake);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::shared_ptr<const Wake>> wakes;
  wakes.reserve(all.size());
  for (auto& [id, wake] : all) wakes.push_back(std::move(wake));
  Run(wakes);
}

void ReadWaiters::Run(const std::vector<std::shared_ptr<const Wake>>& wakes) {
  for (const std::shared_ptr<const Wake>& wake : wakes) (*wake)();
}

}  // namespace devstate
