#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "loadgen/ledger.h"
#include "loadgen/open_loop.h"

namespace devstate::loadgen {
namespace {

using std::chrono::milliseconds;
using Clock = OpenLoopSchedule::Clock;

TEST(OpenLoopScheduleTest, SpreadsTheRateEvenlyOverConnections) {
  const Clock::time_point start{};
  // 1000 requests/s over 4 connections: each sends every 4 ms, offset by 1 ms from the next.
  std::vector<OpenLoopSchedule> connections;
  for (int id = 0; id < 4; ++id) connections.emplace_back(start, 1000, 4, id);
  EXPECT_EQ(connections[0].interval(), milliseconds(4));
  std::vector<Clock::time_point> all;
  for (auto& c : connections) {
    for (int k = 0; k < 250; ++k) all.push_back(c.Next());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], start + milliseconds(i)) << i;
}

TEST(OpenLoopScheduleTest, IntendedTimesDoNotSlipWhenTheSenderIsLate) {
  // A sender that falls behind still gets the original intended times, so the latency it
  // measures from them includes the time the request waited: no coordinated omission.
  OpenLoopSchedule s(Clock::time_point{}, 100, 1, 0);  // every 10 ms
  EXPECT_EQ(s.Next(), Clock::time_point{} + milliseconds(0));
  // ... the server stalls for a second here; the schedule does not care ...
  EXPECT_EQ(s.Next(), Clock::time_point{} + milliseconds(10));
  EXPECT_EQ(s.Next(), Clock::time_point{} + milliseconds(20));
  EXPECT_EQ(s.scheduled(), 3u);
}

std::string WriteLedger(const std::string& name, const std::vector<LedgerEntry>& entries) {
  const auto path = (std::filesystem::temp_directory_path() / name).string();
  std::filesystem::remove(path);
  LedgerWriter w;
  std::string error;
  EXPECT_TRUE(w.Open(path, &error)) << error;
  for (const auto& e : entries) w.Append(e);
  return path;
}

TEST(LedgerTest, RoundTripsThroughTheFile) {
  const std::string path = WriteLedger("ledger_roundtrip", {{"a", 1, 1}, {"b", 2, 7}, {"a", 3, 2}});
  std::vector<LedgerEntry> entries;
  std::string error;
  ASSERT_TRUE(ReadLedger(path, &entries, &error)) << error;
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].device, "b");
  EXPECT_EQ(entries[1].seq, 2u);
  EXPECT_EQ(entries[1].version, 7u);
  std::ofstream(path, std::ios::app) << "c not-a-number 1\n";
  entries.clear();
  EXPECT_FALSE(ReadLedger(path, &entries, &error));
  EXPECT_NE(error.find(":4:"), std::string::npos) << error;
}

TEST(LedgerTest, VerifyPassesWhenEveryAcknowledgedWriteIsVisible) {
  const std::vector<LedgerEntry> entries = {{"a", 1, 1}, {"a", 5, 2}, {"b", 2, 1}};
  std::map<std::string, DeviceSnapshot> server = {{"a", {5, 2}},
                                                  {"b", {9, 4}}};  // b moved on: fine
  int fetches = 0;
  const VerifyReport r =
      VerifyLedger(entries, [&](const std::string& d) -> std::optional<DeviceSnapshot> {
        ++fetches;
        auto it = server.find(d);
        return it == server.end() ? std::nullopt : std::optional(it->second);
      });
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.writes, 3u);
  EXPECT_EQ(r.devices, 2u);
  EXPECT_EQ(fetches, 2);  // once per device
}

TEST(LedgerTest, VerifyReportsAMissingWrite) {
  const std::vector<LedgerEntry> entries = {{"a", 1, 1}, {"a", 5, 2}, {"b", 2, 1}, {"gone", 1, 1}};
  // a lost its last acknowledged write (seq 5); "gone" lost everything; b is intact.
  std::map<std::string, DeviceSnapshot> server = {{"a", {1, 1}}, {"b", {2, 1}}};
  const VerifyReport r =
      VerifyLedger(entries, [&](const std::string& d) -> std::optional<DeviceSnapshot> {
        auto it = server.find(d);
        return it == server.end() ? std::nullopt : std::optional(it->second);
      });
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_NE(r.problems[0].find("a: has seq 1 version 1, acknowledged seq 5 version 2"),
            std::string::npos)
      << r.problems[0];
  EXPECT_NE(r.problems[1].find("gone: missing"), std::string::npos) << r.problems[1];
}

TEST(LedgerTest, ALowerVersionAloneIsALoss) {
  // Same seq but an older version: a later acknowledged write to the record vanished.
  const VerifyReport r = VerifyLedger({{"a", 3, 9}}, [](const std::string&) {
    return std::optional(DeviceSnapshot{3, 8});
  });
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace devstate::loadgen
