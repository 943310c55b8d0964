#include "service/expiry_sweeper.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/unit/temp_dir.h"
#include "tests/unit/test_records.h"

namespace devstate {
namespace {

TEST(ExpirySweeperTest, RemovesUntouchedExpiredKeysDurablyAndSparesTheRest) {
  testing::TempDir dir;
  std::atomic<int64_t> now{1000};
  StoreOptions options;
  options.dir = dir.Sub("db");
  options.now_ms = [&] { return now.load(); };
  {
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(options, &store).ok());
    std::vector<Mutation> writes;
    for (int i = 0; i < 300; ++i)
      writes.push_back(Mutation::Put("short:" + std::to_string(i), Value("x", 2000)));
    for (int i = 0; i < 50; ++i)
      writes.push_back(Mutation::Put("long:" + std::to_string(i), Value("y", 90000)));
    writes.push_back(Mutation::Put("forever", Value("z", 0)));
    ASSERT_TRUE(store->WriteAndWait(std::move(writes)).ok());
    ASSERT_EQ(store->keyspace().Size(), 351u);

    ExpirySweeper sweeper(store.get(), SweepOptions{std::chrono::milliseconds(10), 100});
    EXPECT_EQ(sweeper.SweepOnce(), 0u);  // nothing has expired yet
    now = 5000;
    size_t removed = 0;
    for (int pass = 0; pass < 20; ++pass) removed += sweeper.SweepOnce();
    EXPECT_EQ(removed, 300u);
    EXPECT_EQ(sweeper.expired(), 300u);
    EXPECT_EQ(store->keyspace().Size(), 51u);
  }
  // The deletes are in the journal: after a restart the keys are gone, not just hidden.
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(options, &store).ok());
  EXPECT_EQ(store->keyspace().Size(), 51u);
  EXPECT_NE(store->Get("long:3"), nullptr);
  EXPECT_NE(store->Get("forever"), nullptr);
}

TEST(ExpirySweeperTest, RunsOnItsOwnThread) {
  testing::TempDir dir;
  std::atomic<int64_t> now{1000};
  StoreOptions options;
  options.dir = dir.Sub("db");
  options.now_ms = [&] { return now.load(); };
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(options, &store).ok());
  ASSERT_TRUE(store->WriteAndWait({Mutation::Put("k", Value("v", 1500))}).ok());
  ExpirySweeper sweeper(store.get(), SweepOptions{std::chrono::milliseconds(5), 100});
  sweeper.Start();
  now = 2000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store->keyspace().Size() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(1));  // polling a condition, with a deadline
  }
  EXPECT_EQ(store->keyspace().Size(), 0u);
  sweeper.Stop();
}

}  // namespace
}  // namespace devstate
