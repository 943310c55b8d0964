#include "api/glob.h"

#include <cctype>
#include <utility>

namespace devstate::api {
namespace {

// Redis's C code reads pattern[1] and *pattern past the end, where its strings hold a
// terminating NUL; At() gives the same answer without reading out of bounds.
char At(std::string_view s, size_t i) { return i < s.size() ? s[i] : '\0'; }

// Redis compares C chars, which are signed here: a range like [a-\xff] orders its ends as
// signed values, as Redis does.
int Char(char c) { return static_cast<int>(static_cast<signed char>(c)); }
int Fold(int c, bool nocase) { return nocase && c >= 0 ? std::tolower(c) : c; }

bool Match(std::string_view p, std::string_view s, bool nocase, bool* skip_longer) {
  while (!p.empty() && !s.empty()) {
    switch (p[0]) {
      case '*': {
        while (p.size() > 1 && p[1] == '*') p.remove_prefix(1);
        if (p.size() == 1) return true;
        while (!s.empty()) {
          if (Match(p.substr(1), s, nocase, skip_longer)) return true;
          if (*skip_longer) return false;
          s.remove_prefix(1);
        }
        *skip_longer = true;
        return false;
      }
      case '?':
        s.remove_prefix(1);
        break;
      case '[': {
        p.remove_prefix(1);
        const bool negate = At(p, 0) == '^';
        if (negate) p.remove_prefix(1);
        bool match = false;
        for (;;) {
          if (At(p, 0) == '\\' && p.size() >= 2) {
            p.remove_prefix(1);
            if (p[0] == s[0]) match = true;
          } else if (At(p, 0) == ']') {
            break;
          } else if (p.empty()) {
            // Unclosed: Redis steps back onto the last character and stops there.
            break;
          } else if (p.size() >= 3 && p[1] == '-') {
            int start = Char(p[0]);
            int end = Char(p[2]);
            if (start > end) std::swap(start, end);
            start = Fold(start, nocase);
            end = Fold(end, nocase);
            const int c = Fold(Char(s[0]), nocase);
            p.remove_prefix(2);
            if (c >= start && c <= end) match = true;
          } else if (Fold(Char(p[0]), nocase) == Fold(Char(s[0]), nocase)) {
            match = true;
          }
          p.remove_prefix(1);
        }
        if (negate) match = !match;
        if (!match) return false;
        s.remove_prefix(1);
        if (p.empty()) return s.empty();  // the unclosed class consumed the pattern
        break;
      }
      case '\\':
        if (p.size() >= 2) p.remove_prefix(1);
        [[fallthrough]];
      default:
        if (Fold(Char(p[0]), nocase) != Fold(Char(s[0]), nocase)) return false;
        s.remove_prefix(1);
        break;
    }
    p.remove_prefix(1);
    if (s.empty()) {
      while (!p.empty() && p[0] == '*') p.remove_prefix(1);
      break;
    }
  }
  return p.empty() && s.empty();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase) {
  bool skip_longer = false;
  return Match(pattern, text, nocase, &skip_longer);
}

}  // namespace devstate::api
