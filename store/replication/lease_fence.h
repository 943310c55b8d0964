// LeaseFence: how long this primary may still act as the shard's primary (DESIGN.md §5,
// control plane). The controller extends it after each renewal of its etcd lease to a
// deadline that falls before the lease could lapse in etcd; the hub admits writes and
// answers them only before that deadline, so a primary cut off from etcd acknowledges
// nothing once another node could have been promoted, whatever its controller thread is
// doing. Without a control plane the fence is off and always open.
//
// Thread safety: every method is safe from any thread (atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace devstate::replication {

class LeaseFence {
 public:
  using Clock = std::chrono::steady_clock;

  // Turns the fence on, closed until the first ExtendTo.
  void Enable() {
    deadline_ns_.store(0, std::memory_order_release);
    enabled_.store(true, std::memory_order_release);
  }
  bool enabled() const { return enabled_.load(std::memory_order_acquire); }
  // Open until `deadline`.
  void ExtendTo(Clock::time_point deadline) {
    deadline_ns_.store(deadline.time_since_epoch().count(), std::memory_order_release);
  }
  // Closed from now.
  void Close() { deadline_ns_.store(0, std::memory_order_release); }
  bool Open() const { return !enabled() || Clock::now() < deadline(); }
  Clock::time_point deadline() const {
    return Clock::time_point(Clock::duration(deadline_ns_.load(std::memory_order_acquire)));
  }

 private:
  std::atomic<bool> enabled_{false};
  std::atomic<int64_t> deadline_ns_{0};
};

}  // namespace devstate::replication
