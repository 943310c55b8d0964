// Metrics: the counters and histograms behind GET /metrics (Prometheus text format).
//
// Everything is a relaxed atomic, updated where the event happens (HTTP sessions, the RESP
// server, the commit pipeline's observer) and read when /metrics renders; a scrape sees
// each value as of some instant, not one snapshot of all. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace devstate {

// A Prometheus histogram with fixed upper bounds.
class MetricHistogram {
 public:
  explicit MetricHistogram(std::initializer_list<double> bounds);
  void Observe(double value);
  // Appends `name`_bucket/_sum/_count lines (HELP and TYPE included).
  void Render(std::string_view name, std::string_view help, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum in millionths, so it can be atomic
};

struct Metrics {
  Metrics();

  std::array<std::atomic<uint64_t>, 600> http_responses{};  // by status code
  std::atomic<int64_t> http_connections{0};
  std::atomic<uint64_t> http_streams_dropped{0};  // event streams cut off for falling behind
  std::atomic<int64_t> resp_connections{0};
  std::atomic<uint64_t> resp_commands{0};
  std::atomic<uint64_t> auth_failures{0};   // failed RESP AUTH/HELLO and HTTP credentials
  std::atomic<uint64_t> auth_throttled{0};  // authentication answers held by the failure budget
  std::atomic<uint64_t> tls_handshake_failures{0};  // HTTP and RESP listeners
  MetricHistogram commit_group_mutations;           // mutations per journal group
  MetricHistogram commit_seconds;                   // journal write + fsync per group
  MetricHistogram replica_ack_seconds;              // a group's append to its replicas' quorum
  MetricHistogram lease_renew_seconds;              // one etcd lease renewal (control plane)

  void ObserveGroup(size_t mutations, int64_t micros) {
    commit_group_mutations.Observe(static_cast<double>(mutations));
    commit_seconds.Observe(static_cast<double>(micros) / 1e6);
  }
};

// Appends a counter or gauge with HELP and TYPE lines.
void RenderMetric(std::string_view name, std::string_view type, std::string_view help, double value,
                  std::string* out);

}  // namespace devstate
