// DeviceRecord: the merged state of one device, kept under `device:<id>:latest`
// (DESIGN.md §3), and the merge of an Event into it.
//
// Per field, last writer wins by event time: a value replaces the stored one only if its
// time is later; equal time keeps the stored value (so redelivered events change nothing);
// `null` leaves a tombstone with its time, so an older value cannot resurrect the field;
// nested objects and arrays are values of their top-level field, replaced whole. An event
// that changes nothing is `stale`. Two different events with the same time for one field
// are therefore settled by arrival order; a device that wants a deterministic winner sends
// distinct times.
//
// In the store, a device record is a Record of type kDeviceRecordType whose `value` is the
// state object a GET returns ({"deviceId", fields..., "lastSeenAt"}) and whose `meta` holds
// per-field times, tombstones, version and updatedAt. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "service/event.h"
#include "service/record_types.h"
#include "store/mutation.h"
#include "store/record.h"

namespace devstate {

std::string DeviceKey(std::string_view device_id);  // "device:<id>:latest"

struct FieldState {
  std::string json;  // minified JSON value; empty for a tombstone
  int64_t time_ms = 0;
  bool tombstone() const { return json.empty(); }
  bool operator==(const FieldState&) const = default;
};

struct DeviceRecord {
  std::string device_id;
  std::map<std::string, FieldState, std::less<>> fields;  // by name: rendering is deterministic
  int64_t last_seen_ms = 0;                               // latest event time applied
  uint64_t version = 0;                                   // grows by one with every change
  int64_t updated_at_ms = 0;                              // server time of the last change

  bool operator==(const DeviceRecord&) const = default;
};

enum class MergeOutcome { kChanged, kStale };

// Merges `event` into `record` (a fresh record for a new device); `now_ms` stamps updatedAt.
MergeOutcome Merge(const Event& event, int64_t now_ms, DeviceRecord* record);

// The state object: {"deviceId":..., <live fields by name>, "lastSeenAt":"...Z"}.
std::string RenderState(const DeviceRecord& record);

RecordPtr ToRecord(const DeviceRecord& record);
Status FromRecord(const Record& stored, DeviceRecord* record);

// The version of a device record without decoding its fields; 0 if `stored` is not one.
uint64_t DeviceVersion(const Record& stored);
// A device's change as notifications carry it: {"deviceId":..,"version":..,"state":{..}}
// (the state GET /devices/<id> serves). False if `stored` is not a device record.
bool DeviceChangeMessage(const Record& stored, std::string* device_id, uint64_t* version,
                         std::string* message);

// The outcome of one ingested event, filled in by the pipeline.
struct IngestResult {
  Status status;  // InvalidArgument if the key holds a value that is not a device record
  MergeOutcome outcome = MergeOutcome::kStale;
  uint64_t version = 0;
  RecordPtr record;  // the device's new record, when the event changed it
};

// A store mutation that merges `event` into its device's record inside the commit pipeline,
// in commit order, writing the outcome to *result before the write's callback runs.
Mutation MergeMutation(Event event, std::shared_ptr<IngestResult> result,
                       std::function<int64_t()> now_ms);

}  // namespace devstate
