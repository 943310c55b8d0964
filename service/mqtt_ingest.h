// MqttIngest: devices' events from an MQTT broker into the store (DESIGN.md §4).
//
// One Paho async client subscribes to the topic filter at QoS 1 with a fixed client id and
// a persistent session (clean session off), so the broker queues events while devstate is
// away. A supervisor thread connects, subscribes, and reconnects with exponential backoff
// whenever the connection is lost or the broker is down; reads and HTTP are unaffected.
//
// Acknowledgement. Paho sends the PUBACK when the message callback returns. With
// `ack = after_commit` (the default) the callback returns only after the event's commit
// group is synced, so a PUBACK means durable. It never uses Paho's consumer queue, which
// acknowledges on enqueue. If the store refuses writes, the callback does not return: the
// message stays unacknowledged at the broker (redelivered after a restart) and MQTT intake
// stops there; /readyz says so. With `ack = on_receipt` the callback submits the event and
// returns at once: faster, but a crash loses events that were acknowledged and not yet
// committed (at most those of the commit group in flight, a few ms of traffic).
//
// Payloads that are not valid events go to the dead-letter log (durably, before the ack).
// Redelivery is harmless: the merge is idempotent (equal event time keeps the stored value).
// Thread-safe; Start and Stop are called once each, from one thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "service/dead_letters.h"
#include "service/event.h"
#include "service/ingest.h"

namespace mqtt {
class async_client;
}

namespace devstate {

struct MqttOptions {
  std::string broker = "tcp://127.0.0.1:1883";
  std::string topic = "devices/+/state";
  std::string client_id = "devstate";
  bool ack_after_commit = true;
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

class MqttIngest {
 public:
  MqttIngest(MqttOptions options, Ingest* ingest, DeadLetterLog* dead_letters,
             std::function<int64_t()> now_ms);
  ~MqttIngest();

  void Start();
  // Disconnects and joins. Returns false if a message is held unacknowledged because the
  // store refused it: the caller must then end the process without returning to Paho, so
  // that message is never acknowledged (the broker redelivers it).
  bool Stop();

  MqttState state() const { return state_.load(); }
  std::string last_error() const;
  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }

 private:
  void Supervise();
  void OnMessage(std::string_view topic, std::string_view payload);
  void DeadLetter(std::string_view topic, std::string_view payload, const std::string& reason);
  void SetError(std::string error);

  const MqttOptions options_;
  Ingest* const ingest_;
  DeadLetterLog* const dead_letters_;
  const std::function<int64_t()> now_ms_;
  std::unique_ptr<mqtt::async_client> client_;
  EventParser parser_;  // used only on Paho's callback thread
  std::thread supervisor_;
  // Connecting from construction, not from Start: devstate's HTTP listener is up before
  // Start runs, and /readyz must not say ready while nothing is subscribed yet.
  std::atomic<MqttState> state_{MqttState::kConnecting};
  std::atomic<uint64_t> messages_{0};

  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;     // the connection dropped; the supervisor reconnects
  bool stalled_ = false;  // the callback holds a message the store refused
  std::string last_error_;
};

}  // namespace devstate
