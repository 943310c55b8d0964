// ReplyOrder's rules without sockets: writes overlap, reads wait for everything ahead,
// a barrier (EXEC) holds back what follows, and replies leave in arrival order.
#include "api/resp/reply_order.h"

#include <gtest/gtest.h>

namespace devstate::resp {
namespace {

using Kind = ReplyOrder::Kind;

void Answer(const std::shared_ptr<ReplyOrder::Slot>& slot, std::string reply) {
  slot->reply = std::move(reply);
  slot->ready = true;
}

TEST(ReplyOrderTest, WritesRunWhileEarlierWritesWaitAndReadsWaitForThem) {
  ReplyOrder order;
  auto w1 = order.Add(Kind::kWrite);  // handed to the pipeline, not answered yet
  EXPECT_TRUE(order.MayRun(Kind::kWrite)) << "a write may follow a write in flight";
  auto w2 = order.Add(Kind::kWrite);
  EXPECT_FALSE(order.MayRun(Kind::kRead)) << "a read must see both writes' outcomes";
  auto read = order.Add(Kind::kRead);
  read->waiting = true;
  EXPECT_FALSE(order.MayRun(Kind::kWrite)) << "nothing passes a waiting command";
  EXPECT_EQ(order.NextRunnable(), nullptr);
  Answer(w2, "+w2\r\n");
  EXPECT_EQ(order.NextRunnable(), nullptr) << "w1 is still unanswered";
  std::string out;
  EXPECT_FALSE(order.TakeReady(&out));
  EXPECT_EQ(out, "") << "w2's reply waits for w1's";
  Answer(w1, "+w1\r\n");
  EXPECT_EQ(order.NextRunnable(), read);
  EXPECT_FALSE(read->waiting);
  Answer(read, "$1\r\nv\r\n");
  EXPECT_FALSE(order.TakeReady(&out));
  EXPECT_EQ(out, "+w1\r\n+w2\r\n$1\r\nv\r\n");
  EXPECT_TRUE(order.empty());
}

TEST(ReplyOrderTest, ABarrierHoldsBackEvenWrites) {
  ReplyOrder order;
  auto w = order.Add(Kind::kWrite);
  EXPECT_FALSE(order.MayRun(Kind::kBarrier));
  auto exec = order.Add(Kind::kBarrier);
  exec->waiting = true;
  auto after = order.Add(Kind::kWrite);
  after->waiting = true;
  Answer(w, "+OK\r\n");
  EXPECT_EQ(order.NextRunnable(), exec);  // everything ahead answered
  EXPECT_EQ(order.NextRunnable(), nullptr) << "the EXEC runs but is not answered yet";
  Answer(exec, "*0\r\n");
  EXPECT_EQ(order.NextRunnable(), after);
}

TEST(ReplyOrderTest, ARepliesStopAfterOneThatClosesTheConnection) {
  ReplyOrder order;
  auto quit = order.Add(Kind::kRead);
  Answer(quit, "+OK\r\n");
  quit->close_after = true;
  auto late = order.Add(Kind::kRead);
  Answer(late, "+late\r\n");
  std::string out;
  EXPECT_TRUE(order.TakeReady(&out));
  EXPECT_EQ(out, "+OK\r\n");
}

}  // namespace
}  // namespace devstate::resp
