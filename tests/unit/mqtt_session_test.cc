// The MQTT packet codec and the subscriber's session (service/mqtt/), without sockets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/mqtt/packet.h"
#include "service/mqtt/session.h"

namespace devstate::mqtt {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// A PUBLISH as a broker sends it.
std::string Publish(Version v, std::string_view topic, std::string_view payload, int qos,
                    uint16_t id, bool dup = false) {
  std::string body;
  body.push_back(static_cast<char>(topic.size() >> 8));
  body.push_back(static_cast<char>(topic.size() & 0xff));
  body.append(topic);
  if (qos > 0) {
    body.push_back(static_cast<char>(id >> 8));
    body.push_back(static_cast<char>(id & 0xff));
  }
  if (v == Version::k5) body += Bytes({2, 0x01, 0x01});  // Payload Format Indicator, skipped
  body.append(payload);
  std::string out;
  out.push_back(static_cast<char>(0x30 | (dup ? 0x08 : 0) | (qos << 1)));
  size_t n = body.size();
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n > 0);
  return out + body;
}

DecodeResult DecodeAll(std::string_view data, Packet* p, std::string* error,
                       Version v = Version::k311, size_t max = 1 << 20) {
  size_t consumed = 0;
  return Decode(v, data, max, p, &consumed, error);
}

TEST(MqttPacketTest, ConnectIsEncodedAsTheStandardSays) {
  ConnectParams c;
  c.client_id = "ds";
  c.keepalive_s = 30;
  // MQTT 3.1.1 §3.1: "MQTT", level 4, flags (clean session off), keep-alive, client id.
  EXPECT_EQ(EncodeConnect(Version::k311, c),
            Bytes({0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 30, 0, 2, 'd', 's'}));
  c.username = "u";
  c.password = "p";
  c.session_expiry_s = 60;
  c.receive_maximum = 100;
  const std::string v5 = EncodeConnect(Version::k5, c);
  // Level 5, user name and password flags, then properties: Session Expiry Interval and
  // Receive Maximum.
  EXPECT_EQ(v5.substr(2, 10), Bytes({0, 4, 'M', 'Q', 'T', 'T', 5, 0xC0, 0, 30}));
  EXPECT_EQ(v5.substr(12, 9), Bytes({8, 0x11, 0, 0, 0, 60, 0x21, 0, 100}));
  EXPECT_EQ(v5.substr(v5.size() - 6), Bytes({0, 1, 'u', 0, 1, 'p'}));
}

TEST(MqttPacketTest, SubscribeAndPubackBytes) {
  EXPECT_EQ(EncodeSubscribe(Version::k311, 1, "a/+", 1),
            Bytes({0x82, 8, 0, 1, 0, 3, 'a', '/', '+', 1}));
  EXPECT_EQ(EncodeSubscribe(Version::k5, 1, "a", 1), Bytes({0x82, 7, 0, 1, 0, 0, 1, 'a', 1}));
  std::string out;
  AppendPuback(Version::k311, 0x1234, &out);
  EXPECT_EQ(out, Bytes({0x40, 2, 0x12, 0x34}));
}

TEST(MqttPacketTest, DecodesPublishInBothVersions) {
  for (Version v : {Version::k311, Version::k5}) {
    Packet p;
    std::string error;
    const std::string bytes = Publish(v, "devices/7/state", "{\"t\":1}", 1, 42, true);
    size_t consumed = 0;
    ASSERT_EQ(Decode(v, bytes, 1 << 20, &p, &consumed, &error), DecodeResult::kPacket) << error;
    EXPECT_EQ(consumed, bytes.size());
    EXPECT_EQ(p.type, PacketType::kPublish);
    EXPECT_EQ(p.qos, 1);
    EXPECT_TRUE(p.dup);
    EXPECT_EQ(p.packet_id, 42);
    EXPECT_EQ(p.topic, "devices/7/state");
    EXPECT_EQ(p.payload, "{\"t\":1}");
    // Every prefix is incomplete, never an error.
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_EQ(Decode(v, std::string_view(bytes).substr(0, n), 1 << 20, &p, &consumed, &error),
                DecodeResult::kNeedMore)
          << n;
    }
  }
}

TEST(MqttPacketTest, RefusesWhatABrokerMustNotSend) {
  Packet p;
  std::string error;
  // Over the packet limit: refused from the header, before the body arrives.
  EXPECT_EQ(DecodeAll(Bytes({0x30, 0xff, 0xff, 0x7f}), &p, &error, Version::k311, 1000),
            DecodeResult::kError);
  EXPECT_NE(error.find("over the limit"), std::string::npos) << error;
  // A remaining length of five bytes.
  EXPECT_EQ(DecodeAll(Bytes({0x30, 0xff, 0xff, 0xff, 0xff, 0x01}), &p, &error),
            DecodeResult::kError);
  // QoS 2, QoS 3, a DUP QoS 0, a wildcard or invalid UTF-8 in a topic, QoS 1 without an id.
  EXPECT_EQ(DecodeAll(Publish(Version::k311, "a", "x", 2, 1), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Bytes({0x36, 5, 0, 1, 'a', 0, 1}), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Bytes({0x38, 4, 0, 1, 'a', 'x'}), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Publish(Version::k311, "a/#", "x", 0, 0), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Publish(Version::k311, "a\xff", "x", 0, 0), &p, &error),
            DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Bytes({0x32, 3, 0, 1, 'a'}), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Bytes({0x32, 5, 0, 1, 'a', 0, 0}), &p, &error), DecodeResult::kError);
  // A topic length past the packet's end.
  EXPECT_EQ(DecodeAll(Bytes({0x30, 3, 0, 9, 'a'}), &p, &error), DecodeResult::kError);
  // Packets only a client sends, and DISCONNECT in 3.1.1.
  EXPECT_EQ(DecodeAll(Bytes({0x82, 0}), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Bytes({0xC0, 0}), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Bytes({0xE0, 0}), &p, &error), DecodeResult::kError);
  EXPECT_EQ(DecodeAll(Bytes({0xE0, 1, 0x8B}), &p, &error, Version::k5), DecodeResult::kPacket);
  EXPECT_EQ(p.reason, 0x8B);
}

TEST(AckQueueTest, AcknowledgesInArrivalOrderWhateverCompletesFirst) {
  AckQueue q;
  const uint64_t a = q.Arrive(10), b = q.Arrive(11), c = q.Arrive(12);
  std::vector<uint16_t> ready;
  q.Done(c);
  q.Done(b);
  q.TakeReady(&ready);
  EXPECT_TRUE(ready.empty()) << "nothing goes before the first";
  q.Done(a);
  q.Done(a);   // repeated: ignored
  q.Done(99);  // unknown: ignored
  q.TakeReady(&ready);
  EXPECT_EQ(ready, (std::vector<uint16_t>{10, 11, 12}));
  EXPECT_EQ(q.waiting(), 0u);
  q.Done(a);  // already acknowledged: ignored
  const uint64_t d = q.Arrive(13);
  EXPECT_GT(d, c);
  q.Done(d);
  ready.clear();
  q.TakeReady(&ready);
  EXPECT_EQ(ready, (std::vector<uint16_t>{13}));
}

class SessionTest : public ::testing::Test {
 protected:
  void Make(size_t max_inflight = 100, Version v = Version::k311) {
    SessionOptions o;
    o.version = v;
    o.connect.client_id = "ds";
    o.topic = "devices/+/state";
    o.max_inflight = max_inflight;
    session_ = std::make_unique<Session>(
        o, [this](std::vector<Message> burst) { bursts_.push_back(std::move(burst)); });
    std::string out;
    session_->Begin(&out);
    ASSERT_EQ(out[0], 0x10);
  }
  void Subscribe() {
    std::string out;
    ASSERT_TRUE(session_->Receive(Bytes({0x20, 2, 0, 0}), &out));
    ASSERT_EQ(out, EncodeSubscribe(Version::k311, 1, "devices/+/state", 1));
    out.clear();
    ASSERT_TRUE(session_->Receive(Bytes({0x90, 3, 0, 1, 1}), &out));
    ASSERT_EQ(session_->phase(), Session::Phase::kSubscribed);
  }
  static std::string Pubacks(std::initializer_list<uint16_t> ids) {
    std::string out;
    for (uint16_t id : ids) AppendPuback(Version::k311, id, &out);
    return out;
  }

  std::unique_ptr<Session> session_;
  std::vector<std::vector<Message>> bursts_;
};

TEST_F(SessionTest, OneReadIsOneBurstAndPubacksWaitForTheirOutcome) {
  Make();
  Subscribe();
  std::string in;
  for (uint16_t id = 1; id <= 3; ++id) in += Publish(Version::k311, "devices/7/state", "{}", 1, id);
  in += Publish(Version::k311, "devices/8/state", "{}", 0, 0);
  std::string out;
  // Split anywhere: the packets come out whole, in order, and nothing is answered yet.
  ASSERT_TRUE(session_->Receive(in.substr(0, 5), &out));
  ASSERT_TRUE(session_->Receive(in.substr(5), &out));
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(bursts_.size(), 1u);
  ASSERT_EQ(bursts_[0].size(), 4u);
  EXPECT_EQ(bursts_[0][3].ticket, 0u) << "QoS 0: nothing to acknowledge";
  const auto& b = bursts_[0];
  ASSERT_TRUE(session_->Done(b[1].ticket, &out));
  EXPECT_TRUE(out.empty()) << "the second waits for the first";
  ASSERT_TRUE(session_->Done(b[0].ticket, &out));
  EXPECT_EQ(out, Pubacks({1, 2}));
  out.clear();
  ASSERT_TRUE(session_->Done(b[2].ticket, &out));
  EXPECT_EQ(out, Pubacks({3}));
}

TEST_F(SessionTest, BackPressureStopsDecodingAtMaxInflight) {
  Make(/*max_inflight=*/2);
  Subscribe();
  std::string in;
  for (uint16_t id = 1; id <= 5; ++id) in += Publish(Version::k311, "devices/7/state", "{}", 1, id);
  std::string out;
  ASSERT_TRUE(session_->Receive(in, &out));
  ASSERT_EQ(bursts_.size(), 1u);
  EXPECT_EQ(bursts_[0].size(), 2u);
  EXPECT_FALSE(session_->WantsInput()) << "the caller stops reading the socket";
  // One acknowledged: one more is taken from what was already read.
  ASSERT_TRUE(session_->Done(bursts_[0][0].ticket, &out));
  EXPECT_EQ(out, Pubacks({1}));
  ASSERT_EQ(bursts_.size(), 2u);
  EXPECT_EQ(bursts_[1].size(), 1u);
  EXPECT_EQ(bursts_[1][0].payload, "{}");
}

TEST_F(SessionTest, BackPressureAlsoCountsTheWaitingBytes) {
  SessionOptions o;
  o.connect.client_id = "ds";
  o.max_inflight = 100;
  o.max_inflight_bytes = 1000;
  session_ = std::make_unique<Session>(
      o, [this](std::vector<Message> burst) { bursts_.push_back(std::move(burst)); });
  std::string out;
  session_->Begin(&out);
  Subscribe();
  const std::string big(600, 'x');
  std::string in;
  for (uint16_t id = 1; id <= 3; ++id) in += Publish(Version::k311, "devices/7/state", big, 1, id);
  ASSERT_TRUE(session_->Receive(in, &out));
  ASSERT_EQ(bursts_.size(), 1u);
  EXPECT_EQ(bursts_[0].size(), 2u) << "the second passes the byte limit; the third waits";
  EXPECT_FALSE(session_->WantsInput());
  ASSERT_TRUE(session_->Done(bursts_[0][0].ticket, &out));
  EXPECT_FALSE(session_->WantsInput()) << "the third came in and fills the byte budget again";
  ASSERT_EQ(bursts_.size(), 2u);
}

TEST_F(SessionTest, RefusalsAndMalformedPacketsEndTheConnectionWithAReason) {
  Make();
  std::string out;
  EXPECT_FALSE(session_->Receive(Bytes({0x20, 2, 0, 5}), &out));
  EXPECT_NE(session_->error().find("not authorized"), std::string::npos) << session_->error();

  Make();
  ASSERT_TRUE(session_->Receive(Bytes({0x20, 2, 0, 0}), &out));
  EXPECT_FALSE(session_->Receive(Bytes({0x90, 3, 0, 1, 0x80}), &out));
  EXPECT_NE(session_->error().find("refused the subscription"), std::string::npos);

  Make();
  EXPECT_FALSE(session_->Receive(Publish(Version::k311, "a", "x", 1, 1), &out))
      << "a PUBLISH before CONNACK";

  // Messages decoded before a malformed packet are still delivered; the connection ends.
  Make();
  Subscribe();
  bursts_.clear();
  EXPECT_FALSE(session_->Receive(Publish(Version::k311, "devices/1/state", "{}", 1, 1) +
                                     Bytes({0x30, 0xff, 0xff, 0xff, 0xff, 0x01}),
                                 &out));
  EXPECT_EQ(bursts_.size(), 1u);
  EXPECT_NE(session_->error().find("malformed"), std::string::npos);
  EXPECT_FALSE(session_->WantsInput());
}

}  // namespace
}  // namespace devstate::mqtt
