// Reporting a load run: a summary of a LoadResult, its JSON form (what --json writes and
// `devstate-loadgen report` reads back), and a self-contained HTML report with two inline
// SVG charts -- latency by percentile and throughput over time -- for one run or several
// overlaid (devstate next to redis-server). No scripts, fonts or network needed to view it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loadgen/load_result.h"

namespace devstate::loadgen {

struct LatencySummary {
  uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // microseconds
  // (quantile, microseconds) from p0 to the deepest percentile the sample supports, then max.
  std::vector<std::pair<double, double>> curve;
};

struct RunSummary {
  std::string name;  // the run's label, e.g. "devstate resp-get -c 50 -P 16"
  double seconds = 0;
  uint64_t requests = 0, events = 0, errors = 0;
  LatencySummary latency;
  std::optional<LatencySummary> reads, writes;  // mixed scenarios only
  std::vector<uint64_t> per_second;             // completions in each second of the run

  double requests_per_second() const { return seconds > 0 ? requests / seconds : 0; }
  double events_per_second() const { return seconds > 0 ? events / seconds : 0; }
};

LatencySummary Summarize(const Histogram& latency_ns);
RunSummary Summarize(std::string name, const LoadResult& result);

// The rows a run shows in a results table: the run, then its reads and its writes if it
// is a mixed run.
struct TableRow {
  std::string name;
  double requests_per_second, events_per_second;
  uint64_t errors;
  const LatencySummary* latency;  // into the RunSummary
};
std::vector<TableRow> TableRows(const RunSummary& run);

std::string ToJson(const RunSummary& run);
// Parses what ToJson wrote; false with *error on anything else.
bool FromJson(std::string_view json, RunSummary* run, std::string* error);

std::string RenderHtml(std::string_view title, const std::vector<RunSummary>& runs);

}  // namespace devstate::loadgen
