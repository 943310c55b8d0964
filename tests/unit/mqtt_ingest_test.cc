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

}  // namespace
}  // namespace devstate
