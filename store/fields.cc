#include "store/fields.h"

#include "store/keyspace.h"

namespace devstate {

uint64_t FieldMap::Hash(std::string_view name) {
  const uint64_t h = Keyspace::Hash(name);
  return h == 0 ? 1 : h;
}

const std::string* FieldMap::Find(std::string_view name) const {
  auto it = map_.find(Probe{Hash(name), name});
  return it == map_.end() ? nullptr : &it->second;
}

bool FieldMap::Set(std::string_view name, std::string value) {
  const uint64_t hash = Hash(name);
  auto it = map_.find(Probe{hash, name});
  if (it != map_.end()) {
    it->second = std::move(value);
    return false;
  }
  map_.emplace(Key{hash, std::string(name)}, std::move(value));
  return true;
}

bool FieldMap::Erase(std::string_view name) {
  auto it = map_.find(Probe{Hash(name), name});
  if (it == map_.end()) return false;
  map_.erase(it);
  return true;
}

void FieldMap::ForEach(const FieldFn& fn) const {
  for (const auto& [key, value] : map_) fn(key.name, value);
}

uint64_t FieldMap::Scan(uint64_t cursor, size_t count, const FieldFn& fn) const {
  if (count == 0) count = 1;
  auto it = map_.lower_bound(Probe{cursor, std::string_view()});
  size_t visited = 0;
  while (it != map_.end()) {
    if (visited >= count && it->first.hash != std::prev(it)->first.hash) return it->first.hash;
    fn(it->first.name, it->second);
    ++visited;
    ++it;
  }
  return 0;
}

namespace {

void PutLength(std::string* out, std::string_view key) {
  const auto n = static_cast<uint32_t>(key.size());
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(n >> shift));
}

}  // namespace

std::string FieldJournalKey(std::string_view key, std::string_view name) {
  std::string out;
  out.reserve(4 + key.size() + name.size());
  PutLength(&out, key);
  out.append(key);
  out.append(name);
  return out;
}

std::string FieldRangeBegin(std::string_view key) { return FieldJournalKey(key, {}); }

std::string FieldRangeEnd(std::string_view key) {
  // The prefix's successor: the last byte below 0xff incremented, what follows dropped.
  // The length's top byte is never 0xff (keys are far below 4 GiB), so one exists.
  std::string end = FieldRangeBegin(key);
  while (static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  return end;
}

bool ParseFieldJournalKey(std::string_view journal_key, std::string_view* key,
                          std::string_view* name) {
  if (journal_key.size() < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(journal_key[i]);
  journal_key.remove_prefix(4);
  if (n > journal_key.size()) return false;
  *key = journal_key.substr(0, n);
  *name = journal_key.substr(n);
  return true;
}

}  // namespace devstate
