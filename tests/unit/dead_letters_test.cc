#include "service/dead_letters.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

DeadLetter Letter(int i) {
  DeadLetter d;
  d.time_ms = 1000 + i;
  d.source = "mqtt:devices/" + std::to_string(i) + "/state";
  d.reason = "bad " + std::to_string(i);
  d.payload_head = std::string("\xff\x00x", 3) + std::to_string(i);
  d.payload_bytes = 100 + static_cast<uint64_t>(i);
  return d;
}

TEST(DeadLetterLogTest, AppendsAndSurvivesReopenNewestFirst) {
  testing::TempDir dir;
  const std::string path = dir.Sub("dl.log");
  {
    std::unique_ptr<DeadLetterLog> log;
    ASSERT_TRUE(DeadLetterLog::Open(path, 10, &log).ok());
    for (int i = 1; i <= 3; ++i) {
      DeadLetter stored;
      ASSERT_TRUE(log->Append(Letter(i), &stored).ok());
      EXPECT_EQ(stored.id, static_cast<uint64_t>(i));
    }
  }
  std::unique_ptr<DeadLetterLog> log;
  ASSERT_TRUE(DeadLetterLog::Open(path, 10, &log).ok());
  EXPECT_EQ(log->total(), 3u);
  auto recent = log->Recent(2);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].id, 3u);
  EXPECT_EQ(recent[0].reason, "bad 3");
  EXPECT_EQ(recent[0].payload_head, std::string("\xff\x00x3", 4));
  EXPECT_EQ(recent[0].payload_bytes, 103u);
  EXPECT_EQ(recent[0].time_ms, 1003);
  EXPECT_EQ(recent[1].source, "mqtt:devices/2/state");
}

TEST(DeadLetterLogTest, KeepsTheNewestCapacityAndBoundsTheFile) {
  testing::TempDir dir;
  const std::string path = dir.Sub("dl.log");
  std::unique_ptr<DeadLetterLog> log;
  ASSERT_TRUE(DeadLetterLog::Open(path, 5, &log).ok());
  uintmax_t largest = 0;
  for (int i = 1; i <= 57; ++i) {
    ASSERT_TRUE(log->Append(Letter(i)).ok());
    largest = std::max(largest, std::filesystem::file_size(path));
  }
  EXPECT_EQ(log->total(), 57u);
  auto recent = log->Recent(100);
  ASSERT_EQ(recent.size(), 5u);
  EXPECT_EQ(recent.front().id, 57u);
  EXPECT_EQ(recent.back().id, 53u);
  // Never more than 2 x capacity records on disk.
  const uintmax_t one = std::filesystem::file_size(path) / 7;  // 5 kept + 2 appended since
  EXPECT_LE(largest, one * 11);
  log.reset();
  ASSERT_TRUE(DeadLetterLog::Open(path, 5, &log).ok());
  EXPECT_EQ(log->total(), 57u);  // ids keep counting across compaction and restart
  EXPECT_EQ(log->Recent(1)[0].id, 57u);
}

TEST(DeadLetterLogTest, TornTailIsDroppedAndAppendsContinueAfterIt) {
  testing::TempDir dir;
  const std::string path = dir.Sub("dl.log");
  {
    std::unique_ptr<DeadLetterLog> log;
    ASSERT_TRUE(DeadLetterLog::Open(path, 10, &log).ok());
    ASSERT_TRUE(log->Append(Letter(1)).ok());
    ASSERT_TRUE(log->Append(Letter(2)).ok());
  }
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 3);  // a crash mid-append
  {
    std::ofstream(path, std::ios::app) << "";  // nothing else touched
  }
  std::unique_ptr<DeadLetterLog> log;
  ASSERT_TRUE(DeadLetterLog::Open(path, 10, &log).ok());
  EXPECT_EQ(log->total(), 1u);
  ASSERT_TRUE(log->Append(Letter(3)).ok());
  log.reset();
  ASSERT_TRUE(DeadLetterLog::Open(path, 10, &log).ok());
  auto recent = log->Recent(10);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].reason, "bad 3");
  EXPECT_EQ(recent[0].id, 2u);
  EXPECT_EQ(recent[1].reason, "bad 1");
}

}  // namespace
}  // namespace devstate
