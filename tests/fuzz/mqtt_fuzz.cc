// libFuzzer target: the MQTT packet decoder and the subscriber's session must never crash,
// hang or read out of bounds on any bytes a broker sends, however they are split across
// reads, and must answer every acknowledged message with one well-formed PUBACK, in order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "service/mqtt/packet.h"
#include "service/mqtt/session.h"

using devstate::mqtt::Message;
using devstate::mqtt::Session;
using devstate::mqtt::SessionOptions;
using devstate::mqtt::Version;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first byte chooses the version and the back-pressure limit, the second the size of
  // each read, so both versions and every way of splitting the stream are reached.
  SessionOptions options;
  options.version = data[0] % 2 ? Version::k5 : Version::k311;
  options.max_inflight = 1 + data[0] / 2 % 8;
  options.max_packet_bytes = 4096;
  const size_t chunk = 1 + data[1] % 64;
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  std::vector<uint64_t> tickets;
  std::vector<uint16_t> ids_in_order;
  Session session(options, [&](std::vector<Message> burst) {
    for (const Message& m : burst) {
      if (m.topic.empty()) std::abort();
      if (m.ticket != 0) tickets.push_back(m.ticket);
    }
  });
  std::string out;
  session.Begin(&out);
  out.clear();
  bool open = true;
  while (open && !in.empty()) {
    const size_t n = std::min(chunk, in.size());
    open = session.Receive(in.substr(0, n), &out);
    in.remove_prefix(n);
    // Acknowledge everything delivered, newest first: PUBACKs must still come out in order.
    while (open && !tickets.empty()) {
      open = session.Done(tickets.back(), &out);
      tickets.pop_back();
    }
  }
  // Whatever came out is whole packets; PUBACKs are exactly four bytes.
  for (size_t at = 0; at < out.size();) {
    devstate::mqtt::Packet p;
    const uint8_t type = static_cast<uint8_t>(out[at]) >> 4;
    if (type == 4) {
      if (out.size() - at < 4 || out[at + 1] != 2) std::abort();
      at += 4;
      continue;
    }
    if (type != 8 && type != 12) std::abort();  // SUBSCRIBE, PINGREQ
    size_t len = static_cast<uint8_t>(out[at + 1]);
    at += 2 + len;
    if (at > out.size()) std::abort();
  }
  return 0;
}
