// The values the crash test writes: self-describing, so a torn or mixed-up value is
// detected. A value is "<round>:<n>:<len>:" followed by `len` bytes derived from the key,
// round and n.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace devstate::crash {

struct Stamp {
  uint64_t round = 0;
  uint64_t n = 0;
  bool operator<(const Stamp& o) const { return round != o.round ? round < o.round : n < o.n; }
};

inline std::string Body(std::string_view key, Stamp s, size_t len) {
  uint64_t x = 0x9e3779b97f4a7c15ull ^ (s.round * 1000003) ^ (s.n * 7919);
  for (char c : key) x = (x ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  std::string body(len, '\0');
  for (size_t i = 0; i < len; ++i) {
    x ^= x >> 13;
    x *= 0xff51afd7ed558ccdull;
    body[i] = static_cast<char>('a' + (x >> 59) % 26);
  }
  return body;
}

inline std::string MakeValue(std::string_view key, Stamp s) {
  const size_t len = 16 + (s.n * 131 + s.round * 17) % 3000;
  char head[64];
  std::snprintf(head, sizeof head, "%llu:%llu:%zu:", static_cast<unsigned long long>(s.round),
                static_cast<unsigned long long>(s.n), len);
  return head + Body(key, s, len);
}

// Parses and checks a stored value; false if it is torn or not one of ours.
inline bool CheckValue(std::string_view key, std::string_view value, Stamp* out) {
  unsigned long long round = 0, n = 0;
  size_t len = 0;
  int consumed = 0;
  const std::string copy(value.substr(0, 64));
  if (std::sscanf(copy.c_str(), "%llu:%llu:%zu:%n", &round, &n, &len, &consumed) != 3) return false;
  if (value.size() != static_cast<size_t>(consumed) + len) return false;
  Stamp s{round, n};
  if (value.substr(consumed) != Body(key, s, len)) return false;
  *out = s;
  return true;
}

}  // namespace devstate::crash
