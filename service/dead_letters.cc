#include "service/dead_letters.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "store/coding.h"

namespace devstate {
namespace {

// File format: a sequence of records, each [fixed32 length][fixed32 crc32 of body][body];
// body = varint id, varint time_ms, then source, reason, payload head (length-prefixed),
// varint payload_bytes.
void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
uint32_t Crc(std::string_view s) {
  boost::crc_32_type crc;
  crc.process_bytes(s.data(), s.size());
  return crc.checksum();
}

std::string Frame(const DeadLetter& d) {
  std::string body;
  PutVarint64(&body, d.id);
  PutVarint64(&body, static_cast<uint64_t>(d.time_ms));
  PutLengthPrefixed(&body, d.source);
  PutLengthPrefixed(&body, d.reason);
  PutLengthPrefixed(&body, d.payload_head);
  PutVarint64(&body, d.payload_bytes);
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(body.size()));
  PutFixed32(&out, Crc(body));
  out += body;
  return out;
}

bool Unframe(std::string_view body, DeadLetter* d) {
  uint64_t time = 0;
  if (!GetVarint64(&body, &d->id) || !GetVarint64(&body, &time) ||
      !GetLengthPrefixed(&body, &d->source) || !GetLengthPrefixed(&body, &d->reason) ||
      !GetLengthPrefixed(&body, &d->payload_head) || !GetVarint64(&body, &d->payload_bytes)) {
    return false;
  }
  d->time_ms = static_cast<int64_t>(time);
  return body.empty();
}

Status Errno(std::string_view what, const std::string& path) {
  return Status::IOError(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

}  // namespace

Status DeadLetterLog::Open(const std::string& path, size_t capacity,
                           std::unique_ptr<DeadLetterLog>* log) {
  std::unique_ptr<DeadLetterLog> l(new DeadLetterLog(path, capacity == 0 ? 1 : capacity));
  Status s = l->Load();
  if (!s.ok()) return s;
  *log = std::move(l);
  return Status::OK();
}

DeadLetterLog::~DeadLetterLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status DeadLetterLog::Load() {
  std::string data;
  {
    std::ifstream in(path_, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      data = std::move(ss).str();
    }
  }
  std::string_view rest = data;
  size_t good = 0;
  while (rest.size() >= 8) {
    const uint32_t len = GetFixed32(rest.data());
    const uint32_t crc = GetFixed32(rest.data() + 4);
    if (rest.size() - 8 < len) break;
    std::string_view body = rest.substr(8, len);
    DeadLetter d;
    if (Crc(body) != crc || !Unframe(body, &d)) break;
    last_id_ = std::max(last_id_, d.id);
    entries_.push_back(std::move(d));
    if (entries_.size() > capacity_) entries_.pop_front();
    ++records_in_file_;
    rest.remove_prefix(8 + len);
    good = data.size() - rest.size();
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("open", path_);
  // Drop a torn or damaged tail, so later appends follow the last good record.
  if (good != data.size() && ::ftruncate(fd_, static_cast<off_t>(good)) != 0) {
    return Errno("truncate", path_);
  }
  return Status::OK();
}

Status DeadLetterLog::Append(DeadLetter letter, DeadLetter* stored) {
  std::lock_guard lock(mu_);
  letter.id = last_id_ + 1;
  Status s = WriteAll(fd_, Frame(letter), path_);
  if (s.ok() && ::fdatasync(fd_) != 0) s = Errno("fdatasync", path_);
  if (!s.ok()) return s;
  last_id_ = letter.id;
  ++records_in_file_;
  if (stored != nullptr) *stored = letter;
  entries_.push_back(std::move(letter));
  if (entries_.size() > capacity_) entries_.pop_front();
  if (records_in_file_ >= 2 * capacity_) return Compact();
  return Status::OK();
}

Status DeadLetterLog::Compact() {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", tmp);
  std::string data;
  for (const DeadLetter& d : entries_) data += Frame(d);
  Status s = WriteAll(fd, data, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Errno("fsync", tmp);
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0) s = Errno("rename", tmp);
  if (!s.ok()) return s;
  // Sync the directory so the rename (and with it the size bound) survives a crash.
  const size_t slash = path_.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) return Errno("open", path_);
  records_in_file_ = entries_.size();
  return Status::OK();
}

std::vector<DeadLetter> DeadLetterLog::Recent(size_t limit) const {
  std::lock_guard lock(mu_);
  std::vector<DeadLetter> out;
  for (auto it = entries_.rbegin(); it != entries_.rend() && out.size() < limit; ++it) {
    out.push_back(*it);
  }
  return out;
}

uint64_t DeadLetterLog::total() const {
  std::lock_guard lock(mu_);
  return last_id_;
}

}  // namespace devstate
