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

// The metadata's layout. Version 2 holds only what the state does not: the state already
// carries the device id, every live field's name (JSON-escaped) and value, so the meta
// points into it instead of repeating them, and stores times as differences from
// lastSeenAt (usually 0, one byte).
//
//   v2: [0][varint lastSeen][varint version][varint zigzag(updatedAt - lastSeen)][varint n]
//       then n fields in name order, each [varint kind][varint zigzag(lastSeen - time)] and
//         kind kLive:        [varint escaped name size][varint value size]: in the state,
//                            the field is `,"<escaped name>":<value>`, the name unescaped
//                            being the name itself (no escapes);
//         kLiveNamed:        [name][varint value size]: a live field whose name has escapes;
//         kTombstone:        [name]
//   v1: [id][varint lastSeen][varint version][varint updatedAt][varint n]
//       then n fields, each [name][varint time][value], every string length-prefixed
//
// A v1 meta begins with its id's length, never 0 (ids have 1 to 128 characters): the first
// byte tells the versions apart. Records journaled in v1 stay readable.
namespace {

constexpr char kMetaV2 = 0;
enum FieldKind : uint64_t { kLive = 0, kLiveNamed = 1, kTombstone = 2 };
constexpr std::string_view kStatePrefix = "{\"deviceId\":\"";
constexpr std::string_view kStateSuffix = ",\"lastSeenAt\":\"";

// Differences of times, zigzag-coded so that small ones of either sign take one byte. The
// arithmetic wraps (unsigned) rather than overflow on damaged input.
uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }
int64_t Minus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Plus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

bool Consume(std::string_view* in, std::string_view prefix) {
  if (!in->starts_with(prefix)) return false;
  in->remove_prefix(prefix.size());
  return true;
}

Status DecodeV1(std::string_view in, DeviceRecord* record) {
  uint64_t last_seen, version, updated_at, count;
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

Status DecodeV2(std::string_view in, std::string_view state, DeviceRecord* record) {
  const auto truncated = [] { return Status::Corruption("device record metadata is truncated"); };
  const auto mismatch = [] {
    return Status::Corruption("device record metadata does not match its state");
  };
  in.remove_prefix(1);
  uint64_t last_seen, version, updated_delta, count;
  if (!GetVarint64(&in, &last_seen) || !GetVarint64(&in, &version) ||
      !GetVarint64(&in, &updated_delta) || !GetVarint64(&in, &count)) {
    return truncated();
  }
  record->last_seen_ms = TimeFromBits(last_seen);
  record->version = version;
  record->updated_at_ms = Plus(record->last_seen_ms, UnZigZag(updated_delta));
  // The id: ids never need escapes ([A-Za-z0-9._:-]).
  if (!Consume(&state, kStatePrefix)) return mismatch();
  const size_t id_end = state.find('"');
  if (id_end == std::string_view::npos || id_end == 0) return mismatch();
  record->device_id.assign(state.substr(0, id_end));
  state.remove_prefix(id_end + 1);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t kind, time_delta, name_size = 0, value_size = 0;
    std::string name;
    if (!GetVarint64(&in, &kind) || !GetVarint64(&in, &time_delta)) return truncated();
    FieldState field;
    field.time_ms = Minus(record->last_seen_ms, UnZigZag(time_delta));
    switch (kind) {
      case kLive:
        if (!GetVarint64(&in, &name_size) || !GetVarint64(&in, &value_size)) return truncated();
        if (!Consume(&state, ",\"") || state.size() < name_size) return mismatch();
        name.assign(state.substr(0, name_size));
        state.remove_prefix(name_size);
        break;
      case kLiveNamed: {
        if (!GetLengthPrefixed(&in, &name) || !GetVarint64(&in, &value_size)) return truncated();
        std::string escaped = ",";
        AppendJsonString(&escaped, name);
        escaped.pop_back();  // the closing quote is consumed with the colon
        if (!Consume(&state, escaped)) return mismatch();
        break;
      }
      case kTombstone:
        if (!GetLengthPrefixed(&in, &name)) return truncated();
        break;
      default:
        return Status::Corruption("device record field has an unknown kind");
    }
    if (kind != kTombstone) {
      if (!Consume(&state, "\":") || state.size() < value_size || value_size == 0) {
        return mismatch();
      }
      field.json.assign(state.substr(0, value_size));
      state.remove_prefix(value_size);
    }
    if (!record->fields.emplace(std::move(name), std::move(field)).second) {
      return Status::Corruption("device record names a field twice");
    }
  }
  if (!in.empty()) return Status::Corruption("device record metadata has trailing bytes");
  if (!state.starts_with(kStateSuffix)) return mismatch();
  return Status::OK();
}

}  // namespace

RecordPtr ToRecord(const DeviceRecord& record) {
  std::string m;
  m.push_back(kMetaV2);
  PutVarint64(&m, TimeBits(record.last_seen_ms));
  PutVarint64(&m, record.version);
  PutVarint64(&m, ZigZag(Minus(record.updated_at_ms, record.last_seen_ms)));
  PutVarint64(&m, record.fields.size());
  std::string escaped;
  for (const auto& [name, field] : record.fields) {
    const uint64_t time_delta = ZigZag(Minus(record.last_seen_ms, field.time_ms));
    if (field.tombstone()) {
      PutVarint64(&m, kTombstone);
      PutVarint64(&m, time_delta);
      PutLengthPrefixed(&m, name);
      continue;
    }
    escaped.clear();
    AppendJsonString(&escaped, name);
    if (escaped.size() == name.size() + 2) {  // nothing escaped: the state holds the name
      PutVarint64(&m, kLive);
      PutVarint64(&m, time_delta);
      PutVarint64(&m, name.size());
    } else {
      PutVarint64(&m, kLiveNamed);
      PutVarint64(&m, time_delta);
      PutLengthPrefixed(&m, name);
    }
    PutVarint64(&m, field.json.size());
  }
  const std::string state = RenderState(record);
  return Record::Make({.type = kDeviceRecordType, .value = state, .meta = m});
}

uint64_t DeviceVersion(const Record& stored) {
  if (stored.type() != kDeviceRecordType) return 0;
  std::string_view in = stored.meta();
  uint64_t last_seen = 0, version = 0;
  if (in.starts_with(kMetaV2)) {
    in.remove_prefix(1);
  } else {
    uint64_t id_bytes = 0;
    if (!GetVarint64(&in, &id_bytes) || id_bytes > in.size()) return 0;
    in.remove_prefix(id_bytes);
  }
  if (!GetVarint64(&in, &last_seen) || !GetVarint64(&in, &version)) return 0;
  return version;
}

Status FromRecord(const Record& stored, DeviceRecord* record) {
  if (stored.type() != kDeviceRecordType) {
    return Status::WrongType("the key holds a value that is not a device record");
  }
  *record = DeviceRecord();
  const std::string_view meta = stored.meta();
  return meta.starts_with(kMetaV2) ? DecodeV2(meta, stored.value(), record)
                                   : DecodeV1(meta, record);
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
  message->append(stored.value());
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
