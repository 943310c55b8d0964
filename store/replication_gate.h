// ReplicationGate: the seam where a commit group waits for its replicas (DESIGN.md §5).
//
// The commit pipeline calls AwaitQuorum after the group's batch is synced to the local
// journal and before the group is published to the keyspace or acknowledged. When it
// returns OK the group's waiters are told their writes succeeded; any other status is
// handed to the waiters instead (-NOREPLICAS, 503). The group stays in the local journal
// and is still published: memory always equals the local journal, and the replicas get it
// when they catch up; only the acknowledgement is withheld.
//
// Called only from the pipeline's thread, one group at a time, in sequence order.
#pragma once

#include <cstdint>
#include <string_view>

#include "store/status.h"

namespace devstate {

class ReplicationGate {
 public:
  virtual ~ReplicationGate() = default;

  // `seq` is the group's last sequence number; `batch` its WriteBatch bytes.
  virtual Status AwaitQuorum(uint64_t seq, std::string_view batch) = 0;
};

// The single-node gate: nothing to wait for.
class NoReplicas final : public ReplicationGate {
 public:
  Status AwaitQuorum(uint64_t, std::string_view) override { return Status::OK(); }
};

}  // namespace devstate
