// Tracking: server-assisted client-side caching (CLIENT TRACKING), as Redis 7.0's
// tracking.c defines it. A client that turns tracking on is told when a key it may have
// cached changes, so it can drop its copy:
//   - default mode: the keys the client's read commands named are remembered (before the
//     read runs, so a change published meanwhile still invalidates); the first change of
//     such a key tells every client that read it, and forgets the key;
//   - BCAST: every change of a key under one of the client's prefixes (or any key, with
//     none) is told, and nothing is remembered;
//   - OPTIN / OPTOUT: only the reads after CLIENT CACHING yes (resp. not after
//     CLIENT CACHING no) are remembered.
// Messages are RESP3 pushes (`invalidate` with the keys, or null for FLUSHALL), or with
// REDIRECT, messages on `__redis__:invalidate` to a RESP2 client in pub/sub mode; a
// client whose redirect target went away gets one `tracking-redir-broken` push.
//
// Changes come from the keyspace (KeyObserver), on the thread that publishes them, once
// they are visible, so a client is never told before a re-read would see the new value,
// and a change is never told for a write that was not committed. A commit's changes are
// told after its writers' replies were handed to their connections.
// NOLOOP is refused: the keyspace does not know which client wrote a key, and skipping
// the wrong client's change would leave a stale copy cached.
//
// The remembered keys are bounded by tracking-table-max-keys (0: unbounded); past it,
// arbitrary keys are told as changed and forgotten, as Redis evicts random ones.
//
// Thread safety: every method is safe from any thread. A connection calls Disable before
// its ClientState goes; messages are handed over under the registry's lock.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/keyspace.h"

namespace devstate::resp {

struct ClientState;
struct ServerState;

class Tracking final : public KeyObserver {
 public:
  explicit Tracking(ServerState* server) : server_(server) {}

  struct Options {
    uint64_t redirect = 0;  // 0: none
    bool bcast = false, optin = false, optout = false;
    std::vector<std::string> prefixes;  // BCAST only
  };
  // CLIENT TRACKING ON: the error to reply (Redis's words), or empty once on. Called again
  // while on, it adds prefixes and may change the redirect, but never the mode.
  std::string Enable(ClientState& client, const Options& options) ABSL_LOCKS_EXCLUDED(mu_);
  // CLIENT TRACKING OFF, RESET, or the connection closing.
  void Disable(ClientState& client) ABSL_LOCKS_EXCLUDED(mu_);
  // A read command of `client` is about to read `keys`: remembered if its mode says so.
  void Remember(ClientState& client, const std::vector<std::string_view>& keys)
      ABSL_LOCKS_EXCLUDED(mu_);

  // KeyObserver.
  void Changed(std::string_view key) override ABSL_LOCKS_EXCLUDED(mu_);
  void ChangedAll() override ABSL_LOCKS_EXCLUDED(mu_);
  void Published() override ABSL_LOCKS_EXCLUDED(mu_);

  void SetMaxKeys(uint64_t n) ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t max_keys() const { return max_keys_.load(std::memory_order_relaxed); }
  // INFO: tracking_total_keys, _items, _prefixes, and tracking_clients.
  struct Counts {
    size_t keys = 0, items = 0, prefixes = 0, clients = 0;
  };
  Counts counts() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Tells `client` (or its redirect target) that `keys` changed; null: everything.
  void TellLocked(ClientState* client, const std::vector<std::string_view>* keys)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the remembered `key`, and tells its readers now, or at the group's end.
  void InvalidateLocked(const std::string& key, bool now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reactivate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ServerState* const server_;
  mutable absl::Mutex mu_;
  bool observing_ ABSL_GUARDED_BY(mu_) = false;  // the service's key observer
  std::atomic<uint64_t> max_keys_{1000000};
  // Tracking clients, by id.
  std::map<uint64_t, ClientState*> clients_ ABSL_GUARDED_BY(mu_);
  // Default mode: each remembered key and the ids that read it.
  absl::flat_hash_map<std::string, absl::flat_hash_set<uint64_t>> keys_ ABSL_GUARDED_BY(mu_);
  size_t items_ ABSL_GUARDED_BY(mu_) = 0;
  // BCAST: each prefix and the ids listening to it.
  std::map<std::string, std::set<uint64_t>, std::less<>> prefixes_ ABSL_GUARDED_BY(mu_);
  // What the group being published changed, told at its end (Published), once its writers
  // were answered: a writer hears its reply before its own invalidation, as in Redis.
  // Default mode: each client's keys (one message per key); BCAST: the keys per prefix
  // (one message per prefix and client, as Redis sends them once per event loop turn);
  // a FLUSHALL (null to every client).
  std::vector<std::pair<uint64_t, std::string>> owed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>, std::less<>> gathered_ ABSL_GUARDED_BY(mu_);
  bool flushed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace devstate::resp
