// AppendMemTable must order entries exactly as RocksDB's internal key order does for the
// bytewise comparator, and RocksDB built on it must read back what it wrote, before and
// after a flush and a reopen. A wrong order would keep an old version of a key at flush.
#include "store/append_memtable.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

// A memtable entry as RocksDB lays it out: varint32 length of the internal key, the user
// key, 8 bytes of (sequence << 8 | type) little-endian, then the value (none here).
std::string Entry(const std::string& user_key, uint64_t seq) {
  std::string out;
  auto n = static_cast<uint32_t>(user_key.size() + 8);
  while (n >= 0x80) {
    out.push_back(static_cast<char>(n | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out += user_key;
  const uint64_t packed = seq << 8 | 1;  // kTypeValue
  char trailer[8];
  std::memcpy(trailer, &packed, 8);
  out.append(trailer, 8);
  return out;
}

struct Decoded {
  std::string user_key;
  uint64_t seq;
};

Decoded Decode(const char* entry) {
  rocksdb::Slice key = rocksdb::GetLengthPrefixedSlice(entry);
  uint64_t packed;
  std::memcpy(&packed, key.data() + key.size() - 8, 8);
  return {std::string(key.data(), key.size() - 8), packed >> 8};
}

// The reference order, written independently: user key by unsigned bytes, then newer first.
bool ReferenceLess(const Decoded& a, const Decoded& b) {
  if (a.user_key != b.user_key) return a.user_key < b.user_key;  // char_traits: unsigned
  return a.seq > b.seq;
}

class ReferenceComparator : public rocksdb::MemTableRep::KeyComparator {
 public:
  int operator()(const char* a, const char* b) const override {
    const Decoded da = Decode(a), db = Decode(b);
    return ReferenceLess(da, db) ? -1 : (ReferenceLess(db, da) ? 1 : 0);
  }
  int operator()(const char* a, const rocksdb::Slice& internal_key) const override {
    std::string b = Entry(std::string(internal_key.data(), internal_key.size() - 8), 0);
    std::memcpy(b.data() + b.size() - 8, internal_key.data() + internal_key.size() - 8, 8);
    return (*this)(a, b.data());
  }
};

// Keys that stress the prefix sort: ties within 16 bytes and beyond, trailing zero bytes, bytes
// above 0x7f, the empty key, keys shorter and longer than the prefix.
std::vector<std::string> TrickyKeys() {
  std::vector<std::string> keys = {"",
                                   std::string(1, '\0'),
                                   "a",
                                   std::string("a\0", 2),
                                   std::string("a\0\0", 3),
                                   "key:000000123456",
                                   "key:0000001234560",
                                   std::string("key:000000123456\0", 17),
                                   "key:000000123457",
                                   "device:0000000000000001:latest",
                                   "device:0000000000000001:lates",
                                   "device:0000000000000002:latest",
                                   "\xff",
                                   "\x80zz",
                                   "\x7f"};
  std::mt19937_64 rng(7);
  const std::string alphabet("ab\0\x7f\x80\xff", 6);
  for (int i = 0; i < 3000; ++i) {
    // Keys that tie on their first 16 bytes, on more than the 64 the sort loads, or on none.
    std::string key = i % 3 == 1 ? "prefix-shared-16" : (i % 3 == 2 ? std::string(70, 'p') : "");
    const size_t len = rng() % 24;
    for (size_t j = 0; j < len; ++j) key.push_back(alphabet[rng() % alphabet.size()]);
    keys.push_back(key);
  }
  return keys;
}

TEST(AppendMemTableTest, FlushOrderIsRocksDbsInternalKeyOrder) {
  std::vector<std::string> entries;
  std::mt19937_64 rng(11);
  uint64_t seq = 1;
  for (const std::string& key : TrickyKeys()) {
    const int versions = 1 + static_cast<int>(rng() % 3);
    for (int v = 0; v < versions; ++v) entries.push_back(Entry(key, seq++));
  }
  std::shuffle(entries.begin(), entries.end(), rng);

  ReferenceComparator compare;
  AppendMemTableFactory factory;
  std::unique_ptr<rocksdb::MemTableRep> rep(
      factory.CreateMemTableRep(compare, nullptr, nullptr, nullptr));
  for (std::string& e : entries) rep->Insert(e.data());
  rep->MarkReadOnly();

  std::unique_ptr<rocksdb::MemTableRep::Iterator> it(rep->GetIterator(nullptr));
  std::vector<Decoded> got;
  for (it->SeekToFirst(); it->Valid(); it->Next()) got.push_back(Decode(it->key()));
  ASSERT_EQ(got.size(), entries.size());
  for (size_t i = 1; i < got.size(); ++i) {
    ASSERT_TRUE(ReferenceLess(got[i - 1], got[i]))
        << "entry " << i << ": '" << got[i - 1].user_key << "'@" << got[i - 1].seq << " before '"
        << got[i].user_key << "'@" << got[i].seq;
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    const int a = CompareAppendEntries(entries[i - 1].data(), entries[i].data());
    EXPECT_EQ(a, compare(entries[i - 1].data(), entries[i].data()));
  }
}

TEST(AppendMemTableTest, SeeksAndReverseIterationOnMutableAndImmutable) {
  ReferenceComparator compare;
  AppendMemTableFactory factory;
  std::unique_ptr<rocksdb::MemTableRep> rep(
      factory.CreateMemTableRep(compare, nullptr, nullptr, nullptr));
  std::vector<std::string> entries = {Entry("b", 5), Entry("d", 3), Entry("b", 9), Entry("f", 1)};
  for (std::string& e : entries) rep->Insert(e.data());

  for (bool immutable : {false, true}) {
    if (immutable) rep->MarkReadOnly();
    std::unique_ptr<rocksdb::MemTableRep::Iterator> it(rep->GetIterator(nullptr));
    const std::string c = Entry("c", 100);
    it->Seek(rocksdb::GetLengthPrefixedSlice(c.data()), nullptr);
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(Decode(it->key()).user_key, "d");
    it->SeekForPrev(rocksdb::GetLengthPrefixedSlice(c.data()), c.data());
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(Decode(it->key()).seq, 5u);  // the last entry below "c": b@5, after b@9
    const std::string b9 = Entry("b", 9);
    it->SeekForPrev(rocksdb::GetLengthPrefixedSlice(b9.data()), b9.data());
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(Decode(it->key()).seq, 9u);  // an equal entry is its own floor
    it->SeekToLast();
    std::string reverse;
    for (; it->Valid(); it->Prev()) reverse += Decode(it->key()).user_key;
    EXPECT_EQ(reverse, "fdbb");
    const std::string a = Entry("a", 1);
    it->SeekForPrev(rocksdb::GetLengthPrefixedSlice(a.data()), a.data());
    EXPECT_FALSE(it->Valid());
    EXPECT_TRUE(rep->Contains(entries[1].data()));
  }
}

TEST(AppendMemTableTest, ANewerVersionInsertedAfterAnIteratorIsNotInIt) {
  ReferenceComparator compare;
  AppendMemTableFactory factory;
  std::unique_ptr<rocksdb::MemTableRep> rep(
      factory.CreateMemTableRep(compare, nullptr, nullptr, nullptr));
  std::string e1 = Entry("k", 1), e2 = Entry("k", 2);
  rep->Insert(e1.data());
  std::unique_ptr<rocksdb::MemTableRep::Iterator> it(rep->GetIterator(nullptr));
  rep->Insert(e2.data());
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  EXPECT_EQ(n, 1);
}

// RocksDB on this memtable: the newest version of every key survives overwrites, deletes,
// a flush (the sort), a reopen (the log replayed into a new memtable) and a second flush.
TEST(AppendMemTableTest, RocksDbReadsBackTheNewestVersionThroughFlushAndReopen) {
  testing::TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.memtable_factory = std::make_shared<AppendMemTableFactory>();
  options.allow_concurrent_memtable_write = false;
  options.write_buffer_size = 256 << 10;  // several flushes on the way
  options.paranoid_checks = true;         // a flush checks the order it writes

  std::map<std::string, std::string> model;
  std::mt19937_64 rng(3);
  auto open = [&] {
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir.path(), &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::unique_ptr<rocksdb::DB>(raw);
  };
  auto write_some = [&](rocksdb::DB* db, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string key = "key:" + std::to_string(rng() % 2000);
      if (rng() % 5 == 0) {
        ASSERT_TRUE(db->Delete({}, key).ok());
        model.erase(key);
      } else {
        const std::string value = std::to_string(i) + ":" + std::string(rng() % 40, 'v');
        ASSERT_TRUE(db->Put({}, key, value).ok());
        model[key] = value;
      }
    }
  };
  auto check = [&](rocksdb::DB* db, const char* when) {
    std::map<std::string, std::string> read;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      read[it->key().ToString()] = it->value().ToString();
    }
    ASSERT_TRUE(it->status().ok()) << when << ": " << it->status().ToString();
    EXPECT_EQ(read, model) << when;
    std::string value;
    for (const auto& [key, want] : model) {
      ASSERT_TRUE(db->Get({}, key, &value).ok()) << when << ": " << key;
      ASSERT_EQ(value, want) << when << ": " << key;
    }
    EXPECT_TRUE(db->Get({}, "key:absent", &value).IsNotFound()) << when;
  };

  auto db = open();
  write_some(db.get(), 20000);
  check(db.get(), "in memtables and SSTs");
  ASSERT_TRUE(db->Flush({}).ok());
  check(db.get(), "after a flush");
  write_some(db.get(), 3000);
  db.reset();
  options.avoid_flush_during_recovery = true;  // keep the replayed log in a memtable
  db = open();
  check(db.get(), "after a reopen");
  write_some(db.get(), 3000);
  ASSERT_TRUE(db->Flush({}).ok());
  ASSERT_TRUE(db->CompactRange({}, nullptr, nullptr).ok());
  check(db.get(), "after a flush and a compaction");
}

}  // namespace
}  // namespace devstate
