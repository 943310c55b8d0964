#include "loadgen/progress.h"

#include <fmt/format.h>
#include <unistd.h>

namespace devstate::loadgen {

ProgressLine::ProgressLine(bool enabled, Clock::time_point start, double seconds, std::FILE* out)
    : enabled_(enabled),
      terminal_(isatty(fileno(out)) == 1),
      out_(out),
      start_(start),
      seconds_(seconds),
      last_time_(start) {}

void ProgressLine::Update(uint64_t done, uint64_t errors) {
  if (!enabled_) return;
  const auto now = Clock::now();
  const double interval = std::chrono::duration<double>(now - last_time_).count();
  const double rate = interval > 0 ? static_cast<double>(done - last_done_) / interval : 0;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  fmt::print(out_, "{}[{:>4.0f}/{:.0f} s] {:>10.0f} req/s {:>12} done {:>10} errors{}",
             terminal_ ? "\r" : "", elapsed, seconds_, rate, done, errors, terminal_ ? "" : "\n");
  std::fflush(out_);
  last_time_ = now;
  last_done_ = done;
  printed_ = true;
}

void ProgressLine::Finish() {
  if (enabled_ && terminal_ && printed_) fmt::print(out_, "\n");
}

}  // namespace devstate::loadgen
