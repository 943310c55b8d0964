#include "service/device_record.h"

#include <fmt/format.h>

#include "service/json.h"
#include "service/rfc3339.h"
#include "store/coding.h"

namespace devstate {
namespace {

// Times are stored offset so that pre-1970 times (allowed by RFC 3339) stay unsigned.
uint64_t TimeBits(int64_t ms) { return static_cast<uint64_t>(ms - kMinTimeMs); }
int64_t TimeFromBits(uint64_t bits) { return static_cast<int64_t>(bits) + kMinTimeMs; }

}  // namespace

std::string DeviceKey(std::string_view device_id) {
  std::string key = "device:";
  key.append(device_id);
  key.append(":latest");
  return key;
}

MergeOutcome Merge(const Event& event, int64_t now_ms, DeviceRecord* record) {
  const bool fresh = record->version == 0;
  bool changed = fresh;
  if (fresh) record->device_id = event.device_id;
  for (const EventField& f : event.fields) {
    auto it = record->fields.find(f.name);
    if (it != record->fields.end() && event.time_ms <= it->second.time_ms) continue;
    FieldState state{f.is_null() ? std::string() : f.json, event.time_ms};
    if (it == record->fields.end()) {
      record->fields.emplace(f.name, std::move(state));
    } else {
      it->second = std::move(state);
    }
    changed = true;
  }
  // lastSeenAt is the latest event time applied: every field time is <= it.
  if (fresh || event.time_ms > record->last_seen_ms) {
    record->last_seen_ms = event.time_ms;
    changed = true;
  }
  if (!changed) return MergeOutcome::kStale;
  ++record->version;
  record->updated_at_ms = now_ms;
  return MergeOutcome::kChanged;
}

std::string RenderState(const DeviceRecord& record) {
  std::string out = "{\"deviceId\":";
  AppendJsonString(&out, record.device_id);
  for (const auto& [name, field] : record.fields) {
    if (field.tombstone()) continue;
    out.push_back(',');
    AppendJsonString(&out, name);
    out.push_back(':');
    out.append(field.json);
  }
  out.append(",\"lastSeenAt\":\"");
  out.append(FormatRfc3339(record.last_seen_ms));
  out.append("\"}");
  return out;
}

RecordPtr ToRecord(const DeviceRecord& record) {
  auto r = std::make_shared<Record>();
  r->type = kDeviceRecordType;
  r->value = RenderState(record);
  std::string& m = r->meta;
  PutLengthPrefixed(&m, record.device_id);
  PutVarint64(&m, TimeBits(record.last_seen_ms));
  PutVarint64(&m, record.version);
  PutVarint64(&m, TimeBits(record.updated_at_ms));
  PutVarint64(&m, record.fields.size());
  for (const auto& [name, field] : record.fields) {
    PutLengthPrefixed(&m, name);
    PutVarint64(&m, TimeBits(field.time_ms));
    PutLengthPrefixed(&m, field.json);
  }
  return r;
}

uint64_t DeviceVersion(const Record& stored) {
  if (stored.type != kDeviceRecordType) return 0;
  std::string_view in = stored.meta;
  uint64_t id_bytes = 0, last_seen = 0, version = 0;
  if (!GetVarint64(&in, &id_bytes) || id_bytes > in.size()) return 0;
  in.remove_prefix(id_bytes);
  if (!GetVarint64(&in, &last_seen) || !GetVarint64(&in, &version)) return 0;
  return version;
}

Status FromRecord(const Record& stored, DeviceRecord* record) {
  if (stored.type != kDeviceRecordType) {
    return Status::WrongType("the key holds a value that is not a device record");
  }
  std::string_view in = stored.meta;
  uint64_t last_seen, version, updated_at, count;
  *record = DeviceRecord();
  if (!GetLengthPrefixed(&in, &record->device_id) || !GetVarint64(&in, &last_seen) ||
      !GetVarint64(&in, &version) || !GetVarint64(&in, &updated_at) || !GetVarint64(&in, &count)) {
    return Status::Corruption("device record metadata is truncated");
  }
  record->last_seen_ms = TimeFromBits(last_seen);
  record->version = version;
  record->updated_at_ms = TimeFromBits(updated_at);
  for (uint64_t i = 0; i < count; ++i) {
    std::string name;
    FieldState field;
    uint64_t time;
    if (!GetLengthPrefixed(&in, &name) || !GetVarint64(&in, &time) ||
        !GetLengthPrefixed(&in, &field.json)) {
      return Status::Corruption("device record field is truncated");
    }
    field.time_ms = TimeFromBits(time);
    record->fields.emplace(std::move(name), std::move(field));
  }
  if (!in.empty()) return Status::Corruption("device record metadata has trailing bytes");
  return Status::OK();
}

bool DeviceChangeMessage(const Record& stored, std::string* device_id, uint64_t* version,
                         std::string* message) {
  DeviceRecord device;
  if (!FromRecord(stored, &device).ok()) return false;
  *device_id = device.device_id;
  *version = device.version;
  message->assign("{\"deviceId\":");
  AppendJsonString(message, device.device_id);
  message->append(",\"version\":" + std::to_string(device.version) + ",\"state\":");
  message->append(stored.value);
  message->push_back('}');
  return true;
}

Mutation MergeMutation(Event event, std::shared_ptr<IngestResult> result,
                       std::function<int64_t()> now_ms) {
  std::string key = DeviceKey(event.device_id);
  return Mutation{std::move(key), [event = std::move(event), result = std::move(result),
                                   now_ms = std::move(now_ms)](const RecordPtr& current) {
                    DeviceRecord record;
                    if (current) {
                      result->status = FromRecord(*current, &record);
                      if (!result->status.ok()) return Change::None();
                    }
                    result->outcome = Merge(event, now_ms(), &record);
                    result->version = record.version;
                    if (result->outcome == MergeOutcome::kStale) return Change::None();
                    result->record = ToRecord(record);
                    return Change::Put(result->record);
                  }};
}

}  // namespace devstate
