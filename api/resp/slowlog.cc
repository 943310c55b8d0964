#include "api/resp/slowlog.h"

#include <fmt/format.h>

#include <algorithm>

namespace devstate::resp {

std::vector<std::string> SlowLog::Kept(const std::vector<std::string>& args) {
  std::vector<std::string> kept;
  const size_t n = std::min(args.size(), kMaxArgs);
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (n < args.size() && i == n - 1) {
      kept.push_back(fmt::format("... ({} more arguments)", args.size() - n + 1));
    } else if (args[i].size() > kMaxArgBytes) {
      kept.push_back(fmt::format("{}... ({} more bytes)",
                                 std::string_view(args[i]).substr(0, kMaxArgBytes),
                                 args[i].size() - kMaxArgBytes));
    } else {
      kept.push_back(args[i]);
    }
  }
  return kept;
}

void SlowLog::Add(int64_t unix_seconds, int64_t micros, std::vector<std::string> kept_args,
                  std::string peer, std::string name) {
  Entry e;
  e.unix_seconds = unix_seconds;
  e.micros = micros;
  e.args = std::move(kept_args);
  e.peer = std::move(peer);
  e.name = std::move(name);
  std::lock_guard lock(mu_);
  e.id = next_id_++;
  entries_.push_front(std::move(e));
  const auto max = static_cast<size_t>(std::max<int64_t>(max_len.load(), 0));
  while (entries_.size() > max) entries_.pop_back();
}

std::vector<SlowLog::Entry> SlowLog::Newest(int64_t count) const {
  std::lock_guard lock(mu_);
  const size_t n =
      count < 0 ? entries_.size() : std::min(entries_.size(), static_cast<size_t>(count));
  return {entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n)};
}

size_t SlowLog::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void SlowLog::Reset() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

}  // namespace devstate::resp
