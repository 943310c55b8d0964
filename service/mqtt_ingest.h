// MqttIngest: devices' events from an MQTT broker into the store (DESIGN.md §4).
//
// devstate's own subscriber (service/mqtt/packet.h says why not a library), on one Asio
// thread: MQTT 3.1.1 or 5 (`mqtt.version`), a fixed client id and a persistent session
// (3.1.1 clean session off; 5 a session expiry), so the broker queues events while devstate
// is away; TLS for ssl:// brokers; keep-alive; reconnect with exponential backoff. Reads
// and HTTP are unaffected by the broker's state.
//
// Acknowledgement. The PUBLISH packets of one read burst are parsed and submitted to the
// store as one write; with `ack = after_commit` (the default) each message's PUBACK goes out
// once that write is durable (and held by the replicas the store requires), in arrival
// order (mqtt::Session's queue). A payload that is not a valid event is acknowledged once
// its dead letter is durable, in the same order. With `ack = on_receipt` the PUBACK goes
// out as the message is submitted: faster, but a crash loses what was acknowledged and not
// yet committed.
//
// A refusing store: no PUBACK. A full disk or too few replicas (they pass): the write is
// tried again every 200 ms; a failed fsync (it does not): held until the process ends. In
// both cases intake stops (mqtt.max_inflight messages wait, then the socket is not read),
// /readyz says `stalled`, and a message never acknowledged is redelivered by the broker to
// the next session. Redelivery is harmless: the merge is idempotent.
//
// Rejected events: their reason is also published on `<topic>/rejected` (`mqtt.publish_rejected`)
// through a separate Paho client (MqttRejectedPublisher).
//
// Thread-safe; Start and Stop are called once each, from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "service/dead_letters.h"
#include "service/event.h"
#include "service/ingest.h"

namespace devstate {

struct MqttOptions {
  std::string broker = "tcp://127.0.0.1:1883";
  std::string topic = "devices/+/state";
  std::string client_id = "devstate";
  bool ack_after_commit = true;
  bool v5 = false;                        // mqtt.version = 5
  int64_t max_inflight = 4096;            // messages waiting for their PUBACK; Receive Maximum
  int64_t max_inflight_bytes = 16 << 20;  // and their bytes
  int64_t session_expiry_s = 4294967295;  // MQTT 5 (the maximum: the session never expires)
  int64_t max_packet_bytes = 1 << 20;
  bool publish_rejected = true;
  int64_t reconnect_min_ms = 100;
  int64_t reconnect_max_ms = 5000;
  int64_t keepalive_s = 30;
  std::string username;  // empty: none
  std::string password;
  std::string ca;    // ssl:// brokers: PEM CA bundle for the broker's certificate
  std::string cert;  // optional client certificate and its key
  std::string key;
  EventLimits limits;
  size_t dead_letter_payload_bytes = 256;
};

enum class MqttState { kDisabled, kConnecting, kConnected, kStalled };
const char* MqttStateName(MqttState state);

// The device id a topic carries at the filter's first `+` level ("devices/+/state" and
// "devices/7/state" give "7"); empty when the filter has no `+` (the body must carry
// deviceId) or the topic is shorter.
std::string_view DeviceIdFromTopic(std::string_view filter, std::string_view topic);

// Whether `topic` matches the subscription `filter` (`+` one level, `#` the rest).
bool TopicMatches(std::string_view filter, std::string_view topic);

// host and port of tcp://, mqtt://, ssl:// and mqtts:// URIs; false if `uri` is none.
bool ParseBrokerUri(std::string_view uri, std::string* host, uint16_t* port, bool* tls);

class MqttIngest {
 public:
  MqttIngest(MqttOptions options, Ingest* ingest, DeadLetterLog* dead_letters,
             std::function<int64_t()> now_ms);
  ~MqttIngest();

  void Start();
  // Disconnects and joins. Messages not acknowledged stay with the broker.
  void Stop();

  MqttState state() const;
  std::string last_error() const;
  uint64_t messages() const;

  class Core;  // the connection machinery (mqtt_ingest.cc)

 private:
  std::shared_ptr<Core> core_;  // shared with the store's callbacks, which may outlive Stop
  std::thread thread_;
};

}  // namespace devstate
