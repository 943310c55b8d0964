// AuthThrottle: a budget of failed authentications per source address and per user, shared
// by every connection and by RESP and HTTP, so a password guesser gains nothing from more
// connections (a pause per connection did not stop one that opened a connection per guess:
// ~11.5k guesses/s over RESP).
//
// Each address and each user has a token bucket of failures: `address_budget` (and three
// times that for a user), refilled at a tenth of the budget per second. A wrong password
// costs a token, and its answer waits `base_delay`. Once a bucket is empty its key is
// throttled until the bucket refills:
//   - an empty address: every answer to it, right or wrong, waits, and the waits are
//     served one after another for that address (parallel connections gain nothing), each
//     twice the last while failures go on, up to `max_delay`;
//   - an empty user: wrong answers for that user wait the same way; a right password is
//     answered at once, so a user whose budget a guesser spent from elsewhere still gets in.
// The throttle is told of failures and answers how long to wait; it never blocks. It keeps
// at most `max_tracked` keys, dropping the ones whose bucket is full. Thread-safe.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace devstate::acl {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds base_delay{0};  // acl.auth_failure_delay_ms
    double address_budget = 0;                // acl.auth_failure_budget
    std::chrono::milliseconds max_delay{0};   // acl.auth_max_delay_ms
    size_t max_tracked = 100000;
  };

  AuthThrottle() = default;
  explicit AuthThrottle(Options options) : options_(options) {}
  void Configure(Options options);

  struct Answer {
    std::chrono::milliseconds wait{0};  // how long the answer must wait
    bool throttled = false;             // the budget, not just base_delay, made it wait
    std::string started;  // "address 1.2.3.4; " or "user bob; ": keys this made throttled
  };

  // Before a password from `address` is checked: any answer to it waits this long (0
  // unless the address is throttled).
  Answer BeforeCheck(std::string_view address, Clock::time_point now);
  // A wrong password from `address` for `user` (empty: no user, a bearer token): counts it
  // and says how long its answer waits.
  Answer Failed(std::string_view address, std::string_view user, Clock::time_point now);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point refilled;
    Clock::time_point next_answer;  // a throttled key's answers are served one at a time
    int streak = 0;                 // failures since the bucket emptied
  };

  Bucket& Get(std::unordered_map<std::string, Bucket>* map, std::string_view key, double budget,
              Clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Refill(Bucket* b, double budget, Clock::time_point now) const;
  std::chrono::milliseconds Throttled(Bucket* b, Clock::time_point now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Trim(std::unordered_map<std::string, Bucket>* map, double budget, Clock::time_point now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  Options options_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Bucket> addresses_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Bucket> users_ ABSL_GUARDED_BY(mu_);
};

}  // namespace devstate::acl
