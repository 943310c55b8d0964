// The control plane's pure parts: the shard's keys as values, who may take the lead, the
// synchronous set after a promotion, endpoints and the fence's deadline.
#include "service/control/shard_state.h"

#include <gtest/gtest.h>

#include "service/control/controller.h"

namespace devstate::control {
namespace {

KeyValue Kv(std::string key, std::string value, int64_t create = 1, int64_t mod = 1,
            int64_t lease = 0) {
  return KeyValue{std::move(key), std::move(value), create, mod, lease};
}

TEST(ShardStateTest, ValuesRoundTrip) {
  LeaderValue l{"a1", "10.0.0.1:6379:8080"}, l2;
  ASSERT_TRUE(DecodeLeader(EncodeLeader(l), &l2));
  EXPECT_EQ(l2.node_id, "a1");
  EXPECT_EQ(l2.announce, "10.0.0.1:6379:8080");
  SyncValue s{"a1", {"b2", "c3"}, {{"a1", "sa"}, {"b2", "sb"}, {"c3", "sc"}}}, s2;
  ASSERT_TRUE(DecodeSync(EncodeSync(s), &s2));
  EXPECT_EQ(s2.leader, "a1");
  EXPECT_EQ(s2.members, (std::vector<std::string>{"b2", "c3"}));
  EXPECT_EQ(s2.stores, s.stores);
  NodeValue n{"b2", "h:1:2", "replica", "sb", 7, 123}, n2;
  ASSERT_TRUE(DecodeNode(EncodeNode(n), &n2));
  EXPECT_EQ(n2.store, "sb");
  EXPECT_EQ(n2.epoch, 7u);
  EXPECT_EQ(n2.seq, 123u);
  EXPECT_FALSE(DecodeSync("{\"leader\":\"a\"}", &s2)) << "members are required";
  EXPECT_FALSE(DecodeLeader("not json", &l2));
}

TEST(ShardStateTest, ParseFindsTheKeysAndKeepsAnUnreadableSetsRevision) {
  ShardKeys keys("s");
  std::string warning;
  ShardState st = ParseShard(
      keys,
      {Kv(keys.leader, EncodeLeader({"a", "h:1:2"}), 9, 9, 77), Kv(keys.sync, "garbage", 3, 12),
       Kv(keys.Node("a"), EncodeNode({"a", "h:1:2", "primary", "sa", 1, 5}))},
      20, &warning);
  ASSERT_TRUE(st.leader);
  EXPECT_EQ(st.leader_create_revision, 9);
  EXPECT_EQ(st.leader_lease, 77);
  EXPECT_EQ(st.sync_mod_revision, 12);
  ASSERT_TRUE(st.sync);
  EXPECT_TRUE(st.sync->members.empty());
  EXPECT_FALSE(warning.empty());
  EXPECT_EQ(st.nodes.size(), 1u);
  // Nobody may take the lead from a set nobody can read.
  st.leader.reset();
  EXPECT_FALSE(MayTakeLead(st, "b", "sb", 1, 5));
}

TEST(ShardStateTest, OnlyTheSetOrItsLeaderMayTakeALapsedLead) {
  ShardState st;
  st.sync = SyncValue{"a", {"b"}, {{"a", "sa"}, {"b", "sb"}}};
  st.sync_mod_revision = 4;
  EXPECT_TRUE(MayTakeLead(st, "b", "sb", 1, 1)) << "a member holds every acknowledged write";
  EXPECT_TRUE(MayTakeLead(st, "a", "sa", 1, 1)) << "so does the primary that acknowledged them";
  EXPECT_FALSE(MayTakeLead(st, "c", "sc", 9, 999)) << "not a member: however far it got";
  EXPECT_FALSE(MayTakeLead(st, "b", "wiped", 1, 1))
      << "the same id on a new store (a wiped disk) holds nothing it was trusted with";
  EXPECT_FALSE(MayTakeLead(st, "a", "wiped", 1, 1));
  st.leader = LeaderValue{"b", "h:1:2"};
  EXPECT_FALSE(MayTakeLead(st, "b", "sb", 1, 1)) << "the lead is held";
}

TEST(ShardStateTest, BeforeAnyPrimaryTheNodeHoldingTheMostGoesFirst) {
  ShardState st;
  st.nodes = {{"a", "", "undecided", "sa", 2, 10}, {"b", "", "undecided", "sb", 2, 50}};
  EXPECT_FALSE(MayTakeLead(st, "a", "sa", 2, 10));
  EXPECT_TRUE(MayTakeLead(st, "b", "sb", 2, 50));
  EXPECT_FALSE(MayTakeLead(st, "c", "sc", 1, 999)) << "the epoch counts before the position";
  st.nodes.push_back({"0", "", "undecided", "s0", 2, 50});
  EXPECT_FALSE(MayTakeLead(st, "b", "sb", 2, 50)) << "a tie goes to the lowest id";
}

TEST(ShardStateTest, AfterPromotionTheOldMembersStayButTheNewPrimary) {
  ShardState st;
  st.sync = SyncValue{"a", {"b", "c"}, {{"a", "sa"}, {"b", "sb"}, {"c", "sc"}}};
  SyncValue next = SyncAfterPromotion(st, "b", "sb");
  EXPECT_EQ(next.leader, "b");
  EXPECT_EQ(next.members, (std::vector<std::string>{"c"}));
  EXPECT_EQ(next.stores, (std::map<std::string, std::string>{{"b", "sb"}, {"c", "sc"}}));
  EXPECT_TRUE(SyncAfterPromotion(ShardState{}, "x", "sx").members.empty());
}

TEST(EtcdClientTest, EndpointsAndPrefixes) {
  std::vector<std::string> endpoints;
  std::string error;
  ASSERT_TRUE(
      ParseEndpoints("http://127.0.0.1:2379, https://[::1]:2379,127.0.0.1:3", &endpoints, &error));
  EXPECT_EQ(endpoints.size(), 3u);
  EXPECT_FALSE(ParseEndpoints("http://nohost", &endpoints, &error));
  EXPECT_NE(error.find("nohost"), std::string::npos);
  EXPECT_FALSE(ParseEndpoints("127.0.0.1:99999", &endpoints, &error));
  EXPECT_EQ(PrefixEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
}

TEST(ControllerTest, TheFenceClosesBeforeTheLeaseCanLapse) {
  const auto sent = std::chrono::steady_clock::now();
  const auto deadline = FenceDeadline(sent, 2, std::chrono::milliseconds(250));
  EXPECT_EQ(deadline, sent + std::chrono::milliseconds(1750));
}

}  // namespace
}  // namespace devstate::control
