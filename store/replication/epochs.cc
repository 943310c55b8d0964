#include "store/replication/epochs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>

#include "store/coding.h"

namespace devstate {
namespace {
constexpr std::string_view kMarkerPrefix = "epoch/";
}  // namespace

std::string EpochHistory::MarkerKey(uint64_t epoch) {
  std::string key(kMarkerPrefix);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(epoch >> shift));
  return key;
}

std::string EpochHistory::MarkerValue(uint64_t first_seq) {
  std::string value;
  PutVarint64(&value, first_seq);
  return value;
}

bool EpochHistory::ParseMarker(std::string_view key, std::string_view value, Entry* entry) {
  if (key.size() != kMarkerPrefix.size() + 8 ||
      key.substr(0, kMarkerPrefix.size()) != kMarkerPrefix) {
    return false;
  }
  uint64_t epoch = 0;
  for (size_t i = kMarkerPrefix.size(); i < key.size(); ++i) {
    epoch = (epoch << 8) | static_cast<uint8_t>(key[i]);
  }
  uint64_t first = 0;
  if (!GetVarint64(&value, &first) || !value.empty()) return false;
  *entry = Entry{epoch, first};
  return true;
}

void EpochHistory::Add(Entry entry) {
  absl::MutexLock lock(&mu_);
  if (!entries_.empty() &&
      (entry.epoch <= entries_.back().epoch || entry.first_seq < entries_.back().first_seq)) {
    return;
  }
  entries_.push_back(entry);
}

void EpochHistory::Clear() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
}

uint64_t EpochHistory::Current() const {
  absl::MutexLock lock(&mu_);
  return entries_.empty() ? 0 : entries_.back().epoch;
}

uint64_t EpochHistory::EpochOf(uint64_t seq) const {
  absl::MutexLock lock(&mu_);
  uint64_t epoch = 0;
  for (const Entry& e : entries_) {
    if (e.first_seq > seq) break;
    epoch = e.epoch;
  }
  return epoch;
}

std::vector<EpochHistory::Entry> EpochHistory::Entries() const {
  absl::MutexLock lock(&mu_);
  return entries_;
}

bool EpochHistory::Contains(uint64_t epoch, uint64_t seq, uint64_t last) const {
  if (seq == 0) return true;
  if (epoch == 0) return false;
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].epoch != epoch) continue;
    const uint64_t end = i + 1 < entries_.size() ? entries_[i + 1].first_seq - 1 : last;
    return entries_[i].first_seq <= seq && seq <= end;
  }
  return false;
}

Status LoadTerm(const std::string& dir, uint64_t* term) {
  *term = 0;
  std::ifstream in(dir + "/TERM");
  if (!in) return Status::OK();
  std::string text;
  std::getline(in, text);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *term);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::Corruption("'" + dir + "/TERM' does not hold an epoch number");
  }
  return Status::OK();
}

Status SaveTerm(const std::string& dir, uint64_t term) {
  // Written beside, synced, renamed over, and the directory synced: the file is either
  // the old term or the new one, never torn.
  const std::string path = dir + "/TERM";
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(term) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot write '" + tmp + "'");
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("cannot write '" + path + "'");
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

}  // namespace devstate
