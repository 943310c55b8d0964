#include "service/event.h"

#include <fmt/format.h>

#include <cstring>

#include "service/rfc3339.h"

namespace devstate {

bool ValidDeviceId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

EventParser::EventParser(EventLimits limits) : limits_(limits), parser_() {
  // simdjson counts the document root as a level of its own, above the event object.
  init_error_ = parser_.allocate(limits_.max_bytes, limits_.max_depth + 1);
  if (!init_error_) init_error_ = batch_parser_.allocate(limits_.max_bytes, limits_.max_depth + 2);
}

Status EventParser::ParseBatch(std::string_view body, int64_t receive_ms, size_t max_events,
                               std::vector<BatchItem>* items) {
  items->clear();
  if (init_error_) {
    return Status::InvalidArgument(
        fmt::format("event parser unavailable: {}", simdjson::error_message(init_error_)));
  }
  const size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return Status::InvalidArgument("batch is empty");
  auto too_many = [&] {
    return Status::InvalidArgument(fmt::format("batch has more than {} events", max_events));
  };

  if (body[start] == '[') {
    padded_.resize(body.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(padded_.data(), body.data(), body.size());
    simdjson::dom::element root;
    auto error = batch_parser_.parse(padded_.data(), body.size(), false).get(root);
    if (error == simdjson::DEPTH_ERROR) {
      return Status::InvalidArgument(
          fmt::format("an event nests deeper than {} levels", limits_.max_depth));
    }
    if (error == simdjson::UTF8_ERROR) return Status::InvalidArgument("batch is not valid UTF-8");
    if (error) {
      return Status::InvalidArgument(
          fmt::format("batch is not valid JSON: {}", simdjson::error_message(error)));
    }
    simdjson::dom::array array;
    if (root.get(array)) return Status::InvalidArgument("batch must be a JSON array or NDJSON");
    if (array.size() > max_events) return too_many();
    for (simdjson::dom::element element : array) {
      BatchItem& item = items->emplace_back();
      simdjson::dom::object object;
      if (element.get(object)) {
        item.status = Status::InvalidArgument("event must be a JSON object");
        continue;
      }
      // Measured minified: whitespace between events is the batch's, not the event's.
      const size_t bytes = simdjson::minify(element).size();
      if (bytes > limits_.max_bytes) {
        item.status = Status::InvalidArgument(
            fmt::format("event is {} bytes, more than the limit of {}", bytes, limits_.max_bytes));
        continue;
      }
      item.status = FromObject(object, {}, receive_ms, &item.event);
    }
  } else {
    std::string_view rest = body;
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      if (items->size() == max_events) return too_many();
      BatchItem& item = items->emplace_back();
      item.status = Parse(line, {}, receive_ms, &item.event);
    }
  }
  if (items->empty()) return Status::InvalidArgument("batch is empty");
  return Status::OK();
}

Status EventParser::Parse(std::string_view payload, std::string_view path_id, int64_t receive_ms,
                          Event* event) {
  if (payload.size() > limits_.max_bytes) {
    return Status::InvalidArgument(fmt::format("event is {} bytes, more than the limit of {}",
                                               payload.size(), limits_.max_bytes));
  }
  if (!path_id.empty() && !ValidDeviceId(path_id)) {
    return Status::InvalidArgument("device id must match [A-Za-z0-9._:-]{1,128}");
  }
  if (init_error_) {
    return Status::InvalidArgument(
        fmt::format("event parser unavailable: {}", simdjson::error_message(init_error_)));
  }
  padded_.resize(payload.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(padded_.data(), payload.data(), payload.size());
  simdjson::dom::element root;
  auto error = parser_.parse(padded_.data(), payload.size(), false).get(root);
  if (error == simdjson::DEPTH_ERROR) {
    return Status::InvalidArgument(
        fmt::format("event nests deeper than {} levels", limits_.max_depth));
  }
  if (error == simdjson::UTF8_ERROR) return Status::InvalidArgument("event is not valid UTF-8");
  if (error) {
    return Status::InvalidArgument(
        fmt::format("event is not valid JSON: {}", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get(object)) return Status::InvalidArgument("event must be a JSON object");
  return FromObject(object, path_id, receive_ms, event);
}

Status EventParser::FromObject(simdjson::dom::object object, std::string_view path_id,
                               int64_t receive_ms, Event* event) {
  event->device_id.assign(path_id);
  event->fields.clear();
  event->time_from_device = false;
  bool have_ts = false;
  int64_t ts = 0, seen_at = 0;
  bool have_seen_at = false;
  bool have_id = false;
  // Reserved keys appear once, as state fields must: a duplicate is refused, not settled by
  // taking the last (which a reader of the JSON might not expect).
  auto twice = [](std::string_view key) {
    return Status::InvalidArgument(fmt::format("field '{}' appears twice", key));
  };
  for (auto [key, value] : object) {
    if (key == "deviceId") {
      if (have_id) return twice(key);
      have_id = true;
      std::string_view id;
      if (value.get(id) || !ValidDeviceId(id)) {
        return Status::InvalidArgument("deviceId must be a string matching [A-Za-z0-9._:-]{1,128}");
      }
      if (!path_id.empty() && id != path_id) {
        return Status::InvalidArgument(fmt::format(
            "deviceId '{}' does not match the device '{}' of the topic or path", id, path_id));
      }
      event->device_id.assign(id);
    } else if (key == "ts") {
      if (have_ts) return twice(key);
      if (value.get(ts) || ts < 0 || ts > kMaxTimeMs) {
        return Status::InvalidArgument("ts must be an integer of epoch milliseconds");
      }
      have_ts = true;
    } else if (key == "lastSeenAt") {
      if (have_seen_at) return twice(key);
      std::string_view text;
      std::optional<int64_t> ms;
      if (value.get(text) || !(ms = ParseRfc3339(text))) {
        return Status::InvalidArgument(
            "lastSeenAt must be an RFC 3339 time, e.g. 2026-11-22T08:00:00Z");
      }
      seen_at = *ms;
      have_seen_at = true;
    } else {
      if (event->fields.size() == limits_.max_fields) {
        return Status::InvalidArgument(
            fmt::format("event has more than {} fields", limits_.max_fields));
      }
      for (const EventField& f : event->fields) {
        if (f.name == key) return twice(key);
      }
      event->fields.push_back(EventField{std::string(key), simdjson::minify(value)});
    }
  }
  if (event->device_id.empty()) {
    return Status::InvalidArgument(
        "event has no device id (deviceId in the body, or the topic or path)");
  }
  // `ts` wins over `lastSeenAt` when a device sends both.
  event->time_from_device = have_ts || have_seen_at;
  event->time_ms = have_ts ? ts : (have_seen_at ? seen_at : receive_ms);
  return Status::OK();
}

}  // namespace devstate
