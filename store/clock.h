// The store's default wall clock: Unix epoch milliseconds, for expiry. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace devstate {

inline int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace devstate
