// DeviceService: the service as the protocol servers (api/) see it. Narrow on purpose, so
// api/ tests run against a fake and api/ never reaches into the store's internals.
//
// Implementations are thread-safe: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/dead_letters.h"
#include "service/event.h"
#include "service/ingest.h"
#include "service/metrics.h"
#include "service/mqtt_ingest.h"
#include "service/notifier.h"
#include "service/replication/role_view.h"
#include "store/keyspace.h"
#include "store/mutation.h"
#include "store/read_waiters.h"
#include "store/record.h"
#include "store/status.h"

namespace devstate {

class DeviceService {
 public:
  virtual ~DeviceService() = default;

  // Commits `events` as one write; see Ingest::Submit. `done` runs on the thread that
  // completes the commit (see CommitCallback): hand the result over and return.
  virtual void Ingest(std::vector<Event> events, Ingest::Done done) = 0;
  // Counts payloads refused before they reached the store (for metrics).
  virtual void CountRejected(uint64_t n) = 0;

  // The live record under `key`, or null. Served from memory.
  virtual RecordPtr Get(std::string_view key) const = 0;

  // A hint that `keys` are about to be read with Get (see Keyspace::Prefetch).
  virtual void Prefetch(std::span<const std::string_view> /*keys*/) const {}

  // Where a reader waits for keys to change (XREAD BLOCK on a replica): woken after each
  // publish of one of its keys, on the publishing thread (store/read_waiters.h). Null when
  // this service cannot tell; a reader then waits as a write does, in the pipeline.
  virtual ReadWaiters* read_waiters() const { return nullptr; }
  // Tells `observer` (null: nobody) of every key change once visible (KeyObserver).
  virtual void SetKeyObserver(KeyObserver* /*observer*/) {}

  // OK while the store accepts writes; the reason it refuses them otherwise.
  virtual Status WriteStatus() const = 0;
  // OK while this node may serve reads and writes at all; a primary whose lease in etcd
  // could have lapsed serves neither (Status::Fenced).
  virtual Status ServingStatus() const { return Status::OK(); }
  virtual MqttState mqtt_state() const = 0;
  // Why MQTT intake is not connected (the broker's refusal, a refused write); empty if it is.
  virtual std::string mqtt_error() const { return {}; }

  virtual std::vector<DeadLetter> DeadLetters(size_t limit) const = 0;  // newest first
  virtual uint64_t DeadLetterTotal() const = 0;

  virtual int64_t NowMs() const = 0;

  // ---- Replication (DESIGN.md §5) ----
  // This node takes writes (cheap: read on every write command).
  virtual bool IsPrimary() const { return true; }
  // A full copy from the primary is being installed: reads answer "loading".
  virtual bool Loading() const { return false; }
  // This node and its shard, for INFO, ROLE, CLUSTER and redirects.
  virtual RoleView Role() const { return RoleView(); }
  // REPLICAOF, FAILOVER: `done` hears the outcome on another thread, never inline.
  virtual void ChangeRole(RoleChange /*change*/, std::function<void(Status)> done) {
    done(Status::InvalidArgument("this server does not replicate"));
  }
  // PSYNC from a replica: *reply is the answer line, *feed what the connection streams
  // from now on. NotPrimary on a replica.
  virtual Status AttachReplica(const replication::ReplicaHello& /*hello*/, std::string* /*reply*/,
                               std::shared_ptr<replication::Feed>* /*feed*/) {
    return Status::NotPrimary("this server does not replicate");
  }
  // WAIT: done(count) once `replicas` replicas hold `seq`, or at `timeout` (0: never).
  virtual void WaitForReplicas(uint64_t /*seq*/, size_t /*replicas*/,
                               std::chrono::milliseconds /*timeout*/,
                               std::function<void(size_t count)> done) {
    done(0);
  }

  // The generic key-value face (RESP). Write commits atomically through the same pipeline
  // as ingest; `done` runs on the thread that completes the commit (see CommitCallback).
  virtual void Write(std::vector<Mutation> mutations, CommitCallback done) = 0;
  // An event loop's writes: queued without waking the committer, then committed by
  // CommitQueued() at the end of the loop's turn (see CommitPipeline::Queue). A service
  // without a pipeline of its own may simply Write.
  virtual void QueueWrite(std::vector<Mutation> mutations, CommitCallback done) {
    Write(std::move(mutations), std::move(done));
  }
  virtual void CommitQueued() {}
  virtual size_t KeyCount() const = 0;  // includes expired keys not yet removed
  virtual size_t KeysWithExpiry() const = 0;
  // See Keyspace::Scan; records may be expired (check Record::ExpiredAt).
  virtual uint64_t Scan(uint64_t cursor, size_t count, const Keyspace::ScanFn& fn) const = 0;
  virtual uint64_t JournalPosition() const = 0;
  // Key changes this node's commits wrote to the journal since it started (INFO's
  // rdb_changes_since_last_save counts from the last SAVE on).
  virtual uint64_t ChangesWritten() const = 0;
  virtual uint64_t ExpiredKeys() const = 0;  // removed by active expiry since start

  // Counters the protocol servers update, and the whole set in Prometheus text format.
  virtual Metrics& metrics() = 0;
  virtual std::string MetricsText() const = 0;

  // Keyspace notifications and device channels, told after each commit; the RESP server
  // is where they go (Notifier::SetSink).
  Notifier& notifier() { return notifier_; }

 private:
  Notifier notifier_;
};

}  // namespace devstate
