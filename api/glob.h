// Redis glob-style matching, as KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE and ACL patterns
// use it: * ? [abc] [^a] [a-z] \x. A port of Redis's stringmatchlen (util.c), quirks
// included, so a pattern selects here exactly the keys it selects in Redis: a range's ends
// may come in either order ([z-a]), a '-' right before the closing bracket makes a range
// with ']' ([a-]b), and an unclosed '[' matches through the end of the pattern. Pure; safe
// from any thread. Runs in O(pattern x text) at worst: a '*' that finds no match for the
// rest stops every earlier '*' from trying longer matches (Redis's skipLongerMatches).
#pragma once

#include <string_view>

namespace devstate::api {

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace devstate::api
