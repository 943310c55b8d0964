#include "service/mqtt_ingest.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace devstate
