// ReplicaLink: a RESP connection that PSYNC turned into a replication stream (DESIGN.md
// §5), on the connection's own thread. It writes the feed's frames as fast as the socket
// takes them and hands the replica's acknowledgements to the feed. It never waits: the
// feed's thread produces frames into its bounded buffer, and wakes the link (through the
// transport's Poster) when frames arrive after the link found none; a replica that reads
// slowly fills only its own feed's buffer.
//
// Bytes from the replica other than acknowledgement frames end the link, as does the
// feed's end (the hub detached it) or the socket's; the feed is closed either way.
#pragma once

#include <memory>
#include <string>

#include "api/resp/transport.h"
#include "store/replication/frames.h"
#include "store/replication/hub.h"

namespace devstate::resp {

class ReplicaLink : public std::enable_shared_from_this<ReplicaLink> {
 public:
  // On the connection's thread. `received`: bytes the replica sent after its PSYNC.
  static void Start(std::unique_ptr<Transport> io, std::shared_ptr<replication::Feed> feed,
                    std::string received);

  ReplicaLink(std::unique_ptr<Transport> io, std::shared_ptr<replication::Feed> feed);
  ~ReplicaLink();
  ReplicaLink(const ReplicaLink&) = delete;
  ReplicaLink& operator=(const ReplicaLink&) = delete;

 private:
  void Read();
  void TakeAcks();
  void Pump();
  void Close(const std::string& why);

  static constexpr size_t kReadSize = 4096;
  static constexpr size_t kMaxUnread = 64 * 1024;  // acknowledgements are 10-20 bytes each
  static constexpr size_t kTakeBytes = 1 << 20;    // frames per write

  std::unique_ptr<Transport> io_;
  std::shared_ptr<replication::Feed> feed_;
  replication::FrameReader reader_;
  std::string in_;
  std::string read_buffer_;
  std::string out_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace devstate::resp
