#include "service/mqtt_ingest.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "service/mqtt/packet.h"
#include "store/store.h"
#include "tests/unit/fault_fs.h"
#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

TEST(DeviceIdFromTopicTest, TakesTheLevelOfTheFirstPlus) {
  EXPECT_EQ(DeviceIdFromTopic("devices/+/state", "devices/7/state"), "7");
  EXPECT_EQ(DeviceIdFromTopic("+/state", "abc/state"), "abc");
  EXPECT_EQ(DeviceIdFromTopic("a/b/+", "a/b/dev-9"), "dev-9");
  EXPECT_EQ(DeviceIdFromTopic("fleet/+/+/state", "fleet/x/y/state"), "x");
  EXPECT_EQ(DeviceIdFromTopic("devices/+/#", "devices/7/state/extra"), "7");
  EXPECT_EQ(DeviceIdFromTopic("devices/+/state", "devices//state"), "");
}

TEST(DeviceIdFromTopicTest, NoPlusMeansTheBodyCarriesTheId) {
  EXPECT_EQ(DeviceIdFromTopic("devices/state", "devices/state"), "");
  EXPECT_EQ(DeviceIdFromTopic("devices/#", "devices/7/state"), "");
  EXPECT_EQ(DeviceIdFromTopic("devices/+/state", "devices"), "");
}

// devstate's HTTP listener starts before MqttIngest::Start, and /readyz is ready when MQTT
// is connected or disabled: a configured ingest that has not subscribed yet must say
// connecting, or a client that waits for /readyz publishes into a broker with no
// subscriber and the events are dropped (seen as lost events in mqtt_no_loss_test).
TEST(MqttIngestTest, IsConnectingFromConstructionUntilSubscribed) {
  MqttOptions options;
  options.broker = "tcp://127.0.0.1:1";
  MqttIngest ingest(options, nullptr, nullptr, [] { return int64_t{0}; });
  EXPECT_EQ(ingest.state(), MqttState::kConnecting);
}

TEST(TopicMatchesTest, FollowsMqttFilters) {
  EXPECT_TRUE(TopicMatches("devices/+/state", "devices/7/state"));
  EXPECT_FALSE(TopicMatches("devices/+/state", "devices/7/state/rejected"));
  EXPECT_TRUE(TopicMatches("devices/#", "devices/7/state/rejected"));
  EXPECT_TRUE(TopicMatches("devices/#", "devices"));
  EXPECT_TRUE(TopicMatches("#", "a/b"));
  EXPECT_FALSE(TopicMatches("devices/+", "devices/7/state"));
  EXPECT_FALSE(TopicMatches("a/b", "a"));
  EXPECT_TRUE(TopicMatches("+/+", "a/b"));
}

TEST(ParseBrokerUriTest, TakesTheSchemesDevstateSpeaks) {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  ASSERT_TRUE(ParseBrokerUri("tcp://127.0.0.1:1884", &host, &port, &tls));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 1884);
  EXPECT_FALSE(tls);
  ASSERT_TRUE(ParseBrokerUri("ssl://broker.example", &host, &port, &tls));
  EXPECT_EQ(port, 8883);
  EXPECT_TRUE(tls);
  ASSERT_TRUE(ParseBrokerUri("mqtt://[::1]:1883/", &host, &port, &tls));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(ParseBrokerUri("http://x:1", &host, &port, &tls));
  EXPECT_FALSE(ParseBrokerUri("tcp://x:99999", &host, &port, &tls));
  EXPECT_FALSE(ParseBrokerUri("tcp://:1883", &host, &port, &tls));
  EXPECT_FALSE(ParseBrokerUri("127.0.0.1:1883", &host, &port, &tls));
}

// The test plays the broker on a loopback socket (the transport is real, the broker is
// not), in front of a real store whose journal syncs the test holds.
class MqttAckTest : public ::testing::Test {
 protected:
  using tcp = boost::asio::ip::tcp;

  void SetUp() override {
    StoreOptions options;
    options.dir = dir_.Sub("db");
    options.env = fault_.env.get();
    ASSERT_TRUE(Store::Open(options, &store_).ok());
    ASSERT_TRUE(DeadLetterLog::Open(dir_.Sub("dead"), 100, &dead_).ok());
    ingest_ = std::make_unique<Ingest>(store_.get());
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
  }

  // Starts devstate's subscriber and answers its CONNECT and SUBSCRIBE.
  void Connect() {
    MqttOptions o;
    o.broker = "tcp://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    o.publish_rejected = false;
    ingest_mqtt_ = std::make_unique<MqttIngest>(o, ingest_.get(), dead_.get(),
                                                [] { return int64_t{1'700'000'000'000}; });
    ingest_mqtt_->Start();
    acceptor_.accept(broker_);
    ASSERT_EQ(ReadPacket()[0], 0x10) << "CONNECT";
    Send({0x20, 2, 0, 0});
    ASSERT_EQ(ReadPacket()[0], static_cast<char>(0x82)) << "SUBSCRIBE";
    Send({0x90, 3, 0, 1, 1});
  }

  void Send(std::initializer_list<int> bytes) {
    std::string s;
    for (int b : bytes) s.push_back(static_cast<char>(b));
    boost::asio::write(broker_, boost::asio::buffer(s));
  }
  void Publish(uint16_t id, std::string_view device, std::string_view payload) {
    const std::string topic = "devices/" + std::string(device) + "/state";
    std::string body;
    body.push_back(static_cast<char>(topic.size() >> 8));
    body.push_back(static_cast<char>(topic.size()));
    body += topic;
    body.push_back(static_cast<char>(id >> 8));
    body.push_back(static_cast<char>(id));
    body += payload;
    std::string packet{static_cast<char>(0x32), static_cast<char>(body.size())};
    boost::asio::write(broker_, boost::asio::buffer(packet + body));
  }
  // One whole packet (small ones only: a one-byte remaining length).
  std::string ReadPacket() {
    char header[2];
    boost::asio::read(broker_, boost::asio::buffer(header));
    std::string body(static_cast<uint8_t>(header[1]), '\0');
    boost::asio::read(broker_, boost::asio::buffer(body));
    return std::string(header, 2) + body;
  }
  bool Readable() {
    broker_.non_blocking(true);
    char c;
    boost::system::error_code ec;
    const size_t n = broker_.receive(boost::asio::buffer(&c, 1), tcp::socket::message_peek, ec);
    broker_.non_blocking(false);
    return n > 0;
  }

  testing::TempDir dir_;
  testing::FaultEnv fault_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeadLetterLog> dead_;
  std::unique_ptr<Ingest> ingest_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  tcp::socket broker_{io_};
  std::unique_ptr<MqttIngest> ingest_mqtt_;
};

TEST_F(MqttAckTest, NoPubackBeforeTheGroupIsDurableAndAllInArrivalOrder) {
  Connect();
  fault_.fs->HoldSyncs();
  Publish(1, "a", R"({"t":1})");
  Publish(2, "b", R"({"t":2})");
  Publish(3, "c", "not json");  // dead-lettered at once, answered in its turn
  Publish(4, "a", R"({"t":4})");
  ASSERT_TRUE(fault_.fs->WaitForBlockedSyncs(1)) << "the first group is at its fsync";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a PUBACK would be here by now
  EXPECT_FALSE(Readable()) << "a PUBACK went out before its group was durable";
  EXPECT_EQ(store_->Get("device:a:latest"), nullptr) << "nothing unacknowledged is visible";
  fault_.fs->ReleaseSyncs();
  std::string acks;
  for (int i = 0; i < 4; ++i) acks += ReadPacket();
  std::string want;
  for (uint16_t id : {1, 2, 3, 4}) mqtt::AppendPuback(mqtt::Version::k311, id, &want);
  EXPECT_EQ(acks, want);
  EXPECT_NE(store_->Get("device:b:latest"), nullptr);
  EXPECT_EQ(dead_->total(), 1u);
  ingest_mqtt_->Stop();
}

TEST_F(MqttAckTest, ARefusingStoreGetsNoPubackAndIntakeStalls) {
  Connect();
  fault_.fs->FailSyncs(true);  // a failed fsync: writes are refused until a restart
  Publish(7, "a", R"({"t":1})");
  for (int i = 0; i < 500 && ingest_mqtt_->state() != MqttState::kStalled; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(ingest_mqtt_->state(), MqttState::kStalled);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(Readable()) << "a refused message was acknowledged";
  ingest_mqtt_->Stop();
}

}  // namespace
}  // namespace devstate
