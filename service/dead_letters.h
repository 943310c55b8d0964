// DeadLetterLog: where payloads that cannot become events go, so none is dropped silently.
//
// Each entry keeps the reason, where the payload came from (an MQTT topic), the receive
// time and the first bytes of the payload. Append writes the entry to a file and fdatasyncs
// it before returning, so the MQTT message can be acknowledged: the bad payload is then on
// record, not lost. The log is capped: it keeps the newest `capacity` entries, in memory and
// on disk (the file is compacted when it holds twice that). Entry ids keep counting across
// restarts, so `total()` is every payload ever dead-lettered.
//
// Thread-safe. A torn last entry (a crash mid-append) is dropped at Open.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/status.h"

namespace devstate {

struct DeadLetter {
  uint64_t id = 0;  // 1, 2, ... in arrival order
  int64_t time_ms = 0;
  std::string source;  // e.g. "mqtt:devices/7/state"
  std::string reason;
  std::string payload_head;    // the first bytes of the payload, as received
  uint64_t payload_bytes = 0;  // the whole payload's size
};

class DeadLetterLog {
 public:
  static Status Open(const std::string& path, size_t capacity, std::unique_ptr<DeadLetterLog>* log);
  ~DeadLetterLog();

  // Durably appends `letter` (its id is assigned here) and returns it with the id set.
  Status Append(DeadLetter letter, DeadLetter* stored = nullptr);

  // Up to `limit` entries, newest first.
  std::vector<DeadLetter> Recent(size_t limit) const;
  uint64_t total() const;

 private:
  DeadLetterLog(std::string path, size_t capacity) : path_(std::move(path)), capacity_(capacity) {}
  Status Load();
  Status Compact();  // rewrites the file with the retained entries; mu_ held

  const std::string path_;
  const size_t capacity_;
  mutable std::mutex mu_;  // guards everything below
  int fd_ = -1;
  std::deque<DeadLetter> entries_;  // the newest `capacity_`, oldest first
  size_t records_in_file_ = 0;
  uint64_t last_id_ = 0;
};

}  // namespace devstate
