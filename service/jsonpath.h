// JSONPath as the JSON.* commands read it: RFC 9535's path language, plus RedisJSON's
// legacy paths, which MemoryDB also accepts.
//
//   $                 the root            $.a.b  $['a']["b"]   member names
//   $.a[0]  $.a[-1]   array indices        $.a[0,2]  $['a','b']  unions
//   $.a[1:3]  $.a[::-1]  slices            $.*  $.a[*]           wildcards
//   $..x  $..*  $..[0]   descendants (the node and everything below it, document order)
//   $.a[?@.t > 30]  $[?(@.on == true && @.id != 'x')]  $..[?@.alarm]  filters (below)
//
// A path that does not start with `$` is a legacy path: `.` is the root, `.a.b`, `a.b`
// and `a[0]` are `$.a.b`, `$.a.b` and `$.a[0]`. The commands read one value through a
// legacy path and all matches through a JSONPath; Path::legacy tells them which.
//
// Filters (RFC 9535 §2.3.5) select the children of a node (an array's elements, an
// object's member values) for which an expression holds: `||`, `&&`, `!`, parentheses,
// comparisons `== != < <= > >=` between literals (numbers, 'strings', "strings", true,
// false, null), singular queries (`@` the child, `$` the root, then names and indexes
// only) and value functions, existence tests of any query (`?@.alarm`, `?@..x`), and
// RFC 9535's function extensions, type-checked as §2.4.3 requires:
//   length(v)  a string's characters, an array's elements, an object's members (a value)
//   count(q)   the nodes a query selects (a value)
//   value(q)   the one node a query selects, else nothing (a value)
//   match(s, r), search(s, r)  whether string s matches I-Regexp r (RFC 9485) whole, or
//              anywhere (a test)
// and RedisJSON's `s =~ r` (a test: r, a string literal or singular query, in Rust's regex
// syntax, matched anywhere in s). RedisJSON's `?(...)` form is the parenthesized one.
// Regular expressions run on RE2 (linear time, bounded memory); one that does not compile
// matches nothing.
//
// Written by hand: Debian packages no C++ JSONPath library (bookworm has Go, Java, Perl,
// Python and Ruby ones), and the path language is part of devstate's API. The parser is
// iterative over segments; only filters nest, at most kMaxFilterDepth deep, and all the
// segments of a path and the terms of its filters count against kMaxSegments. It is
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

// Filters nest (parentheses, `!`, a filter inside a filter's query) at most this deep.
inline constexpr size_t kMaxFilterDepth = 32;

struct Segment;

// One node of a filter expression; a filter is a tree of them in one vector
// (Selector::filter), each operand an index into it.
struct FilterNode {
  enum class Kind : uint8_t {
    kOr,
    kAnd,
    kNot,
    kCompare,
    kExists,
    kQuery,
    kLiteral,
    kFunction,  // a function extension; its arguments are left (and right)
    kRegex,     // RedisJSON's `left =~ right`
  };
  enum class Compare : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
  enum class Literal : uint8_t { kNumber, kString, kTrue, kFalse, kNull };
  enum class Function : uint8_t { kLength, kCount, kValue, kMatch, kSearch };
  Kind kind = Kind::kLiteral;
  int32_t left = -1;   // kOr kAnd kCompare kRegex kFunction; the operand of kNot and kExists
  int32_t right = -1;  // kOr kAnd kCompare kRegex; match()'s and search()'s second argument
  Function function = Function::kLength;
  Compare compare = Compare::kEq;
  // kQuery: from `@` (the child being filtered) or `$` (the document's root).
  bool relative = true;
  std::vector<Segment> segments;
  // kLiteral.
  Literal literal = Literal::kNull;
  double number = 0;
  bool integer = false;  // the number was written as an integer that int64 holds
  int64_t int_value = 0;
  std::string string;

  bool operator==(const FilterNode&) const;
};

struct Selector {
  enum class Kind : uint8_t { kName, kIndex, kWildcard, kSlice, kFilter };
  Kind kind = Kind::kName;
  std::string name;                   // kName
  int64_t index = 0;                  // kIndex; negative counts from the end
  std::optional<int64_t> start, end;  // kSlice, RFC 9535 §2.3.4
  int64_t step = 1;                   // kSlice; 0 selects nothing
  std::vector<FilterNode> filter;     // kFilter: the expression's nodes
  int32_t filter_root = -1;           // kFilter: the node the expression is

  bool operator==(const Selector&) const = default;
};

struct Segment {
  bool descendant = false;          // `..`: applies to the node and every node below it
  std::vector<Selector> selectors;  // one, or a bracketed union

  bool operator==(const Segment&) const = default;
};

// Written out: clang 14 crashes on a defaulted comparison through this recursion.
inline bool FilterNode::operator==(const FilterNode& o) const {
  return kind == o.kind && left == o.left && right == o.right && compare == o.compare &&
         function == o.function && relative == o.relative && segments == o.segments &&
         literal == o.literal && number == o.number && integer == o.integer &&
         int_value == o.int_value && string == o.string;
}

struct Path {
  bool legacy = false;  // did not start with `$`
  std::vector<Segment> segments;

  bool operator==(const Path&) const = default;
};

// Parses `text`; InvalidArgument with what is wrong and its offset otherwise.
Status Parse(std::string_view text, Path* out);

}  // namespace devstate::jsonpath
