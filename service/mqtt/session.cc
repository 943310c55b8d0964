#include "service/mqtt/session.h"

#include <fmt/format.h>

namespace devstate::mqtt {

uint64_t AckQueue::Arrive(uint16_t packet_id, size_t bytes) {
  entries_.push_back(Entry{packet_id, false, bytes});
  bytes_ += bytes;
  return first_ticket_ + entries_.size() - 1;
}

void AckQueue::Done(uint64_t ticket) {
  if (ticket < first_ticket_ || ticket >= first_ticket_ + entries_.size()) return;
  entries_[ticket - first_ticket_].done = true;
}

void AckQueue::TakeReady(std::vector<uint16_t>* ids) {
  while (!entries_.empty() && entries_.front().done) {
    ids->push_back(entries_.front().packet_id);
    bytes_ -= entries_.front().bytes;
    entries_.pop_front();
    ++first_ticket_;
  }
}

Session::Session(SessionOptions options, Deliver deliver)
    : options_(std::move(options)), deliver_(std::move(deliver)) {}

void Session::Begin(std::string* out) {
  out->append(EncodeConnect(options_.version, options_.connect));
}

bool Session::WantsInput() const {
  return phase_ != Phase::kClosed && acks_.waiting() < options_.max_inflight &&
         acks_.waiting_bytes() < options_.max_inflight_bytes;
}

bool Session::Fail(std::string why) {
  phase_ = Phase::kClosed;
  error_ = std::move(why);
  return false;
}

bool Session::Receive(std::string_view bytes, std::string* out) {
  if (phase_ == Phase::kClosed) return false;
  in_.append(bytes);
  return Drain(out);
}

bool Session::Done(uint64_t ticket, std::string* out) {
  if (phase_ == Phase::kClosed) return false;
  acks_.Done(ticket);
  ready_.clear();
  acks_.TakeReady(&ready_);
  for (uint16_t id : ready_) AppendPuback(options_.version, id, out);
  return ready_.empty() ? true : Drain(out);
}

bool Session::Drain(std::string* out) {
  std::vector<Message> burst;
  size_t offset = 0;
  bool ok = true;
  while (WantsInput()) {
    Packet packet;
    size_t consumed = 0;
    std::string why;
    const DecodeResult r = Decode(options_.version, std::string_view(in_).substr(offset),
                                  options_.max_packet_bytes, &packet, &consumed, &why);
    if (r == DecodeResult::kNeedMore) break;
    if (r == DecodeResult::kError) {
      ok = Fail("malformed packet from the broker: " + why);
      break;
    }
    // The packet's views point into in_, which is not changed until the loop ends.
    if (!Handle(packet, out, &burst)) {
      ok = false;
      break;
    }
    offset += consumed;
  }
  in_.erase(0, offset);
  // Delivered even when the connection fails after them: their tickets then belong to a
  // closed session and are never acknowledged (the broker sends them again).
  if (!burst.empty()) deliver_(std::move(burst));
  return ok;
}

bool Session::Handle(const Packet& packet, std::string* out, std::vector<Message>* burst) {
  switch (packet.type) {
    case PacketType::kConnack:
      if (phase_ != Phase::kConnecting) return Fail("a second CONNACK from the broker");
      if (packet.reason != 0) {
        return Fail("the broker refused the connection: " +
                    ConnackReason(options_.version, packet.reason));
      }
      session_present_ = packet.session_present;
      phase_ = Phase::kSubscribing;
      out->append(EncodeSubscribe(options_.version, kSubscribeId, options_.topic, 1));
      return true;
    case PacketType::kSuback:
      if (phase_ != Phase::kSubscribing || packet.packet_id != kSubscribeId)
        return Fail("an unexpected SUBACK from the broker");
      // 3.1.1: 0x80 is failure; 5: any code >= 0x80. Granted QoS 0 would lose messages
      // the broker drops on a disconnect, so only QoS 1 will do.
      if (packet.granted.size() != 1 || packet.granted[0] != 1) {
        return Fail(
            fmt::format("the broker refused the subscription to '{}' at QoS 1 (code {:#04x})",
                        options_.topic, packet.granted.empty() ? 0 : packet.granted[0]));
      }
      phase_ = Phase::kSubscribed;
      return true;
    case PacketType::kPublish: {
      // A persistent session may deliver queued messages before the SUBACK.
      if (phase_ == Phase::kConnecting) return Fail("a PUBLISH before the CONNACK");
      ++messages_;
      Message m;
      m.topic.assign(packet.topic);
      m.payload.assign(packet.payload);
      if (packet.qos == 1)
        m.ticket = acks_.Arrive(packet.packet_id, m.topic.size() + m.payload.size());
      burst->push_back(std::move(m));
      return true;
    }
    case PacketType::kPingresp:
      return true;
    case PacketType::kDisconnect:
      return Fail(fmt::format("the broker disconnected (reason {:#04x})", packet.reason));
    default:
      return Fail("an unexpected packet from the broker");
  }
}

}  // namespace devstate::mqtt
