#include "store/key_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/test_records.h"

namespace devstate {
namespace {

TEST(KeyTableTest, EmptyFindsNothing) {
  KeyTable t;
  EXPECT_EQ(t.Find(0, ""), nullptr);
  EXPECT_EQ(t.Remove(0, ""), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

// The slot keeps 16 bits of the hash (32-47) and the node the low 32: a lookup must match
// both, and an entry's home slot (which removal's backward shift and a resize need) comes
// from the node's bits. Keys sharing a home but not a tag, a tag but not the low bits, or
// the whole hash stay apart through removals and growth.
TEST(KeyTableTest, TagAndLowBitsTogetherTellKeysApart) {
  KeyTable t;
  const uint64_t home = 5;
  const std::vector<std::pair<uint64_t, std::string>> keys = {
      {(uint64_t{1} << 32) | home, "a"},         // tag 1
      {(uint64_t{2} << 32) | home, "b"},         // same home, tag 2
      {(uint64_t{1} << 32) | (home + 16), "c"},  // tag 1, same home in 16 slots, other low bits
      {(uint64_t{1} << 32) | home, "d"},         // the whole hash of "a"
      {(uint64_t{0xFFFF} << 32) | home, "e"},    // the highest tag
      {(uint64_t{0xAB} << 56) | home, "f"},      // bits above the tag (the shard's) differ
  };
  for (const auto& [h, k] : keys) t.Insert(h, KeyNode::New(h, k, Value(k)));
  for (const auto& [h, k] : keys) {
    KeyNode* n = t.Find(h, k);
    ASSERT_NE(n, nullptr) << k;
    EXPECT_EQ(n->record->value(), k);
  }
  EXPECT_EQ(t.Find((uint64_t{3} << 32) | home, "a"), nullptr);         // tag mismatch
  EXPECT_EQ(t.Find((uint64_t{1} << 32) | (home + 32), "a"), nullptr);  // low bits mismatch
  KeyNode::Delete(t.Remove(keys[0].first, "a"));
  EXPECT_EQ(t.Find(keys[0].first, "a"), nullptr);
  EXPECT_NE(t.Find(keys[3].first, "d"), nullptr);  // shifted back, still found
  for (int i = 0; i < 100; ++i) {                  // grow through several resizes
    const uint64_t h = (static_cast<uint64_t>(i) << 32) | static_cast<uint64_t>(i * 7919);
    t.Insert(h, KeyNode::New(h, "x" + std::to_string(i), Value("x")));
  }
  for (size_t i = 1; i < keys.size(); ++i) {
    EXPECT_NE(t.Find(keys[i].first, keys[i].second), nullptr) << keys[i].second;
  }
}

TEST(KeyTableTest, KeyIsStoredInline) {
  KeyTable t;
  const std::string key("a\0b", 3);
  KeyNode* node = KeyNode::New(7, key, Value("v"));
  t.Insert(7, node);
  EXPECT_EQ(t.Find(7, key), node);
  EXPECT_EQ(node->key(), key);
  EXPECT_EQ(t.Find(7, "a"), nullptr);  // same hash, other key
  EXPECT_EQ(t.Find(8, key), nullptr);  // hash mismatch is never a hit
}

// Random inserts and removals against a std::map model, with hashes drawn from a small
// range so probe runs are long, wrap around the end of the slot array, and often hold
// equal hashes for different keys: after every step, every key the model has is found
// with its value and every removed one is not.
TEST(KeyTableTest, MatchesModelUnderChurnWithCollisions) {
  for (uint64_t hash_range : {1ull, 7ull, 64ull, 1ull << 40}) {
    KeyTable t;
    std::map<std::string, std::string> model;
    std::mt19937_64 rng(hash_range);
    auto hash_of = [&](const std::string& k) {
      return std::hash<std::string>{}(k) % hash_range * 0x9e3779b97f4a7c15ull;
    };
    for (int step = 0; step < 4000; ++step) {
      const std::string key = "k" + std::to_string(rng() % 300);
      const uint64_t h = hash_of(key);
      if (rng() % 3 != 0) {
        const std::string value = std::to_string(step);
        if (KeyNode* n = t.Find(h, key)) {
          n->record = Value(value);
        } else {
          t.Insert(h, KeyNode::New(h, key, Value(value)));
        }
        model[key] = value;
      } else {
        KeyNode* n = t.Remove(h, key);
        EXPECT_EQ(n != nullptr, model.erase(key) == 1) << key;
        if (n != nullptr) {
          EXPECT_EQ(n->key(), key);
          KeyNode::Delete(n);
        }
      }
      ASSERT_EQ(t.size(), model.size());
      if (step % 97 == 0 || hash_range == 1) {
        for (int i = 0; i < 300; ++i) {
          const std::string k = "k" + std::to_string(i);
          const KeyNode* n = t.Find(hash_of(k), k);
          auto it = model.find(k);
          ASSERT_EQ(n != nullptr, it != model.end())
              << "range " << hash_range << " step " << step << " " << k;
          if (n != nullptr) {
            EXPECT_EQ(n->record->value(), it->second);
          }
        }
      }
    }
  }
}

TEST(KeyTableTest, GrowsAtThreeQuartersAndShrinksBelowAnEighth) {
  KeyTable t;
  std::vector<std::string> keys;
  for (int i = 0; i < 10000; ++i) keys.push_back("key:" + std::to_string(i));
  auto h = [](const std::string& k) { return std::hash<std::string>{}(k); };
  for (const auto& k : keys) {
    t.Insert(h(k), KeyNode::New(h(k), k, Value(k)));
    EXPECT_LE(t.size() * 4, t.capacity() * 3);
  }
  EXPECT_EQ(t.capacity(), 16384u);
  for (size_t i = 0; i < keys.size() - 10; ++i) KeyNode::Delete(t.Remove(h(keys[i]), keys[i]));
  EXPECT_EQ(t.size(), 10u);
  EXPECT_LE(t.capacity(), 128u);  // shrank as it emptied
  for (size_t i = keys.size() - 10; i < keys.size(); ++i) {
    ASSERT_NE(t.Find(h(keys[i]), keys[i]), nullptr);
    EXPECT_EQ(t.Find(h(keys[i]), keys[i])->record->value(), keys[i]);
  }
}

}  // namespace
}  // namespace devstate
