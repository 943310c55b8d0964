// Notifier: what committed writes changed, told to subscribers. Redis's keyspace
// notifications (notify-keyspace-events: `__keyspace@0__:<key>` carries the event,
// `__keyevent@0__:<event>` the key) and devstate's device channels (`device:<id>:changes`
// carries a device's new state after every change).
//
// Callers notify only after a write is committed (journaled, synced and acknowledged by the
// replicas the gate requires), from the thread that completes it: a subscriber never hears
// of a write that was not acknowledged. Delivery is pub/sub's: fire-and-forget, to whoever
// listens at that moment (the sink, set by the RESP server, publishes to its channels).
//
// Thread safety: every method is safe from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace devstate {

class Notifier {
 public:
  // Redis's NOTIFY_* classes, and its letters for them.
  enum Class : uint32_t {
    kKeyspace = 1 << 0,  // K
    kKeyevent = 1 << 1,  // E
    kGeneric = 1 << 2,   // g
    kString = 1 << 3,    // $
    kList = 1 << 4,      // l
    kSet = 1 << 5,       // s
    kHash = 1 << 6,      // h
    kZset = 1 << 7,      // z
    kExpired = 1 << 8,   // x
    kEvicted = 1 << 9,   // e
    kStream = 1 << 10,   // t
    kKeyMiss = 1 << 11,  // m
    kModule = 1 << 12,   // d
    kNew = 1 << 13,      // n
  };
  // A: every class but m and n.
  static constexpr uint32_t kAll =
      kGeneric | kString | kList | kSet | kHash | kZset | kExpired | kEvicted | kStream | kModule;

  // notify-keyspace-events' text, as Redis's keyspaceEventsStringToFlags and back; false on
  // an unknown letter.
  static bool Parse(std::string_view text, uint32_t* flags);
  static std::string Format(uint32_t flags);

  void SetFlags(uint32_t flags) { flags_.store(flags, std::memory_order_relaxed); }
  uint32_t flags() const { return flags_.load(std::memory_order_relaxed); }
  // Whether an event of `cls` would be sent at all (a caller may skip the work otherwise).
  bool Wants(uint32_t cls) const {
    const uint32_t f = flags();
    return (f & cls) != 0 && (f & (kKeyspace | kKeyevent)) != 0;
  }

  using Sink = std::function<void(const std::string& channel, const std::string& message)>;
  // Where notifications go, and whether anyone listens there at all (so that publishers
  // skip building messages for nobody); null stops them. The previous sink is not called
  // once this returns.
  void SetSink(Sink sink, std::function<bool()> listened);
  bool Listened() const;

  // A committed write's keyspace event.
  void Notify(uint32_t cls, std::string_view event, std::string_view key);
  // A device record's new state, committed: on `device:<id>:changes`, always (whoever
  // listens; there is no flag), and to every watcher.
  void DeviceChanged(std::string_view device_id, uint64_t version, const std::string& message);
  static std::string DeviceChannel(std::string_view device_id);

  // Watchers of device changes (the HTTP server's event streams), called on the thread that
  // completes the commit: they must be quick and hand the message to their own executor.
  using DeviceWatcher =
      std::function<void(std::string_view device_id, uint64_t version, const std::string& message)>;
  uint64_t Watch(DeviceWatcher watcher);
  // The watcher is not called once this returns.
  void Unwatch(uint64_t id);

 private:
  std::atomic<uint32_t> flags_{0};
  mutable absl::Mutex mu_;
  Sink sink_ ABSL_GUARDED_BY(mu_);
  std::function<bool()> listened_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, DeviceWatcher> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watcher_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace devstate
