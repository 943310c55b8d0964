// RFC 3339 timestamps <-> Unix epoch milliseconds (UTC). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace devstate {

// Parses "2026-11-22T08:00:00Z", "2026-11-22t08:00:00.5+02:00", ...: any offset, any number
// of fraction digits (kept to the millisecond). Nullopt if the text is not RFC 3339 or
// the date does not exist. Years 0000-9999 only.
std::optional<int64_t> ParseRfc3339(std::string_view text);

// "YYYY-MM-DDTHH:MM:SS.mmmZ". `ms` must be within years 0000-9999.
std::string FormatRfc3339(int64_t ms);

// The bounds of the representable range, as epoch milliseconds.
inline constexpr int64_t kMinTimeMs = -62167219200000;  // 0000-01-01T00:00:00Z
inline constexpr int64_t kMaxTimeMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

}  // namespace devstate
