// The MQTT 3.1.1 and 5.0 packets devstate's ingest subscriber sends and receives.
//
// Written here rather than taken from a library: no client packaged for Debian 12 lets the
// application send a PUBACK later than the message callback (Paho C acknowledges when the
// callback returns, libmosquitto before it calls it), and acknowledging after the commit
// is the product. Only the subscriber's side is covered: CONNECT, SUBSCRIBE, PUBACK,
// PINGREQ and DISCONNECT out; CONNACK, SUBACK, PUBLISH (QoS 0 and 1), PINGRESP and
// DISCONNECT in. Anything else from a broker is a protocol error.
//
// Decoding never trusts a length: the remaining length is bounded by the caller's
// max_packet_bytes before any byte of the body is awaited, and every field is checked
// against what is left of its packet. Views returned point into the caller's buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace devstate::mqtt {

enum class Version : uint8_t { k311 = 4, k5 = 5 };

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,
};

struct ConnectParams {
  std::string client_id;
  std::string username;  // empty: none
  std::string password;  // empty: none
  uint16_t keepalive_s = 30;
  bool clean_start = false;           // false: the broker keeps the session and its queue
  uint32_t session_expiry_s = 0;      // MQTT 5: how long the broker keeps the session
  uint16_t receive_maximum = 0;       // MQTT 5: QoS 1 messages in flight; 0: not sent
  uint32_t maximum_packet_bytes = 0;  // MQTT 5: the largest packet we accept; 0: not sent
};

std::string EncodeConnect(Version version, const ConnectParams& params);
std::string EncodeSubscribe(Version version, uint16_t packet_id, std::string_view filter,
                            uint8_t qos);
void AppendPuback(Version version, uint16_t packet_id, std::string* out);
std::string EncodePingreq();
std::string EncodeDisconnect(Version version);

// One decoded packet; the views point into the buffer given to Decode.
struct Packet {
  PacketType type = PacketType::kPingresp;
  // CONNACK
  bool session_present = false;
  uint8_t reason = 0;  // CONNACK return code (3.1.1) or reason code (5); DISCONNECT's reason
  // PUBLISH
  uint8_t qos = 0;
  bool dup = false;
  bool retain = false;
  uint16_t packet_id = 0;  // PUBLISH (QoS 1) and SUBACK
  std::string_view topic;
  std::string_view payload;
  // SUBACK: one return or reason code per filter
  std::vector<uint8_t> granted;
};

enum class DecodeResult { kPacket, kNeedMore, kError };

// Decodes the packet at the front of `data`. kPacket: *packet is it and *consumed its size.
// kNeedMore: `data` holds only part of it (*consumed is 0). kError: *error says why; the
// connection cannot continue.
DecodeResult Decode(Version version, std::string_view data, size_t max_packet_bytes, Packet* packet,
                    size_t* consumed, std::string* error);

// What a CONNACK return or reason code means, for the log.
std::string ConnackReason(Version version, uint8_t code);

}  // namespace devstate::mqtt
