// Redis glob-style matching, as KEYS, SCAN MATCH, CONFIG GET and ACL key patterns use it:
// * ? [abc] [^a] [a-z] \x.
#pragma once

#include <string_view>

namespace devstate::api {

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace devstate::api
