// ReplicationGate: the seam where a commit group meets its replicas (DESIGN.md §5).
//
// For each group that changes the journal, the committer calls, in sequence order:
//   1. Send(group) before its local write: the gate may start sending it to replicas, so
//      the replicas' writes overlap the local fsync. Must not block.
//   2. the local journal write and fsync;
//   3. nothing more: the group waits, not the committer. The next group may be committed
//      at once (pipelining).
// The gate tells the pipeline, through QuorumListener::OnQuorum(seq), each time the
// replicas it requires hold every group up to `seq` (cumulative: a later seq covers the
// earlier groups). Only then are the group's records published and its writers answered.
// A gate that requires no replicas is Synchronous(): every group is acknowledged once it is
// local, and the pipeline takes a fast path that needs no OnQuorum.
//
// Admission() says, before a write is queued, whether the gate could acknowledge it now
// (enough replicas connected); a write it refuses fails at once with its status
// (-NOREPLICAS). Groups that wait longer than the pipeline's ack timeout answer their
// writers with NoReplicas, stay invisible, and are published if the quorum comes later.
//
// Thread safety: Send is called by the committing thread (the committer thread or an event
// loop committing inline, one group at a time); Admission and Synchronous from any thread.
// OnQuorum may be called from any thread, including from inside Send.
#pragma once

#include <cstdint>
#include <string_view>

#include "store/status.h"

namespace devstate {

struct GroupRef {
  uint64_t first_seq = 0;  // journal positions of the group's first and last operation
  uint64_t last_seq = 0;
  std::string_view batch;  // the WriteBatch bytes; valid only during Send
};

class QuorumListener {
 public:
  virtual ~QuorumListener() = default;
  virtual void OnQuorum(uint64_t seq) = 0;
};

class ReplicationGate {
 public:
  virtual ~ReplicationGate() = default;

  virtual bool Synchronous() const = 0;
  virtual Status Admission() const = 0;
  virtual void Send(const GroupRef& group) = 0;
  // The pipeline registers itself before its first group; null detaches it.
  virtual void SetListener(QuorumListener* listener) = 0;
};

// The single-node gate: nothing to wait for.
class NoReplicas final : public ReplicationGate {
 public:
  bool Synchronous() const override { return true; }
  Status Admission() const override { return Status::OK(); }
  void Send(const GroupRef&) override {}
  void SetListener(QuorumListener*) override {}
};

}  // namespace devstate
