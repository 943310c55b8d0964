#include "store/fields.h"

#include "store/keyspace.h"

namespace devstate {

uint64_t FieldMap::Hash(std::string_view name) {
  const uint64_t h = Keyspace::Hash(name);
  return h == 0 ? 1 : h;
}

namespace {

// Leaves are ordered by (hash, name).
template <typename E>
bool Before(const E& e, uint64_t hash, std::string_view name) {
  return e.hash != hash ? e.hash < hash : std::string_view(e.field->name) < name;
}

}  // namespace

const std::string* FieldMap::Find(std::string_view name) const {
  const uint64_t hash = Hash(name);
  const Node* node = root_.get();
  for (int depth = 0; node != nullptr; ++depth) {
    if (!node->leaf) {
      node = node->children[Slot(hash, depth)].get();
      continue;
    }
    for (const Entry& e : node->entries) {
      if (e.hash == hash && e.field->name == name) return &e.field->value;
    }
    return nullptr;
  }
  return nullptr;
}

FieldMap::NodePtr FieldMap::SetIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                                  std::string&& value, bool* added) {
  if (!node) {
    auto leaf = std::make_shared<Node>();
    leaf->entries.push_back(
        {hash, std::make_shared<const Field>(Field{std::string(name), std::move(value)})});
    *added = true;
    return leaf;
  }
  // Unshared (made by this map since it was last copied): changed in place.
  std::shared_ptr<Node> own =
      node.use_count() == 1 ? std::const_pointer_cast<Node>(node) : std::make_shared<Node>(*node);
  if (!own->leaf) {
    NodePtr& child = own->children[Slot(hash, depth)];
    child = SetIn(std::move(child), depth + 1, hash, name, std::move(value), added);
    return own;
  }
  auto& entries = own->entries;
  auto it = entries.begin();
  while (it != entries.end() && Before(*it, hash, name)) ++it;
  if (it != entries.end() && it->hash == hash && it->field->name == name) {
    it->field = std::make_shared<const Field>(Field{std::string(name), std::move(value)});
    *added = false;
    return own;
  }
  entries.insert(
      it, Entry{hash, std::make_shared<const Field>(Field{std::string(name), std::move(value)})});
  *added = true;
  if (entries.size() <= kLeafMax || Shift(depth) < 0) return own;
  // Full: a branch one level down, its leaves taking the fields in order.
  auto branch = std::make_shared<Node>();
  branch->leaf = false;
  branch->children.resize(kWays);
  for (Entry& e : entries) {
    NodePtr& child = branch->children[Slot(e.hash, depth)];
    if (!child) child = std::make_shared<Node>();
    std::const_pointer_cast<Node>(child)->entries.push_back(std::move(e));
  }
  return branch;
}

FieldMap::NodePtr FieldMap::EraseIn(NodePtr node, int depth, uint64_t hash, std::string_view name,
                                    bool* erased) {
  if (!node) return node;
  if (!node->leaf) {
    const size_t slot = Slot(hash, depth);
    NodePtr child = EraseIn(node->children[slot], depth + 1, hash, name, erased);
    if (!*erased) return node;
    std::shared_ptr<Node> own =
        node.use_count() == 1 ? std::const_pointer_cast<Node>(node) : std::make_shared<Node>(*node);
    own->children[slot] = std::move(child);
    for (const NodePtr& c : own->children) {
      if (c) return own;
    }
    return nullptr;  // an empty branch goes
  }
  auto found = node->entries.begin();
  while (found != node->entries.end() && !(found->hash == hash && found->field->name == name))
    ++found;
  if (found == node->entries.end()) return node;
  *erased = true;
  if (node->entries.size() == 1) return nullptr;
  const size_t at = static_cast<size_t>(found - node->entries.begin());
  std::shared_ptr<Node> own =
      node.use_count() == 1 ? std::const_pointer_cast<Node>(node) : std::make_shared<Node>(*node);
  own->entries.erase(own->entries.begin() + static_cast<std::ptrdiff_t>(at));
  return own;
}

bool FieldMap::Set(std::string_view name, std::string value) {
  bool added = false;
  root_ = SetIn(std::move(root_), 0, Hash(name), name, std::move(value), &added);
  if (added) ++size_;
  return added;
}

bool FieldMap::Erase(std::string_view name) {
  bool erased = false;
  root_ = EraseIn(std::move(root_), 0, Hash(name), name, &erased);
  if (erased) --size_;
  return erased;
}

bool FieldMap::Walk(const Node& node, int depth, uint64_t prefix, uint64_t from,
                    const EntryFn& fn) {
  if (node.leaf) {
    for (const Entry& e : node.entries) {
      if (e.hash >= from && !fn(e)) return false;
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

void FieldMap::ForEach(const FieldFn& fn) const {
  if (!root_) return;
  Walk(*root_, 0, 0, 0, [&](const Entry& e) {
    fn(e.field->name, e.field->value);
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
    fn(e.field->name, e.field->value);
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
