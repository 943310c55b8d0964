// The authentication failure budget (api/auth_throttle.h), on a clock the test moves.
#include "api/auth_throttle.h"

#include <gtest/gtest.h>

namespace devstate::acl {
namespace {

using std::chrono::milliseconds;
using Clock = AuthThrottle::Clock;

AuthThrottle Throttle() {
  AuthThrottle::Options o;
  o.base_delay = milliseconds(200);
  o.address_budget = 10;
  o.max_delay = milliseconds(10000);
  return AuthThrottle(o);
}

TEST(AuthThrottleTest, FailuresWithinTheBudgetWaitTheBaseDelay) {
  AuthThrottle t = Throttle();
  const Clock::time_point now = Clock::now();
  for (int i = 0; i < 9; ++i) {
    const auto a = t.Failed("10.0.0.1", "alice", now);
    EXPECT_EQ(a.wait, milliseconds(200)) << i;
    EXPECT_FALSE(a.throttled);
  }
  EXPECT_EQ(t.BeforeCheck("10.0.0.1", now).wait, milliseconds(0));
  EXPECT_FALSE(t.Failed("10.0.0.1", "alice", now).throttled);  // the budget's last failure
  EXPECT_GT(t.BeforeCheck("10.0.0.1", now).wait, milliseconds(0)) << "spent: throttled";
}

TEST(AuthThrottleTest, AnAddressPastItsBudgetWaitsOneAfterAnotherLongerEachTime) {
  AuthThrottle t = Throttle();
  const Clock::time_point now = Clock::now();
  for (int i = 0; i < 10; ++i) (void)t.Failed("10.0.0.1", "alice", now);
  const auto first = t.Failed("10.0.0.1", "alice", now);
  EXPECT_TRUE(first.throttled);
  EXPECT_EQ(first.started, "address 10.0.0.1; ");
  const auto second = t.Failed("10.0.0.1", "bob", now);
  const auto third = t.Failed("10.0.0.1", "carol", now);
  // Served one after another (parallel connections gain nothing), each wait doubling.
  EXPECT_GT(second.wait, first.wait);
  EXPECT_GE((third.wait - second.wait).count(), 2 * (second.wait - first.wait).count());
  // Every answer to the address waits now, even before its password is checked.
  EXPECT_GT(t.BeforeCheck("10.0.0.1", now).wait, third.wait);
  // Another address is not held back.
  EXPECT_EQ(t.BeforeCheck("10.0.0.2", now).wait, milliseconds(0));
  // Waits stop doubling at max_delay, past the queue of answers already waiting.
  AuthThrottle::Answer a;
  for (int i = 0; i < 40; ++i) a = t.Failed("10.0.0.1", "x", now);
  const auto b = t.Failed("10.0.0.1", "x", now);
  EXPECT_EQ(b.wait - a.wait, milliseconds(10000));
}

TEST(AuthThrottleTest, ASpentUserStillLetsARightPasswordInFromElsewhere) {
  AuthThrottle t = Throttle();
  const Clock::time_point now = Clock::now();
  // 30 failures for alice from 10 addresses (3 each): no address spends its budget.
  for (int i = 0; i < 30; ++i) {
    EXPECT_FALSE(t.Failed("10.0.1." + std::to_string(i % 10), "alice", now).throttled);
  }
  const auto next = t.Failed("10.0.2.1", "alice", now);
  EXPECT_TRUE(next.throttled) << "alice's own budget is spent";
  EXPECT_EQ(next.started, "user alice; ");
  // A right password is checked after BeforeCheck only: from a fresh address, no wait.
  EXPECT_EQ(t.BeforeCheck("10.0.3.1", now).wait, milliseconds(0));
}

TEST(AuthThrottleTest, TheBudgetRefillsAndTheStreakResets) {
  AuthThrottle t = Throttle();
  Clock::time_point now = Clock::now();
  for (int i = 0; i < 12; ++i) (void)t.Failed("10.0.0.1", "alice", now);
  EXPECT_TRUE(t.Failed("10.0.0.1", "alice", now).throttled);
  now += std::chrono::seconds(60);  // a tenth of the budget per second: full again
  const auto later = t.Failed("10.0.0.1", "alice", now);
  EXPECT_FALSE(later.throttled);
  EXPECT_EQ(later.wait, milliseconds(200));
  EXPECT_EQ(t.BeforeCheck("10.0.0.1", now).wait, milliseconds(0));
}

TEST(AuthThrottleTest, TrackedKeysAreBounded) {
  AuthThrottle::Options o;
  o.base_delay = milliseconds(1);
  o.address_budget = 1;
  o.max_delay = milliseconds(10);
  o.max_tracked = 100;
  AuthThrottle t(o);
  Clock::time_point now = Clock::now();
  for (int i = 0; i < 10000; ++i) {
    (void)t.Failed("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256),
                   "u" + std::to_string(i), now);
  }
  // No assertion on internals: this runs under ASan/LSan in bounded memory and time; the
  // next failure of a recent address is still counted.
  (void)t.Failed("10.1.39.15", "u9999", now);
  EXPECT_TRUE(t.Failed("10.1.39.15", "u9999", now).throttled);
}

TEST(AuthThrottleTest, NoBudgetMeansOnlyTheBaseDelay) {
  AuthThrottle::Options o;
  o.base_delay = milliseconds(200);
  o.address_budget = 0;
  AuthThrottle t(o);
  const Clock::time_point now = Clock::now();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(t.Failed("a", "u", now).wait, milliseconds(200));
  EXPECT_EQ(t.BeforeCheck("a", now).wait, milliseconds(0));
}

}  // namespace
}  // namespace devstate::acl
