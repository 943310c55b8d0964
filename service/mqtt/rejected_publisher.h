// MqttRejectedPublisher: tells a device why its event was refused, on `<topic>/rejected`
// (as AWS IoT answers on a shadow's `/rejected` topic), through Paho's async client on a
// connection of its own: what devstate publishes fits Paho, which acknowledges nothing of
// ours. The message is JSON: {"error": ..., "topic": ..., "payload": <first bytes>}, at
// QoS 1, never retained. Best effort: while the broker is away up to 1000 messages are
// buffered, then the oldest are dropped; the dead-letter log stays the durable record.
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace mqtt {
class async_client;
}

namespace devstate {

struct MqttOptions;

class MqttRejectedPublisher {
 public:
  explicit MqttRejectedPublisher(const MqttOptions& options);
  ~MqttRejectedPublisher();

  void Publish(std::string_view topic, std::string_view reason, std::string_view payload);

 private:
  std::unique_ptr<mqtt::async_client> client_;
};

}  // namespace devstate
