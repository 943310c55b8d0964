#include "store/fields.h"

#include <algorithm>
#include <cstring>

#include "store/keyspace.h"

namespace devstate {

uint64_t FieldMap::Hash(std::string_view name) {
  const uint64_t h = Keyspace::Hash(name);
  return h == 0 ? 1 : h;
}

namespace {

// Starts loading the reference counts of a branch's children. A copy or a release of a
// branch updates one count per child, each in its own cold cache line; issued one after
// another, those atomic updates took one memory latency each. Prefetched together, their
// misses overlap.
template <typename Children>
void PrefetchCounts(const Children& children) {
  for (const auto& c : children) {
    // make_shared keeps the count just before the object; prefetch never faults.
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(c.get()) - 8), 1);
  }
}

// Starts loading every cache line of a leaf's buffer. A leaf is read entry by entry, each
// entry's size giving the next one's place, so a cold leaf cost one memory latency per line
// in turn (most of a write's time on a large hash); a write then copies all of it anyway.
void PrefetchLeaf(const std::string& packed) {
  for (size_t at = 0; at < packed.size(); at += 64) __builtin_prefetch(packed.data() + at);
}

// Entries are ordered by (hash, name).
bool Before(uint64_t entry_hash, std::string_view entry_name, uint64_t hash,
            std::string_view name) {
  return entry_hash != hash ? entry_hash < hash : entry_name < name;
}

}  // namespace

FieldMap::Entry FieldMap::EntryAt(std::string_view packed, size_t at) {
  Entry e;
  uint32_t name_size = 0, value_size = 0;
  std::memcpy(&e.hash, packed.data() + at, 8);
  std::memcpy(&name_size, packed.data() + at + 8, 4);
  std::memcpy(&value_size, packed.data() + at + 12, 4);
  e.name = packed.substr(at + kEntryHeader, name_size);
  e.value = packed.substr(at + kEntryHeader + name_size, value_size);
  e.at = at;
  e.size = kEntryHeader + name_size + value_size;
  return e;
}

FieldMap::Entry FieldMap::Seek(const std::string& packed, uint64_t hash, std::string_view name) {
  PrefetchLeaf(packed);
  for (size_t at = 0; at < packed.size();) {
    const Entry e = EntryAt(packed, at);
    if (!Before(e.hash, e.name, hash, name)) return e;
    at += e.size;
  }
  return Entry{.hash = 0, .name = {}, .value = {}, .at = packed.size(), .size = 0};
}

void FieldMap::AppendEntry(std::string* packed, uint64_t hash, std::string_view name,
                           std::string_view value) {
  char header[kEntryHeader];
  const auto name_size = static_cast<uint32_t>(name.size());
  const auto value_size = static_cast<uint32_t>(value.size());
  std::memcpy(header, &hash, 8);
  std::memcpy(header + 8, &name_size, 4);
  std::memcpy(header + 12, &value_size, 4);
  packed->append(header, kEntryHeader);
  packed->append(name);
  packed->append(value);
}

FieldMap::Node::Node(const Node& other)
    : leaf(other.leaf), count(other.count), packed(other.packed) {
  PrefetchCounts(other.children);
  children = other.children;
}

FieldMap::Node::~Node() { PrefetchCounts(children); }

std::shared_ptr<FieldMap::Node> FieldMap::Own(NodePtr&& node) {
  if (node.use_count() == 1) return std::const_pointer_cast<Node>(std::move(node));
  return std::make_shared<Node>(*node);
}

std::optional<std::string_view> FieldMap::Find(std::string_view name) const {
  const uint64_t hash = Hash(name);
  const Node* node = root_.get();
  for (int depth = 0; node != nullptr; ++depth) {
    if (!node->leaf) {
      node = node->children[Slot(hash, name, depth)].get();
      continue;
    }
    const Entry e = Seek(node->packed, hash, name);
    if (e.Is(hash, name)) return e.value;
    return std::nullopt;
  }
  return std::nullopt;
}

FieldMap::NodePtr FieldMap::SetIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                                  std::string_view value, bool by_name, bool* added) {
  if (!node) {
    auto leaf = std::make_shared<Node>();
    AppendEntry(&leaf->packed, hash, name, value);
    leaf->count = 1;
    *added = true;
    return leaf;
  }
  if (!node->leaf) {
    // Unshared (made by this map since it was last copied): changed in place.
    std::shared_ptr<Node> own = Own(std::move(node));
    NodePtr& child = own->children[Slot(hash, name, depth)];
    child = SetIn(std::move(child), depth + 1, hash, name, value, by_name, added);
    if (*added) ++own->count;
    return own;
  }
  const std::string& old = node->packed;
  const Entry e = Seek(old, hash, name);
  const size_t at = e.at;
  *added = !e.Is(hash, name);
  const size_t replaced = *added ? 0 : e.size;
  std::shared_ptr<Node> own;
  if (node.use_count() == 1) {
    own = std::const_pointer_cast<Node>(std::move(node));
    std::string entry;
    entry.reserve(kEntryHeader + name.size() + value.size());
    AppendEntry(&entry, hash, name, value);
    own->packed.replace(at, replaced, entry);
  } else {
    // Shared: the copy is built with the change, in one allocation.
    own = std::make_shared<Node>();
    own->count = node->count;
    own->packed.reserve(old.size() - replaced + kEntryHeader + name.size() + value.size());
    own->packed.append(old, 0, at);
    AppendEntry(&own->packed, hash, name, value);
    own->packed.append(old, at + replaced);
  }
  std::string& packed = own->packed;
  if (*added) ++own->count;
  const bool full = own->count > kLeafMax || (own->count > 1 && packed.size() > kLeafBytes);
  if (!full || (depth >= kKeyLevels && !by_name)) return own;
  // Full: a branch one level down, its leaves taking the fields in order.
  auto branch = std::make_shared<Node>();
  branch->leaf = false;
  branch->count = own->count;
  branch->children.resize(WaysAt(depth));
  for (size_t from = 0; from < packed.size();) {
    const Entry f = EntryAt(packed, from);
    NodePtr& child = branch->children[Slot(f.hash, f.name, depth)];
    if (!child) child = std::make_shared<Node>();
    auto* leaf = const_cast<Node*>(child.get());  // made here, not shared yet
    leaf->packed.append(packed, f.at, f.size);
    ++leaf->count;
    from += f.size;
  }
  return branch;
}

FieldMap::NodePtr FieldMap::EraseIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                                    bool* erased) {
  if (!node) return node;
  if (!node->leaf) {
    const size_t slot = Slot(hash, name, depth);
    NodePtr child = EraseIn(node->children[slot], depth + 1, hash, name, erased);
    if (!*erased) return node;
    std::shared_ptr<Node> own = Own(std::move(node));
    own->children[slot] = std::move(child);
    --own->count;
    for (const NodePtr& c : own->children) {
      if (c) return own;
    }
    return nullptr;  // an empty branch goes
  }
  const Entry e = Seek(node->packed, hash, name);
  if (!e.Is(hash, name)) return node;
  *erased = true;
  if (node->count == 1) return nullptr;
  std::shared_ptr<Node> own = Own(std::move(node));
  own->packed.erase(e.at, e.size);
  --own->count;
  return own;
}

bool FieldMap::Set(std::string_view name, std::string_view value) {
  if (scored_) Reorder(name, Find(name), value);
  bool added = false;
  root_ = SetIn(std::move(root_), 0, Hash(name), name, value, /*by_name=*/false, &added);
  if (added) ++size_;
  return added;
}

bool FieldMap::Erase(std::string_view name) {
  if (scored_) Reorder(name, Find(name), std::nullopt);
  bool erased = false;
  root_ = EraseIn(std::move(root_), 0, Hash(name), name, &erased);
  if (erased) --size_;
  return erased;
}

std::string FieldMap::ScoreValue(double score) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &score, 8);
  return out;
}

double FieldMap::ScoreOf(std::string_view value) {
  double score = 0;
  if (value.size() >= 8) std::memcpy(&score, value.data(), 8);
  return score;
}

uint64_t FieldMap::ScoreKey(double score) {
  if (score == 0) score = 0;  // -0 too
  uint64_t bits = 0;
  std::memcpy(&bits, &score, 8);
  return (bits >> 63) != 0 ? ~bits : bits | (uint64_t{1} << 63);
}

void FieldMap::Reorder(std::string_view name, std::optional<std::string_view> old,
                       std::optional<std::string_view> value) {
  bool changed = false;
  // The order tree keeps only the score: a value's payload after it lives once, in the
  // field tree, and a new payload under the very same score leaves the order tree alone.
  if (old && value && old->substr(0, 8) == value->substr(0, 8)) return;
  const bool moves = !old || !value || ScoreKey(ScoreOf(*old)) != ScoreKey(ScoreOf(*value));
  if (old && moves) order_ = EraseIn(std::move(order_), 0, ScoreKey(ScoreOf(*old)), name, &changed);
  if (value)
    order_ = SetIn(std::move(order_), 0, ScoreKey(ScoreOf(*value)), name, value->substr(0, 8),
                   /*by_name=*/true, &changed);
}

size_t FieldMap::CountBelow(uint64_t key, std::string_view name) const {
  size_t below = 0;
  const Node* node = order_.get();
  for (int depth = 0; node != nullptr; ++depth) {
    if (node->leaf) {
      for (size_t at = 0; at < node->packed.size();) {
        const Entry e = EntryAt(node->packed, at);
        if (!Before(e.hash, e.name, key, name)) break;
        ++below;
        at += e.size;
      }
      break;
    }
    const size_t slot = Slot(key, name, depth);
    for (size_t i = 0; i < slot; ++i) {
      if (node->children[i]) below += node->children[i]->count;
    }
    node = node->children[slot].get();
  }
  return below;
}

size_t FieldMap::RankBefore(double score, std::string_view name) const {
  return CountBelow(ScoreKey(score), name);
}

size_t FieldMap::RankThrough(double score) const {
  const uint64_t key = ScoreKey(score);
  // No score maps to the largest key (it would be a NaN), so key + 1 never wraps.
  return CountBelow(key + 1, {});
}

bool FieldMap::WalkRanksIn(const Node& node, size_t from, bool reverse, const EntryFn& fn) {
  if (node.leaf) {
    std::vector<size_t> starts;
    starts.reserve(node.count);
    for (size_t at = 0; at < node.packed.size(); at += EntryAt(node.packed, at).size)
      starts.push_back(at);
    if (!reverse) {
      for (size_t i = from; i < starts.size(); ++i) {
        if (!fn(EntryAt(node.packed, starts[i]))) return false;
      }
    } else {
      for (size_t i = std::min(from + 1, starts.size()); i-- > 0;) {
        if (!fn(EntryAt(node.packed, starts[i]))) return false;
      }
    }
    return true;
  }
  // `from` is a rank within this node; children before it are skipped by their counts.
  const size_t ways = node.children.size();
  size_t base = 0;
  size_t first = 0;
  for (; first < ways; ++first) {
    const NodePtr& c = node.children[first];
    if (!c) continue;
    if (from < base + c->count) break;
    base += c->count;
  }
  if (first == ways) return true;
  if (!reverse) {
    for (size_t i = first; i < ways; ++i) {
      const NodePtr& c = node.children[i];
      if (!c) continue;
      if (!WalkRanksIn(*c, i == first ? from - base : 0, false, fn)) return false;
    }
  } else {
    for (size_t i = first + 1; i-- > 0;) {
      const NodePtr& c = node.children[i];
      if (!c) continue;
      if (!WalkRanksIn(*c, i == first ? from - base : c->count - 1, true, fn)) return false;
    }
  }
  return true;
}

void FieldMap::WalkRanks(size_t from, bool reverse, const ScoredFn& fn) const {
  if (!order_ || from >= size_) return;
  WalkRanksIn(*order_, from, reverse, [&](const Entry& e) { return fn(e.name, ScoreOf(e.value)); });
}

bool FieldMap::Walk(const Node& node, int depth, uint64_t prefix, uint64_t from,
                    const EntryFn& fn) {
  if (node.leaf) {
    for (size_t at = 0; at < node.packed.size();) {
      const Entry e = EntryAt(node.packed, at);
      if (e.hash >= from && !fn(e)) return false;
      at += e.size;
    }
    return true;
  }
  const int shift = Shift(depth);
  for (size_t i = 0; i < kWays; ++i) {
    if (!node.children[i]) continue;
    const uint64_t child_prefix = prefix | (uint64_t{i} << shift);
    const uint64_t child_last = child_prefix | ((uint64_t{1} << shift) - 1);
    if (child_last < from) continue;  // every hash under it is before the cursor
    if (!Walk(*node.children[i], depth + 1, child_prefix, from, fn)) return false;
  }
  return true;
}

size_t FieldMap::NodeSize(const Node& node) {
  // The node with its shared-pointer control block, then its buffer.
  size_t n = 16 + sizeof(Node);
  if (node.packed.capacity() > 15) n += node.packed.capacity() + 1;
  n += node.children.capacity() * sizeof(NodePtr);
  for (const NodePtr& c : node.children) {
    if (c) n += NodeSize(*c);
  }
  return n;
}

size_t FieldMap::MaxLeafIn(const Node& node) {
  if (node.leaf) return node.count;
  size_t most = 0;
  for (const NodePtr& c : node.children) {
    if (c) most = std::max(most, MaxLeafIn(*c));
  }
  return most;
}

size_t FieldMap::MaxLeafFields() const {
  return std::max(root_ ? MaxLeafIn(*root_) : 0, order_ ? MaxLeafIn(*order_) : 0);
}

size_t FieldMap::AllocatedSize() const {
  return (root_ ? NodeSize(*root_) : 0) + (order_ ? NodeSize(*order_) : 0);
}

void FieldMap::ForEach(const FieldFn& fn) const {
  if (!root_) return;
  Walk(*root_, 0, 0, 0, [&](const Entry& e) {
    fn(e.name, e.value);
    return true;
  });
}

uint64_t FieldMap::Scan(uint64_t cursor, size_t count, const FieldFn& fn) const {
  if (!root_) return 0;
  if (count == 0) count = 1;
  size_t visited = 0;
  uint64_t last_hash = 0, next = 0;
  Walk(*root_, 0, 0, cursor, [&](const Entry& e) {
    if (visited >= count && e.hash != last_hash) {
      next = e.hash;
      return false;
    }
    fn(e.name, e.value);
    ++visited;
    last_hash = e.hash;
    return true;
  });
  return next;
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
