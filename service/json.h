// Small helpers for writing JSON text by hand on hot paths (responses, records), where a
// DOM would only add allocations. Pure functions; thread-safe.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace devstate {

// Appends `s` as a JSON string literal. `s` must be valid UTF-8 (it comes from parsed JSON
// or from a checked alphabet); only what JSON requires is escaped.
inline void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(*out), "\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

}  // namespace devstate
