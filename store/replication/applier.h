// Applier: the replica's side of the stream, without the socket. Consume() takes the bytes
// received from the primary, applies every complete frame in order, and appends the
// acknowledgements to send back:
//   - groups are checked to follow the journal's last position and to come from an epoch
//     no lower than this node's term, then written (synced once per Consume) and
//     published (Store::ApplyGroups); one acknowledgement (term, last position) follows;
//   - a full copy is written file by file into the staging directory and installed at its
//     end (Store::InstallCopy), then acknowledged;
//   - a heartbeat tells the primary's position (for lag);
//   - a promotion request (FAILOVER) is handed to on_promote once this node holds the
//     primary's last position.
// An error (a malformed or out-of-order frame, a lower epoch, a journal failure) ends the
// stream: the caller drops the link; on the next connection the primary decides again
// between continuing and a full copy. Nothing of a partial or refused group is applied.
// Not thread-safe: one stream at a time.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "store/replication/frames.h"
#include "store/status.h"

namespace devstate {
class Store;
}

namespace devstate::replication {

class Applier {
 public:
  explicit Applier(Store* store) : store_(store) {}

  // Consumes the complete frames at the front of *in (removing them) and appends the
  // acknowledgements to *acks.
  Status Consume(std::string* in, std::string* acks);

  uint64_t primary_seq() const { return primary_seq_; }  // from the last heartbeat or group
  bool copying() const { return copying_; }
  uint64_t copy_bytes() const { return copy_bytes_; }  // received so far
  uint64_t copy_total() const { return copy_total_; }
  uint64_t copies_installed() const { return copies_installed_; }
  // FAILOVER: the primary asks this node to take over in `epoch`.
  std::function<void(uint64_t epoch)> on_promote;

 private:
  Status ApplyPending(std::vector<GroupFrame>* pending, std::string* acks);
  Status OnSnapshot(const Frame& frame, std::string* acks);

  Store* const store_;
  FrameReader reader_;
  uint64_t primary_seq_ = 0;
  bool copying_ = false;
  std::string copy_dir_;
  std::ofstream file_;
  uint64_t file_left_ = 0;
  uint64_t copy_bytes_ = 0;
  uint64_t copy_total_ = 0;
  uint64_t copy_seq_ = 0;
  uint64_t copies_installed_ = 0;
  uint64_t promote_epoch_ = 0;  // a pending promotion, once primary_seq_ is held
  uint64_t promote_seq_ = 0;
};

}  // namespace devstate::replication
