#include "store/replication/frames.h"

#include "store/coding.h"

namespace devstate::replication {
namespace {

// Appends a frame whose payload `fill` writes, patching its length in afterwards.
template <typename Fill>
void AppendFrame(std::string* out, FrameType type, Fill fill) {
  const size_t start = out->size();
  out->push_back(static_cast<char>(type));
  out->append(4, '\0');
  fill(out);
  const uint32_t length = static_cast<uint32_t>(out->size() - start - kFrameHeader);
  for (int i = 0; i < 4; ++i) (*out)[start + 1 + i] = static_cast<char>(length >> (8 * i));
}

bool Known(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kGroup:
    case FrameType::kHeartbeat:
    case FrameType::kSnapBegin:
    case FrameType::kSnapFile:
    case FrameType::kSnapData:
    case FrameType::kSnapEnd:
    case FrameType::kPromote:
    case FrameType::kAck:
      return true;
  }
  return false;
}

}  // namespace

void AppendGroup(std::string* out, const GroupFrame& g) {
  AppendFrame(out, FrameType::kGroup, [&](std::string* o) {
    PutVarint64(o, g.epoch);
    PutVarint64(o, g.first_seq);
    PutVarint64(o, g.last_seq);
    o->append(g.batch);
  });
}

void AppendHeartbeat(std::string* out, uint64_t epoch, uint64_t last_seq) {
  AppendFrame(out, FrameType::kHeartbeat, [&](std::string* o) {
    PutVarint64(o, epoch);
    PutVarint64(o, last_seq);
  });
}

void AppendSnapBegin(std::string* out, uint64_t seq, uint64_t files, uint64_t bytes) {
  AppendFrame(out, FrameType::kSnapBegin, [&](std::string* o) {
    PutVarint64(o, seq);
    PutVarint64(o, files);
    PutVarint64(o, bytes);
  });
}

void AppendSnapFile(std::string* out, std::string_view name, uint64_t size) {
  AppendFrame(out, FrameType::kSnapFile, [&](std::string* o) {
    PutVarint64(o, size);
    o->append(name);
  });
}

void AppendSnapData(std::string* out, std::string_view data) {
  AppendFrame(out, FrameType::kSnapData, [&](std::string* o) { o->append(data); });
}

void AppendSnapEnd(std::string* out) {
  AppendFrame(out, FrameType::kSnapEnd, [](std::string*) {});
}

void AppendPromote(std::string* out, uint64_t epoch, uint64_t last_seq) {
  AppendFrame(out, FrameType::kPromote, [&](std::string* o) {
    PutVarint64(o, epoch);
    PutVarint64(o, last_seq);
  });
}

void AppendAck(std::string* out, uint64_t term, uint64_t seq) {
  AppendFrame(out, FrameType::kAck, [&](std::string* o) {
    PutVarint64(o, term);
    PutVarint64(o, seq);
  });
}

FrameReader::Result FrameReader::Next(std::string_view in, Frame* frame, size_t* used) {
  *used = 0;
  if (in.size() < kFrameHeader) return Result::kIncomplete;
  const auto type = static_cast<uint8_t>(in[0]);
  if (!Known(type)) {
    error_ = "unknown frame type " + std::to_string(type);
    return Result::kError;
  }
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i)
    length |= static_cast<uint32_t>(static_cast<uint8_t>(in[1 + i])) << (8 * i);
  if (length > kMaxFrame) {
    error_ = "frame of " + std::to_string(length) + " bytes is over the limit";
    return Result::kError;
  }
  if (in.size() - kFrameHeader < length) return Result::kIncomplete;
  frame->type = static_cast<FrameType>(type);
  frame->payload = in.substr(kFrameHeader, length);
  *used = kFrameHeader + length;
  return Result::kFrame;
}

bool ParseGroup(std::string_view payload, GroupFrame* group) {
  if (!GetVarint64(&payload, &group->epoch) || !GetVarint64(&payload, &group->first_seq) ||
      !GetVarint64(&payload, &group->last_seq)) {
    return false;
  }
  if (group->first_seq == 0 || group->last_seq < group->first_seq) return false;
  group->batch = payload;
  return true;
}

bool ParseTwo(std::string_view payload, uint64_t* a, uint64_t* b) {
  return GetVarint64(&payload, a) && GetVarint64(&payload, b) && payload.empty();
}

bool ParseSnapBegin(std::string_view payload, uint64_t* seq, uint64_t* files, uint64_t* bytes) {
  return GetVarint64(&payload, seq) && GetVarint64(&payload, files) &&
         GetVarint64(&payload, bytes) && payload.empty();
}

bool ParseSnapFile(std::string_view payload, std::string* name, uint64_t* size) {
  if (!GetVarint64(&payload, size) || payload.empty() || payload.size() > 255) return false;
  // A plain file name: nothing that could climb out of the directory the copy lands in.
  if (payload.find('/') != std::string_view::npos || payload == "." || payload == "..")
    return false;
  name->assign(payload);
  return true;
}

}  // namespace devstate::replication
