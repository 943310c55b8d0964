// DeviceService: the service as the protocol servers (api/) see it. Narrow on purpose, so
// api/ tests run against a fake and api/ never reaches into the store's internals.
//
// Implementations are thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/dead_letters.h"
#include "service/event.h"
#include "service/ingest.h"
#include "service/metrics.h"
#include "service/mqtt_ingest.h"
#include "store/keyspace.h"
#include "store/mutation.h"
#include "store/record.h"
#include "store/status.h"

namespace devstate {

// This node's place in its shard (DESIGN.md §5): the primary takes writes; a replica
// serves reads and sends writes to its primary.
struct RoleInfo {
  bool primary = true;
  std::string primary_host;  // a replica's primary (RESP address), when known
  uint16_t primary_port = 0;
};

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

  // OK while the store accepts writes; the reason it refuses them otherwise.
  virtual Status WriteStatus() const = 0;
  virtual MqttState mqtt_state() const = 0;

  virtual std::vector<DeadLetter> DeadLetters(size_t limit) const = 0;  // newest first
  virtual uint64_t DeadLetterTotal() const = 0;

  virtual int64_t NowMs() const = 0;

  virtual RoleInfo Role() const { return RoleInfo(); }

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
  virtual uint64_t ExpiredKeys() const = 0;  // removed by active expiry since start

  // Counters the protocol servers update, and the whole set in Prometheus text format.
  virtual Metrics& metrics() = 0;
  virtual std::string MetricsText() const = 0;
};

}  // namespace devstate
