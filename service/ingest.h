// Ingest: the one way device events enter the store, for every protocol.
//
// Submit turns validated Events into ONE atomic store write (one commit group, one fsync)
// whose mutations merge each event into its device record in commit order, and reports
// every event's outcome once the write is durable (and acknowledged by the replicas the
// gate requires). The callback runs on the thread that completes the commit (the
// committer, a RESP loop committing inline, or the replication gate's thread): hand the
// result to your own executor and return.
//
// IngestCounters are the outcomes since start, read by /metrics and INFO. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "service/device_record.h"
#include "service/event.h"
#include "service/notifier.h"
#include "store/status.h"
#include "store/store.h"

namespace devstate {

struct IngestCounters {
  std::atomic<uint64_t> changed{0};   // events that changed their record
  std::atomic<uint64_t> stale{0};     // events that changed nothing (older or duplicate)
  std::atomic<uint64_t> rejected{0};  // payloads refused before the store (bad JSON, limits)
  std::atomic<uint64_t> conflict{0};  // the key held a value that is not a device record
  std::atomic<uint64_t> failed{0};    // events whose write the store refused or lost
  std::atomic<uint64_t> dead_lettered{0};
};

class Ingest {
 public:
  // `commit` is the write's status; `results` has one entry per event, in order, and is
  // meaningful only when `commit` is OK.
  using Done = std::function<void(const Status& commit, std::vector<IngestResult> results)>;

  // `notifier` (optional) hears of every device record changed, once committed.
  explicit Ingest(Store* store, Notifier* notifier = nullptr)
      : store_(store), notifier_(notifier) {}

  void Submit(std::vector<Event> events, Done done);

  // Submit and wait for the outcome (the MQTT callback thread uses this).
  Status SubmitAndWait(std::vector<Event> events, std::vector<IngestResult>* results);

  // A replica's side of the notifier: the records a group from the primary put, once
  // published here; each device record among them is told as a change, as the primary
  // told it (Store::OnAppliedPuts).
  void NotifyReplicated(const std::vector<std::pair<std::string, RecordPtr>>& puts);

  IngestCounters& counters() { return counters_; }
  const IngestCounters& counters() const { return counters_; }

 private:
  void NotifyChanged(const std::vector<IngestResult>& results);
  // One changed device record: its keyspace event and its device channel's message.
  void NotifyDevice(const Record& record, bool keyspace);

  Store* const store_;
  Notifier* const notifier_;
  IngestCounters counters_;
};

}  // namespace devstate
