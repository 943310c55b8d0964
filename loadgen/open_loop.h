// OpenLoopSchedule: when each request of an open-loop run is meant to be sent.
//
// A fixed arrival rate is split evenly over the connections; each connection's k-th
// request is due at start + offset + k * interval whether or not the previous one has
// come back. Latency is measured from that intended time, not from when the request
// actually left: a server that stalls shows its stall in every request that queued behind
// it (no coordinated omission).
#pragma once

#include <chrono>
#include <cstdint>

namespace devstate::loadgen {

class OpenLoopSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  // `rate`: requests per second for the whole run; this connection is `id` of `connections`.
  OpenLoopSchedule(Clock::time_point start, double rate, int connections, int id)
      : start_(start),
        interval_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(connections / rate))),
        offset_(interval_ * id / connections) {}

  // The intended send time of the next request (advances the schedule).
  Clock::time_point Next() { return start_ + offset_ + interval_ * static_cast<int64_t>(sent_++); }
  Clock::duration interval() const { return interval_; }
  uint64_t scheduled() const { return sent_; }

 private:
  Clock::time_point start_;
  Clock::duration interval_;
  Clock::duration offset_;
  uint64_t sent_ = 0;
};

}  // namespace devstate::loadgen
