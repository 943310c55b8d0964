#include "api/auth_throttle.h"

#include <algorithm>
#include <cmath>

namespace devstate::acl {

namespace {
constexpr double kUserBudgetFactor = 3;
}  // namespace

void AuthThrottle::Configure(Options options) {
  absl::MutexLock lock(&mu_);
  options_ = options;
}

void AuthThrottle::Refill(Bucket* b, double budget, Clock::time_point now) const {
  const double seconds = std::chrono::duration<double>(now - b->refilled).count();
  if (seconds <= 0) return;
  b->tokens = std::min(budget, b->tokens + seconds * budget / 10);
  b->refilled = now;
  if (b->tokens >= 1) b->streak = 0;  // the budget is back: a new episode starts at base
}

AuthThrottle::Bucket& AuthThrottle::Get(std::unordered_map<std::string, Bucket>* map,
                                        std::string_view key, double budget,
                                        Clock::time_point now) {
  auto it = map->find(std::string(key));
  if (it == map->end()) {
    if (map->size() >= options_.max_tracked) Trim(map, budget, now);
    it = map->emplace(std::string(key), Bucket{budget, now, now, 0}).first;
  }
  Refill(&it->second, budget, now);
  return it->second;
}

void AuthThrottle::Trim(std::unordered_map<std::string, Bucket>* map, double budget,
                        Clock::time_point now) {
  for (auto it = map->begin(); it != map->end();) {
    Refill(&it->second, budget, now);
    it = it->second.tokens >= budget ? map->erase(it) : std::next(it);
  }
  // Still full of throttled keys: forget some rather than grow without bound.
  while (map->size() >= options_.max_tracked) map->erase(map->begin());
}

// The wait of one more answer to a throttled key: twice the last while failures go on, and
// after the answers already waiting for it.
std::chrono::milliseconds AuthThrottle::Throttled(Bucket* b, Clock::time_point now) const {
  const double factor = std::pow(2.0, std::min(b->streak, 30));
  const auto delay =
      std::min(options_.max_delay, std::chrono::milliseconds(static_cast<int64_t>(
                                       static_cast<double>(options_.base_delay.count()) * factor)));
  const Clock::time_point at = std::max(now, b->next_answer) + delay;
  b->next_answer = at;
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

AuthThrottle::Answer AuthThrottle::BeforeCheck(std::string_view address, Clock::time_point now) {
  absl::MutexLock lock(&mu_);
  Answer answer;
  if (options_.address_budget <= 0) return answer;
  auto it = addresses_.find(std::string(address));
  if (it == addresses_.end()) return answer;
  Refill(&it->second, options_.address_budget, now);
  if (it->second.tokens >= 1) return answer;
  answer.wait = Throttled(&it->second, now);
  answer.throttled = true;
  return answer;
}

AuthThrottle::Answer AuthThrottle::Failed(std::string_view address, std::string_view user,
                                          Clock::time_point now) {
  absl::MutexLock lock(&mu_);
  Answer answer;
  answer.wait = options_.base_delay;
  if (options_.address_budget <= 0) return answer;
  const double budgets[] = {options_.address_budget, options_.address_budget * kUserBudgetFactor};
  std::unordered_map<std::string, Bucket>* maps[] = {&addresses_, &users_};
  const std::string_view keys[] = {address, user};
  for (int i = 0; i < 2; ++i) {
    if (keys[i].empty()) continue;
    Bucket& b = Get(maps[i], keys[i], budgets[i], now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      continue;
    }
    if (b.streak == 0) {
      answer.started += i == 0 ? "address " : "user ";
      answer.started += keys[i];
      answer.started += "; ";
    }
    answer.wait = std::max(answer.wait, Throttled(&b, now));
    ++b.streak;
    answer.throttled = true;
  }
  return answer;
}

}  // namespace devstate::acl
