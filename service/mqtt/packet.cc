#include "service/mqtt/packet.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace devstate::mqtt {
namespace {

constexpr size_t kMaxRemainingLength = 268'435'455;  // four bytes of variable length

void AppendVarint(size_t n, std::string* out) {
  do {
    uint8_t byte = n % 128;
    n /= 128;
    if (n > 0) byte |= 0x80;
    out->push_back(static_cast<char>(byte));
  } while (n > 0);
}

void AppendU16(uint16_t n, std::string* out) {
  out->push_back(static_cast<char>(n >> 8));
  out->push_back(static_cast<char>(n & 0xff));
}

void AppendU32(uint32_t n, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(n >> shift));
}

void AppendString(std::string_view s, std::string* out) {
  AppendU16(static_cast<uint16_t>(s.size()), out);
  out->append(s);
}

// The fixed header (type, flags, remaining length) in front of `body`.
std::string Frame(PacketType type, uint8_t flags, const std::string& body) {
  std::string out;
  out.reserve(body.size() + 5);
  out.push_back(static_cast<char>((static_cast<uint8_t>(type) << 4) | flags));
  AppendVarint(body.size(), &out);
  out += body;
  return out;
}

// Reads fields of one packet's body, refusing to read past it.
class Reader {
 public:
  explicit Reader(std::string_view body) : rest_(body) {}

  bool U8(uint8_t* v) {
    if (rest_.empty()) return false;
    *v = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t* v) {
    if (rest_.size() < 2) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(rest_[0]) << 8) |
                               static_cast<uint8_t>(rest_[1]));
    rest_.remove_prefix(2);
    return true;
  }
  bool String(std::string_view* s) {
    uint16_t n = 0;
    if (!U16(&n) || rest_.size() < n) return false;
    *s = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool Varint(size_t* v) {
    size_t value = 0;
    for (int i = 0; i < 4; ++i) {
      uint8_t byte = 0;
      if (!U8(&byte)) return false;
      value |= static_cast<size_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        *v = value;
        return true;
      }
    }
    return false;
  }
  // MQTT 5 properties: their length, then skipped (none of them changes what devstate does).
  bool SkipProperties() {
    size_t n = 0;
    if (!Varint(&n) || rest_.size() < n) return false;
    rest_.remove_prefix(n);
    return true;
  }
  std::string_view Rest() {
    std::string_view r = rest_;
    rest_ = {};
    return r;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

DecodeResult Fail(std::string* error, std::string why) {
  *error = std::move(why);
  return DecodeResult::kError;
}

bool ValidTopicName(std::string_view topic) {
  if (topic.empty()) return false;  // no topic aliases are granted: every PUBLISH names one
  for (char c : topic) {
    if (c == '+' || c == '#' || c == '\0') return false;
  }
  return simdjson::validate_utf8(topic.data(), topic.size());
}

}  // namespace

std::string EncodeConnect(Version version, const ConnectParams& params) {
  std::string body;
  AppendString("MQTT", &body);
  body.push_back(static_cast<char>(version));
  uint8_t flags = 0;
  if (params.clean_start) flags |= 0x02;
  if (!params.password.empty()) flags |= 0x40;
  if (!params.username.empty()) flags |= 0x80;
  body.push_back(static_cast<char>(flags));
  AppendU16(params.keepalive_s, &body);
  if (version == Version::k5) {
    std::string props;
    props.push_back(0x11);  // Session Expiry Interval
    AppendU32(params.session_expiry_s, &props);
    if (params.receive_maximum != 0) {
      props.push_back(0x21);  // Receive Maximum
      AppendU16(params.receive_maximum, &props);
    }
    if (params.maximum_packet_bytes != 0) {
      props.push_back(0x27);  // Maximum Packet Size
      AppendU32(params.maximum_packet_bytes, &props);
    }
    AppendVarint(props.size(), &body);
    body += props;
  }
  AppendString(params.client_id, &body);
  if (!params.username.empty()) AppendString(params.username, &body);
  if (!params.password.empty()) AppendString(params.password, &body);
  return Frame(PacketType::kConnect, 0, body);
}

std::string EncodeSubscribe(Version version, uint16_t packet_id, std::string_view filter,
                            uint8_t qos) {
  std::string body;
  AppendU16(packet_id, &body);
  if (version == Version::k5) body.push_back(0);  // no properties
  AppendString(filter, &body);
  body.push_back(static_cast<char>(qos));  // 5: options byte, QoS in its low bits
  return Frame(PacketType::kSubscribe, 0x02, body);
}

void AppendPuback(Version version, uint16_t packet_id, std::string* out) {
  // MQTT 5 allows leaving out the reason code when it is Success and there are no
  // properties: the packet is the same four bytes in both versions.
  (void)version;
  out->push_back(static_cast<char>(static_cast<uint8_t>(PacketType::kPuback) << 4));
  out->push_back(2);
  AppendU16(packet_id, out);
}

std::string EncodePingreq() { return Frame(PacketType::kPingreq, 0, {}); }

std::string EncodeDisconnect(Version version) {
  // 5: a remaining length of 0 means reason Normal disconnection (0x00).
  (void)version;
  return Frame(PacketType::kDisconnect, 0, {});
}

DecodeResult Decode(Version version, std::string_view data, size_t max_packet_bytes, Packet* packet,
                    size_t* consumed, std::string* error) {
  *consumed = 0;
  if (data.empty()) return DecodeResult::kNeedMore;
  const uint8_t first = static_cast<uint8_t>(data[0]);
  size_t length = 0;
  size_t header = 1;
  for (int i = 0;; ++i) {
    if (i == 4) return Fail(error, "malformed remaining length");
    if (header >= data.size()) return DecodeResult::kNeedMore;
    const uint8_t byte = static_cast<uint8_t>(data[header++]);
    length |= static_cast<size_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  if (length > kMaxRemainingLength || header + length > max_packet_bytes) {
    return Fail(error, fmt::format("a packet of {} bytes is over the limit of {}", header + length,
                                   max_packet_bytes));
  }
  if (data.size() < header + length) return DecodeResult::kNeedMore;

  const auto type = static_cast<PacketType>(first >> 4);
  const uint8_t flags = first & 0x0f;
  Reader r(data.substr(header, length));
  *packet = Packet{};
  packet->type = type;
  const bool v5 = version == Version::k5;
  switch (type) {
    case PacketType::kConnack: {
      uint8_t ack_flags = 0;
      if (flags != 0 || !r.U8(&ack_flags) || !r.U8(&packet->reason) || (ack_flags & 0xfe) != 0)
        return Fail(error, "malformed CONNACK");
      packet->session_present = ack_flags & 1;
      if (v5 && !r.empty() && !r.SkipProperties()) return Fail(error, "malformed CONNACK");
      if (!r.empty()) return Fail(error, "malformed CONNACK");
      break;
    }
    case PacketType::kPublish: {
      packet->dup = flags & 0x08;
      packet->qos = (flags >> 1) & 0x03;
      packet->retain = flags & 0x01;
      if (packet->qos > 1) {
        // devstate subscribes at QoS 1, and a broker sends at most the granted QoS.
        return Fail(error,
                    fmt::format("PUBLISH at QoS {}, above the QoS 1 subscribed", packet->qos));
      }
      if (packet->qos == 0 && packet->dup) return Fail(error, "PUBLISH at QoS 0 marked DUP");
      if (!r.String(&packet->topic)) return Fail(error, "malformed PUBLISH topic");
      if (!ValidTopicName(packet->topic)) return Fail(error, "PUBLISH with an invalid topic name");
      if (packet->qos == 1 && (!r.U16(&packet->packet_id) || packet->packet_id == 0))
        return Fail(error, "PUBLISH at QoS 1 without a packet identifier");
      if (v5 && !r.SkipProperties()) return Fail(error, "malformed PUBLISH properties");
      packet->payload = r.Rest();
      break;
    }
    case PacketType::kSuback: {
      if (flags != 0 || !r.U16(&packet->packet_id)) return Fail(error, "malformed SUBACK");
      if (v5 && !r.SkipProperties()) return Fail(error, "malformed SUBACK");
      if (r.empty()) return Fail(error, "SUBACK without a return code");
      for (uint8_t code = 0; r.U8(&code);) packet->granted.push_back(code);
      break;
    }
    case PacketType::kPingresp:
      if (flags != 0 || length != 0) return Fail(error, "malformed PINGRESP");
      break;
    case PacketType::kDisconnect:
      // Only MQTT 5 brokers send DISCONNECT; its reason code is optional.
      if (!v5 || flags != 0) return Fail(error, "DISCONNECT from the broker");
      if (!r.empty()) (void)r.U8(&packet->reason);
      break;
    default:
      return Fail(error,
                  fmt::format("unexpected packet type {} from the broker", static_cast<int>(type)));
  }
  *consumed = header + length;
  return DecodeResult::kPacket;
}

std::string ConnackReason(Version version, uint8_t code) {
  if (version == Version::k311) {
    switch (code) {
      case 0:
        return "accepted";
      case 1:
        return "unacceptable protocol version";
      case 2:
        return "client identifier rejected";
      case 3:
        return "server unavailable";
      case 4:
        return "bad user name or password";
      case 5:
        return "not authorized";
    }
  } else {
    switch (code) {
      case 0x00:
        return "success";
      case 0x84:
        return "unsupported protocol version";
      case 0x85:
        return "client identifier not valid";
      case 0x86:
        return "bad user name or password";
      case 0x87:
        return "not authorized";
      case 0x88:
        return "server unavailable";
      case 0x89:
        return "server busy";
      case 0x8A:
        return "banned";
      case 0x95:
        return "packet too large";
      case 0x97:
        return "quota exceeded";
    }
  }
  return fmt::format("refused (code {:#04x})", code);
}

}  // namespace devstate::mqtt
