// Small text helpers every protocol needs the same way: case-insensitive comparison,
// lower-casing, and integer parsing with Redis's exact rules. Pure functions; thread-safe.
//
// ParseInt64 is Redis's string2ll: optional '-', no '+', no leading zeros (only "0"
// itself), no spaces, no trailing bytes, no overflow. A value that parses prints back to
// the same text, which is why Redis uses it for every integer argument (EXPIRE k 0100 is
// an error). ParseCursor is strtoul's looser reading, which Redis uses for SCAN cursors
// ("+0" is cursor 0).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace devstate {

bool EqualsNoCase(std::string_view a, std::string_view b);
std::string Lower(std::string_view s);

// Redis's string2ll.
bool ParseInt64(std::string_view text, int64_t* value);

// Redis's SCAN cursor (strtoul): optional leading spaces and sign, decimal digits, nothing
// after them, no overflow; a '-' wraps as strtoul does.
bool ParseCursor(std::string_view text, uint64_t* value);

// Redis's string2ld for INCRBYFLOAT/HINCRBYFLOAT: a finite long double written without
// spaces ("10.5", "5.0e3", "-inf" is refused). False on anything else.
bool ParseLongDouble(std::string_view text, long double* value);

// Redis's string2d for scores and ZADD-style doubles: like strtod, no spaces, not NaN.
bool ParseDouble(std::string_view text, double* value);

// A long double as Redis prints INCRBYFLOAT results (ld2string's human mode): %.17Lf with
// trailing zeros and a bare '.' trimmed, "-0" as "0", "inf" and "-inf" spelled out.
std::string FormatLongDouble(long double value);

// A double as Redis prints it in replies (d2string's %.17g), "inf" and "-inf" spelled out.
std::string FormatDouble(double value);

}  // namespace devstate
