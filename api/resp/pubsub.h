// PubSub: channels, patterns and shard channels, and the connections listening on them (as
// Redis's pubsub.c). Messages are fire-and-forget, as in Redis: nothing is journaled, a
// subscriber gets what is published while it listens, and a subscriber that does not read
// is disconnected at its output limit (Session::Push), never buffered without bound.
//
// Thread safety: every method is safe from any thread. Publish hands each frame to the
// subscriber's ClientState::push under the registry's lock, so a connection removes itself
// (UnsubscribeAll) before its ClientState goes, and publishing never races that.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace devstate::resp {

struct ClientState;

class PubSub {
 public:
  enum Kind { kChannel = 0, kPattern = 1, kShard = 2 };

  // Whether the subscription changed (false: already subscribed / was not).
  bool Subscribe(ClientState* client, Kind kind, const std::string& name);
  bool Unsubscribe(ClientState* client, Kind kind, const std::string& name);
  // Everything `client` listens to (its connection closes).
  void UnsubscribeAll(ClientState* client);
  // Delivers to the channel's subscribers and (for kChannel) to every matching pattern's;
  // returns how many deliveries were made (PUBLISH's answer).
  size_t Publish(Kind kind, const std::string& channel, const std::string& message);

  // PUBSUB CHANNELS / SHARDCHANNELS (pattern empty: all), NUMSUB / SHARDNUMSUB, NUMPAT.
  std::vector<std::string> Channels(Kind kind, std::string_view pattern) const;
  size_t NumSub(Kind kind, const std::string& channel) const;
  size_t NumPat() const;
  // Whether any connection listens to a channel or a pattern (not shard channels): a
  // publisher with nothing to say to nobody skips building its message.
  bool Listened() const { return listened_.load(std::memory_order_relaxed) != 0; }

 private:
  void Recount() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::atomic<size_t> listened_{0};
  std::map<std::string, std::set<ClientState*>, std::less<>> names_[3] ABSL_GUARDED_BY(mu_);
};

// A subscription's confirmation ("subscribe", channel, count): a RESP2 array, a RESP3 push.
std::string PubSubFrame(std::string_view kind, std::string_view channel, int64_t count,
                        int protocol);
// Message frames (built once for every subscriber as RESP2 arrays), one after another in
// `frames`, each starting at one of `starts`, as `protocol` wants them.
void AsPushes(std::string* frames, const std::vector<size_t>& starts, int protocol);

}  // namespace devstate::resp
