// ProgressLine: one line on stderr, refreshed each second while a load run goes on:
//   [   4/10 s]    48213 req/s     192852 done          0 errors
// On a terminal the line is rewritten in place; otherwise (a log file) each update is a
// line of its own.
#pragma once

#include <cstdint>
#include <cstdio>

#include "loadgen/load_result.h"

namespace devstate::loadgen {

class ProgressLine {
 public:
  ProgressLine(bool enabled, Clock::time_point start, double seconds, std::FILE* out = stderr);

  // The totals so far; prints the rate since the previous update.
  void Update(uint64_t done, uint64_t errors);
  // Ends the line (on a terminal).
  void Finish();

 private:
  bool enabled_;
  bool terminal_;
  std::FILE* out_;
  Clock::time_point start_;
  double seconds_;
  Clock::time_point last_time_;
  uint64_t last_done_ = 0;
  bool printed_ = false;
};

}  // namespace devstate::loadgen
