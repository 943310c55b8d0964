// Notifier: notify-keyspace-events as Redis reads and prints it, and where events go.
#include "service/notifier.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace devstate {
namespace {

std::string RoundTrip(std::string_view text) {
  uint32_t flags = 0;
  if (!Notifier::Parse(text, &flags)) return "<invalid>";
  return Notifier::Format(flags);
}

TEST(NotifierTest, ParsesAndPrintsAsRedis) {
  EXPECT_EQ(RoundTrip(""), "");
  EXPECT_EQ(RoundTrip("KEA"), "AKE");
  EXPECT_EQ(RoundTrip("Eg$lshzxetd"), "AE") << "every class is A";
  EXPECT_EQ(RoundTrip("AKEn"), "AKE") << "as Redis prints it: no n after A";
  EXPECT_EQ(RoundTrip("hgK"), "ghK");
  EXPECT_EQ(RoundTrip("Em"), "Em");
  EXPECT_EQ(RoundTrip("KQ"), "<invalid>");
}

TEST(NotifierTest, SendsOnlyWantedClassesToItsSink) {
  Notifier n;
  std::vector<std::pair<std::string, std::string>> sent;
  bool listened = true;
  n.SetSink([&](const std::string& c, const std::string& m) { sent.emplace_back(c, m); },
            [&] { return listened; });
  n.Notify(Notifier::kString, "set", "k");
  EXPECT_TRUE(sent.empty()) << "flags are empty by default";
  n.SetFlags(Notifier::kKeyspace | Notifier::kKeyevent | Notifier::kHash);
  EXPECT_FALSE(n.Wants(Notifier::kString));
  EXPECT_TRUE(n.Wants(Notifier::kHash));
  n.Notify(Notifier::kString, "set", "k");
  n.Notify(Notifier::kHash, "hset", "h");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], std::make_pair(std::string("__keyspace@0__:h"), std::string("hset")));
  EXPECT_EQ(sent[1], std::make_pair(std::string("__keyevent@0__:hset"), std::string("h")));
  n.DeviceChanged("7", 3, "{}");
  EXPECT_EQ(sent.back().first, "device:7:changes");
  listened = false;
  EXPECT_FALSE(n.Listened());
  std::vector<uint64_t> versions;
  const uint64_t w =
      n.Watch([&](std::string_view, uint64_t v, const std::string&) { versions.push_back(v); });
  EXPECT_TRUE(n.Listened()) << "a watcher listens";
  n.DeviceChanged("7", 4, "{}");
  n.Unwatch(w);
  n.DeviceChanged("7", 5, "{}");
  EXPECT_EQ(versions, std::vector<uint64_t>{4});
  EXPECT_EQ(sent.size(), 3u) << "nobody listens on channels";
  n.SetSink(nullptr, nullptr);
  n.Notify(Notifier::kHash, "hset", "h");
  EXPECT_EQ(sent.size(), 3u) << "no sink, nothing sent";
}

}  // namespace
}  // namespace devstate
