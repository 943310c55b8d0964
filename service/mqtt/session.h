// One connection's MQTT protocol state for the ingest subscriber, without any I/O: bytes
// from the broker go in (Receive), bytes for the broker come out (appended to `out`), so
// the ordering rules are tested without sockets (tests/unit/mqtt_session_test.cc).
//
// The acknowledgement queue. Every QoS 1 PUBLISH gets a ticket in arrival order. Its
// PUBACK is sent once its ticket is Done AND every earlier ticket is: MQTT 3.1.1 §4.6
// requires PUBACKs in the order the PUBLISH packets arrived, and devstate answers a message
// only once its commit group (or its dead letter) is durable. Commit groups complete in
// order anyway; the queue makes the rule hold whatever completes first.
//
// Back-pressure. Once `max_inflight` tickets, or `max_inflight_bytes` of their payloads,
// wait, Receive stops decoding: the rest stays in this session's buffer and the caller
// stops reading the socket (WantsInput), so TCP flow control holds the broker back even if
// it ignores Receive Maximum. Memory per connection is therefore bounded by those waiting
// messages plus one read and one packet.
//
// Not thread-safe: one connection's thread (its io_context) calls everything.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "service/mqtt/packet.h"

namespace devstate::mqtt {

struct SessionOptions {
  Version version = Version::k311;
  ConnectParams connect;
  std::string topic = "devices/+/state";
  size_t max_packet_bytes = 1 << 20;
  size_t max_inflight = 4096;
  size_t max_inflight_bytes = 16 << 20;  // payload bytes of the messages waiting
};

// A message taken from the broker. `ticket` is 0 for QoS 0 (nothing to acknowledge).
struct Message {
  uint64_t ticket = 0;
  std::string topic;
  std::string payload;
};

// The ordered acknowledgement queue (see above).
class AckQueue {
 public:
  // A ticket (> 0) for a message of `bytes` that arrived now.
  uint64_t Arrive(uint16_t packet_id, size_t bytes = 0);
  // The message's outcome is durable. Unknown or repeated tickets are ignored.
  void Done(uint64_t ticket);
  // Appends the packet ids whose PUBACK may go now, in arrival order, and forgets them.
  void TakeReady(std::vector<uint16_t>* ids);
  size_t waiting() const { return entries_.size(); }
  size_t waiting_bytes() const { return bytes_; }

 private:
  struct Entry {
    uint16_t packet_id;
    bool done;
    size_t bytes;
  };
  size_t bytes_ = 0;
  std::deque<Entry> entries_;
  uint64_t first_ticket_ = 1;  // the ticket of entries_.front()
};

class Session {
 public:
  enum class Phase { kConnecting, kSubscribing, kSubscribed, kClosed };
  // Called with the messages decoded from one Receive (a read burst), in arrival order.
  using Deliver = std::function<void(std::vector<Message> burst)>;

  Session(SessionOptions options, Deliver deliver);

  // The CONNECT packet, to send first.
  void Begin(std::string* out);
  // Bytes read from the broker. False: the connection must end (error() says why: a
  // malformed packet, a refused CONNECT or subscription, a DISCONNECT).
  bool Receive(std::string_view bytes, std::string* out);
  // A message's outcome is durable: appends the PUBACKs now due, then decodes what
  // back-pressure held in the buffer (false as for Receive).
  bool Done(uint64_t ticket, std::string* out);
  // A keep-alive ping.
  void Ping(std::string* out) const { out->append(EncodePingreq()); }

  bool WantsInput() const;
  Phase phase() const { return phase_; }
  bool session_present() const { return session_present_; }
  const std::string& error() const { return error_; }
  size_t waiting() const { return acks_.waiting(); }
  uint64_t messages() const { return messages_; }

 private:
  bool Drain(std::string* out);
  bool Handle(const Packet& packet, std::string* out, std::vector<Message>* burst);
  bool Fail(std::string why);

  const SessionOptions options_;
  const Deliver deliver_;
  Phase phase_ = Phase::kConnecting;
  bool session_present_ = false;
  std::string in_;  // bytes received and not yet decoded
  AckQueue acks_;
  std::vector<uint16_t> ready_;
  std::string error_;
  uint64_t messages_ = 0;
  static constexpr uint16_t kSubscribeId = 1;
};

}  // namespace devstate::mqtt
