#include "api/glob.h"

#include <cctype>
#include <utility>

namespace devstate::api {

bool GlobMatch(std::string_view p, std::string_view s, bool nocase) {
  auto eq = [nocase](char a, char b) {
    return nocase ? std::tolower(static_cast<unsigned char>(a)) ==
                        std::tolower(static_cast<unsigned char>(b))
                  : a == b;
  };
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      const char c = p[pi];
      if (c == '*') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (c == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (c == '[') {
        size_t j = pi + 1;
        const bool negate = j < p.size() && p[j] == '^';
        if (negate) ++j;
        bool matched = false;
        while (j < p.size() && p[j] != ']') {
          if (p[j] == '\\' && j + 1 < p.size()) {
            matched = matched || eq(p[j + 1], s[si]);
            j += 2;
          } else if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
            char lo = p[j], hi = p[j + 2];
            if (lo > hi) std::swap(lo, hi);
            char c2 = s[si];
            if (nocase) {
              c2 = static_cast<char>(std::tolower(static_cast<unsigned char>(c2)));
              lo = static_cast<char>(std::tolower(static_cast<unsigned char>(lo)));
              hi = static_cast<char>(std::tolower(static_cast<unsigned char>(hi)));
            }
            matched = matched || (c2 >= lo && c2 <= hi);
            j += 3;
          } else {
            matched = matched || eq(p[j], s[si]);
            ++j;
          }
        }
        if (matched != negate) {
          pi = j < p.size() ? j + 1 : j;
          ++si;
          continue;
        }
      } else if (c == '\\' && pi + 1 < p.size()) {
        if (eq(p[pi + 1], s[si])) {
          pi += 2;
          ++si;
          continue;
        }
      } else if (eq(c, s[si])) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace devstate::api
