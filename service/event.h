// Event: one device report, parsed and validated at the edge (DESIGN.md §3).
//
// EventParser turns a JSON payload into a plain Event with simdjson: one parser per thread,
// reused (an EventParser is not thread-safe; keep one per thread), a padded copy of the
// input, error codes and never exceptions. Only the Event crosses into the service.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace devstate {

struct EventField {
  std::string name;
  std::string json;  // the value as minified JSON; "null" deletes the field
  bool is_null() const { return json == "null"; }
};

struct Event {
  std::string device_id;
  int64_t time_ms = 0;             // event time, epoch ms (UTC)
  bool time_from_device = false;   // from `ts` or `lastSeenAt`, not the receive time
  std::vector<EventField> fields;  // document order; names unique
};

struct EventLimits {
  size_t max_bytes = 64 * 1024;  // limits.max_event_bytes
  size_t max_depth = 16;         // nesting of objects and arrays, the event itself counting 1
  size_t max_fields = 256;       // top-level fields of one event
};

// One item of a batch: its event, or why it was refused.
struct BatchItem {
  Status status;
  Event event;
};

// [A-Za-z0-9._:-]{1,128}
bool ValidDeviceId(std::string_view id);

class EventParser {
 public:
  explicit EventParser(EventLimits limits = {});

  // Parses one event. `path_id` is the device id from the MQTT topic or HTTP path, empty
  // when there is none (then the body must carry `deviceId`). `receive_ms` is the event time
  // when the body has neither `ts` (epoch ms) nor `lastSeenAt` (RFC 3339).
  // On error, returns InvalidArgument with a reason fit for the client.
  Status Parse(std::string_view payload, std::string_view path_id, int64_t receive_ms,
               Event* event);

  // Parses a batch (POST /events): a JSON array of event objects, or NDJSON (one event
  // object per line, blank lines skipped). Every event must carry `deviceId`. The batch
  // fails as a whole only when it is neither form, is empty or has more than `max_events`
  // items; otherwise each item has its own status.
  Status ParseBatch(std::string_view body, int64_t receive_ms, size_t max_events,
                    std::vector<BatchItem>* items);

  const EventLimits& limits() const { return limits_; }

 private:
  Status FromObject(simdjson::dom::object object, std::string_view path_id, int64_t receive_ms,
                    Event* event);

  EventLimits limits_;
  simdjson::dom::parser parser_;
  simdjson::dom::parser batch_parser_;  // a JSON array body: one level deeper, any size
  simdjson::error_code init_error_ = simdjson::SUCCESS;  // allocation at construction
  std::string padded_;  // the input copied with SIMDJSON_PADDING bytes after it
};

}  // namespace devstate
