// JSONPath as the JSON.* commands read it: RFC 9535's path language without filter
// expressions, plus RedisJSON's legacy paths, which MemoryDB also accepts.
//
//   $                 the root            $.a.b  $['a']["b"]   member names
//   $.a[0]  $.a[-1]   array indices        $.a[0,2]  $['a','b']  unions
//   $.a[1:3]  $.a[::-1]  slices            $.*  $.a[*]           wildcards
//   $..x  $..*  $..[0]   descendants (the node and everything below it, document order)
//
// A path that does not start with `$` is a legacy path: `.` is the root, `.a.b`, `a.b`
// and `a[0]` are `$.a.b`, `$.a.b` and `$.a[0]`. The commands read one value through a
// legacy path and all matches through a JSONPath; Path::legacy tells them which.
//
// Written by hand: Debian packages no C++ JSONPath library (bookworm has Go, Java, Perl,
// Python and Ruby ones), and the path language is part of devstate's API. The parser is
// iterative (no recursion for a hostile path to exhaust), bounded by kMaxSegments, and
// fuzzed (tests/fuzz/jsonpath_fuzz.cc). Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace devstate::jsonpath {

// At most this many segments (`.a`, `[0]`, `..b`) in one path.
inline constexpr size_t kMaxSegments = 256;

struct Selector {
  enum class Kind : uint8_t { kName, kIndex, kWildcard, kSlice };
  Kind kind = Kind::kName;
  std::string name;                   // kName
  int64_t index = 0;                  // kIndex; negative counts from the end
  std::optional<int64_t> start, end;  // kSlice, RFC 9535 §2.3.4
  int64_t step = 1;                   // kSlice; 0 selects nothing

  bool operator==(const Selector&) const = default;
};

struct Segment {
  bool descendant = false;          // `..`: applies to the node and every node below it
  std::vector<Selector> selectors;  // one, or a bracketed union

  bool operator==(const Segment&) const = default;
};

struct Path {
  bool legacy = false;  // did not start with `$`
  std::vector<Segment> segments;

  bool operator==(const Path&) const = default;
};

// Parses `text`; InvalidArgument with what is wrong and its offset otherwise.
Status Parse(std::string_view text, Path* out);

}  // namespace devstate::jsonpath
