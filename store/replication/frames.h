// Frames: what a primary and a replica say to each other once the replica's PSYNC has
// turned a RESP connection into a replication stream (DESIGN.md §5).
//
// A frame is [type: 1 byte][payload length: 4 bytes, little-endian][payload]. Integers in
// payloads are varints. Primary to replica:
//   kGroup       epoch, first seq, last seq, then the group's WriteBatch bytes
//   kHeartbeat   epoch, the primary's last seq (sent when the stream is idle)
//   kSnapBegin   seq the copy holds everything up to, number of files, total bytes
//   kSnapFile    file size, then its name (the data follows in kSnapData frames)
//   kSnapData    bytes of the current file
//   kSnapEnd     (empty) the copy is complete
//   kPromote     new epoch: become primary (FAILOVER), once everything up to the
//                primary's last seq (second varint) is held
// Replica to primary:
//   kAck         the replica's term, the last seq it holds durably
//
// FrameReader takes frames from the front of a byte buffer as they arrive; a frame is
// handed out only when complete, so a partial group is never applied. A length over
// kMaxFrame or an unknown type is an error: the link is dropped and the replica resyncs.
// Pure functions and a value type; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace devstate::replication {

enum class FrameType : uint8_t {
  kGroup = 1,
  kHeartbeat = 2,
  kSnapBegin = 3,
  kSnapFile = 4,
  kSnapData = 5,
  kSnapEnd = 6,
  kPromote = 7,
  kAck = 16,
};

// Largest payload accepted: a commit group's batch can be large (an MSET of a million
// keys), but not without bound.
inline constexpr size_t kMaxFrame = size_t{1} << 30;
inline constexpr size_t kFrameHeader = 5;

struct GroupFrame {
  uint64_t epoch = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::string_view batch;
};

void AppendGroup(std::string* out, const GroupFrame& group);
void AppendHeartbeat(std::string* out, uint64_t epoch, uint64_t last_seq);
void AppendSnapBegin(std::string* out, uint64_t seq, uint64_t files, uint64_t bytes);
void AppendSnapFile(std::string* out, std::string_view name, uint64_t size);
void AppendSnapData(std::string* out, std::string_view data);
void AppendSnapEnd(std::string* out);
void AppendPromote(std::string* out, uint64_t epoch, uint64_t last_seq);
void AppendAck(std::string* out, uint64_t term, uint64_t seq);

struct Frame {
  FrameType type = FrameType::kHeartbeat;
  std::string_view payload;  // points into the reader's input
};

class FrameReader {
 public:
  enum class Result { kFrame, kIncomplete, kError };
  // Takes the first frame of `in` into *frame and sets *used to its size; kIncomplete
  // (used 0) until a whole frame is there.
  Result Next(std::string_view in, Frame* frame, size_t* used);
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// Payload decoders: false on a malformed payload.
bool ParseGroup(std::string_view payload, GroupFrame* group);
bool ParseTwo(std::string_view payload, uint64_t* a, uint64_t* b);  // heartbeat, ack, promote
bool ParseSnapBegin(std::string_view payload, uint64_t* seq, uint64_t* files, uint64_t* bytes);
bool ParseSnapFile(std::string_view payload, std::string* name, uint64_t* size);

}  // namespace devstate::replication
