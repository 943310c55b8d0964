#include "service/notifier.h"

#include <utility>

namespace devstate {

namespace {

constexpr std::pair<char, uint32_t> kLetters[] = {
    {'g', Notifier::kGeneric}, {'$', Notifier::kString},  {'l', Notifier::kList},
    {'s', Notifier::kSet},     {'h', Notifier::kHash},    {'z', Notifier::kZset},
    {'x', Notifier::kExpired}, {'e', Notifier::kEvicted}, {'t', Notifier::kStream},
    {'d', Notifier::kModule},  {'n', Notifier::kNew},
};

}  // namespace

bool Notifier::Parse(std::string_view text, uint32_t* flags) {
  uint32_t f = 0;
  for (char c : text) {
    if (c == 'A') {
      f |= kAll;
    } else if (c == 'K') {
      f |= kKeyspace;
    } else if (c == 'E') {
      f |= kKeyevent;
    } else if (c == 'm') {
      f |= kKeyMiss;
    } else {
      bool known = false;
      for (const auto& [letter, cls] : kLetters) {
        if (letter == c) {
          f |= cls;
          known = true;
        }
      }
      if (!known) return false;
    }
  }
  *flags = f;
  return true;
}

std::string Notifier::Format(uint32_t flags) {
  std::string out;
  if ((flags & kAll) == kAll) {
    out += 'A';  // and, as in Redis, no 'n' after it
  } else {
    for (const auto& [letter, cls] : kLetters) {
      if (flags & cls) out += letter;
    }
  }
  if (flags & kKeyspace) out += 'K';
  if (flags & kKeyevent) out += 'E';
  if (flags & kKeyMiss) out += 'm';
  return out;
}

void Notifier::SetSink(Sink sink, std::function<bool()> listened) {
  absl::MutexLock lock(&mu_);
  sink_ = std::move(sink);
  listened_ = std::move(listened);
}

bool Notifier::Listened() const {
  absl::ReaderMutexLock lock(&mu_);
  return !watchers_.empty() || (sink_ && listened_ && listened_());
}

uint64_t Notifier::Watch(DeviceWatcher watcher) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_watcher_++;
  watchers_.emplace(id, std::move(watcher));
  return id;
}

void Notifier::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void Notifier::Notify(uint32_t cls, std::string_view event, std::string_view key) {
  const uint32_t f = flags();
  if ((f & cls) == 0) return;
  absl::ReaderMutexLock lock(&mu_);
  if (!sink_ || !listened_ || !listened_()) return;
  if (f & kKeyspace) {
    std::string channel = "__keyspace@0__:";
    channel.append(key);
    sink_(channel, std::string(event));
  }
  if (f & kKeyevent) {
    std::string channel = "__keyevent@0__:";
    channel.append(event);
    sink_(channel, std::string(key));
  }
}

std::string Notifier::DeviceChannel(std::string_view device_id) {
  std::string channel = "device:";
  channel.append(device_id);
  channel.append(":changes");
  return channel;
}

void Notifier::DeviceChanged(std::string_view device_id, uint64_t version,
                             const std::string& message) {
  absl::ReaderMutexLock lock(&mu_);
  if (sink_ && listened_ && listened_()) sink_(DeviceChannel(device_id), message);
  for (const auto& [id, watcher] : watchers_) watcher(device_id, version, message);
}

}  // namespace devstate
