#include "service/metrics.h"

#include <fmt/format.h>

namespace devstate {

MetricHistogram::MetricHistogram(std::initializer_list<double> bounds)
    : bounds_(bounds), counts_(bounds.size() + 1) {}

void MetricHistogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<uint64_t>(value * 1e6), std::memory_order_relaxed);
}

void MetricHistogram::Render(std::string_view name, std::string_view help, std::string* out) const {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    fmt::format_to(std::back_inserter(*out), "{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i],
                   cumulative);
  }
  cumulative += counts_.back().load(std::memory_order_relaxed);
  fmt::format_to(std::back_inserter(*out), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n",
                 name, cumulative, name,
                 static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6, name,
                 cumulative);
}

Metrics::Metrics()
    : commit_group_mutations({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 8192}),
      commit_seconds(
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}),
      replica_ack_seconds(
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5}),
      lease_renew_seconds({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void RenderMetric(std::string_view name, std::string_view type, std::string_view help, double value,
                  std::string* out) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name,
                 type, name, value);
}

}  // namespace devstate
