// LoadResult: what one load run measured, kept per client thread and merged at the end.
//
// Every completed request goes through Ok() and every failure through Error(), so each
// scenario records the same things: counts, a latency histogram (split into reads and
// writes for the mixed scenarios), and completions per second of the run for the
// throughput-over-time chart. A thread's LiveCounter mirrors its counts in atomics the
// driver's progress line reads while the run goes on.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/histogram.h"

namespace devstate::loadgen {

using Clock = std::chrono::steady_clock;

// One writer (a client thread), any number of readers. Own cache line, so two threads'
// counters never share one.
struct alignas(64) LiveCounter {
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> errors{0};

  static void Bump(std::atomic<uint64_t>& c, uint64_t n) {  // single writer: no locked add
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

enum class OpKind { kOther, kRead, kWrite };

struct LoadResult {
  uint64_t requests = 0;    // completed successfully
  uint64_t events = 0;      // device events carried by those requests
  uint64_t errors = 0;      // failed requests or broken connections
  std::string first_error;  // the first error a server replied, for the report's stderr
  double seconds = 0;
  Histogram latency_ns;
  // Mixed scenarios: the latencies split by kind (their counts are the reads and writes).
  Histogram read_latency_ns, write_latency_ns;
  // Completions in each second since `start`.
  std::vector<uint64_t> per_second;
  Clock::time_point start{};
  LiveCounter* live = nullptr;

  void Ok(Clock::time_point now, Clock::duration latency, uint64_t events_carried = 1,
          OpKind kind = OpKind::kOther) {
    const auto ns = static_cast<uint64_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count()));
    ++requests;
    events += events_carried;
    latency_ns.Record(ns);
    if (kind == OpKind::kRead) read_latency_ns.Record(ns);
    if (kind == OpKind::kWrite) write_latency_ns.Record(ns);
    const auto second = static_cast<size_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::seconds>(now - start).count()));
    if (second >= per_second.size()) per_second.resize(second + 1);
    ++per_second[second];
    if (live != nullptr) LiveCounter::Bump(live->done, 1);
  }

  // A completion whose latency is measured elsewhere (Sample), or not at all.
  void Count(Clock::time_point now, uint64_t events_carried = 1) {
    ++requests;
    events += events_carried;
    const auto second = static_cast<size_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::seconds>(now - start).count()));
    if (second >= per_second.size()) per_second.resize(second + 1);
    ++per_second[second];
    if (live != nullptr) LiveCounter::Bump(live->done, 1);
  }
  void Sample(Clock::duration latency) {
    latency_ns.Record(static_cast<uint64_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count())));
  }

  void Error(uint64_t n = 1) {
    errors += n;
    if (live != nullptr) LiveCounter::Bump(live->errors, n);
  }
  // An error the server replied (its text without the leading '-').
  void ErrorReply(std::string_view text) {
    if (first_error.empty()) first_error = text;
    Error();
  }

  void Merge(const LoadResult& other) {
    requests += other.requests;
    events += other.events;
    errors += other.errors;
    if (first_error.empty()) first_error = other.first_error;
    latency_ns.Merge(other.latency_ns);
    read_latency_ns.Merge(other.read_latency_ns);
    write_latency_ns.Merge(other.write_latency_ns);
    if (other.per_second.size() > per_second.size()) per_second.resize(other.per_second.size());
    for (size_t i = 0; i < other.per_second.size(); ++i) per_second[i] += other.per_second[i];
  }
};

}  // namespace devstate::loadgen
