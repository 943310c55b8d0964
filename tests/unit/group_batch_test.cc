#include "store/group_batch.h"

#include <gtest/gtest.h>
#include <rocksdb/comparator.h>

#include <string>
#include <vector>

namespace devstate {
namespace {

// A column family as a WriteBatch sees one: an id.
class FakeFamily : public rocksdb::ColumnFamilyHandle {
 public:
  explicit FakeFamily(uint32_t id) : id_(id) {}
  const std::string& GetName() const override { return name_; }
  uint32_t GetID() const override { return id_; }
  rocksdb::Status GetDescriptor(rocksdb::ColumnFamilyDescriptor*) override {
    return rocksdb::Status::NotSupported();
  }
  const rocksdb::Comparator* GetComparator() const override {
    return rocksdb::BytewiseComparator();
  }

 private:
  uint32_t id_;
  std::string name_ = "fake";
};

// The batch's operations, in order, as "put 0 k=v", "del 2 k", "range 0 a..b".
std::vector<std::string> Ops(const rocksdb::WriteBatch& batch) {
  struct Recorder : rocksdb::WriteBatch::Handler {
    std::vector<std::string> ops;
    rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      ops.push_back("put " + std::to_string(cf) + " " + k.ToString() + "=" + v.ToString());
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& k) override {
      ops.push_back("del " + std::to_string(cf) + " " + k.ToString());
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& b,
                                  const rocksdb::Slice& e) override {
      ops.push_back("range " + std::to_string(cf) + " " + b.ToString() + ".." + e.ToString());
      return rocksdb::Status::OK();
    }
  } r;
  EXPECT_TRUE(batch.Iterate(&r).ok());
  return r.ops;
}

TEST(GroupBatchTest, RepeatedPutsOfAKeyJournalTheLastValueOnce) {
  rocksdb::WriteBatch batch;
  GroupBatch g(&batch);
  for (int i = 1; i <= 800; ++i) g.Put(nullptr, "counter", std::to_string(i));
  EXPECT_EQ(batch.Count(), 0u);  // held until the group ends
  g.Flush();
  EXPECT_EQ(Ops(batch), (std::vector<std::string>{"put 0 counter=800"}));
  EXPECT_EQ(g.coalesced(), 799u);
}

// Keys keep the place of their first Put: a record's header, put first, still precedes
// its fields however often it is put again.
TEST(GroupBatchTest, KeysKeepTheOrderTheyFirstCameIn) {
  rocksdb::WriteBatch batch;
  FakeFamily fields(2);
  GroupBatch g(&batch);
  g.Put(nullptr, "h", "header1");
  g.Put(&fields, "h:f1", "a");
  g.Put(&fields, "h:f2", "b");
  g.Put(nullptr, "h", "header2");
  g.Put(&fields, "h:f1", "c");
  g.Put(&fields, "h", "same key, another family");
  g.Flush();
  EXPECT_EQ(Ops(batch), (std::vector<std::string>{"put 0 h=header2", "put 2 h:f1=c", "put 2 h:f2=b",
                                                  "put 2 h=same key, another family"}));
}

// Nothing moves across a delete: the Puts before it are written before it.
TEST(GroupBatchTest, DeletesAndRangesKeepTheirPlace) {
  rocksdb::WriteBatch batch;
  FakeFamily fields(2);
  GroupBatch g(&batch);
  g.Put(nullptr, "a", "1");
  g.Put(nullptr, "b", "1");
  g.Delete(nullptr, "a");
  g.Put(nullptr, "a", "2");
  g.Put(&fields, "a:f", "x");
  g.DeleteRange(&fields, "a:", "a;");
  g.Put(&fields, "a:f", "y");
  g.Put(nullptr, "b", "2");
  g.Flush();
  EXPECT_EQ(Ops(batch), (std::vector<std::string>{"put 0 a=1", "put 0 b=1", "del 0 a", "put 0 a=2",
                                                  "put 2 a:f=x", "range 2 a:..a;", "put 2 a:f=y",
                                                  "put 0 b=2"}));
  EXPECT_EQ(g.coalesced(), 0u);
  EXPECT_EQ(g.held(), 0u);
}

// Held bytes live in the batch's arena: keys and values larger than its blocks or than the
// lookup's stack buffer, values that grow and shrink, and enough keys to fill many blocks
// all come out as they went in.
TEST(GroupBatchTest, LargeKeysAndValuesAndManyKeysSurviveTheArena) {
  rocksdb::WriteBatch batch;
  FakeFamily fields(2);
  GroupBatch g(&batch);
  const std::string big_key(300, 'k');            // over the lookup's 256-byte buffer
  const std::string huge_value(200 * 1024, 'v');  // over a block
  std::vector<std::string> want;
  for (int i = 0; i < 5000; ++i) {
    g.Put(nullptr, "key:" + std::to_string(i), std::string(i % 50, 'a' + i % 26));
  }
  g.Put(&fields, big_key, "short");
  g.Put(&fields, big_key, huge_value);  // grows past its room
  g.Put(nullptr, "key:7", "shrunk");    // fits where it was
  g.Put(nullptr, "key:8", std::string(100, 'g'));
  g.Flush();
  for (int i = 0; i < 5000; ++i) {
    std::string value = i == 7   ? "shrunk"
                        : i == 8 ? std::string(100, 'g')
                                 : std::string(i % 50, 'a' + i % 26);
    want.push_back("put 0 key:" + std::to_string(i) + "=" + value);
  }
  want.push_back("put 2 " + big_key + "=" + huge_value);
  EXPECT_EQ(Ops(batch), want);
  EXPECT_EQ(g.coalesced(), 3u);
}

}  // namespace
}  // namespace devstate
