// Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH, the shard forms SSUBSCRIBE
// SUNSUBSCRIBE SPUBLISH (cluster clients use them), and PUBSUB CHANNELS NUMSUB NUMPAT
// SHARDCHANNELS SHARDNUMSUB, answered as Redis 7.0 does (pubsub.c). The registry is
// pubsub.h; messages reach a subscriber through its connection's Session::Push.
#include <fmt/format.h>

#include "api/resp/commands.h"
#include "api/resp/pubsub.h"

namespace devstate::resp {
namespace {

// Confirmations of (un)subscriptions are pushes in RESP3, arrays in RESP2, one per name.
void Confirm(Call& call, std::string_view kind, std::string_view name, size_t count) {
  call.pushed = true;
  call.reply.out()->append(PubSubFrame(kind, name, static_cast<int64_t>(count), call.protocol()));
}

size_t Count(const ClientState& c, PubSub::Kind kind) {
  return kind == PubSub::kShard ? c.shard_channels.size() : c.channels.size() + c.patterns.size();
}

void SubscribeTo(Call& call, PubSub::Kind kind, std::string_view confirm) {
  for (size_t i = 1; i < call.args.size(); ++i) {
    call.server.pubsub.Subscribe(&call.client, kind, call.args[i]);
    Confirm(call, confirm, call.args[i], Count(call.client, kind));
  }
}

void UnsubscribeFrom(Call& call, PubSub::Kind kind, std::string_view confirm) {
  std::vector<std::string> names(call.args.begin() + 1, call.args.end());
  if (names.empty()) {
    const std::set<std::string>& mine = kind == PubSub::kChannel   ? call.client.channels
                                        : kind == PubSub::kPattern ? call.client.patterns
                                                                   : call.client.shard_channels;
    names.assign(mine.begin(), mine.end());
    if (names.empty()) return Confirm(call, confirm, std::string_view(), Count(call.client, kind));
  }
  for (const std::string& name : names) {
    call.server.pubsub.Unsubscribe(&call.client, kind, name);
    Confirm(call, confirm, name, Count(call.client, kind));
  }
}

void CmdSubscribe(Call& call) { SubscribeTo(call, PubSub::kChannel, "subscribe"); }
void CmdPsubscribe(Call& call) { SubscribeTo(call, PubSub::kPattern, "psubscribe"); }
void CmdSsubscribe(Call& call) { SubscribeTo(call, PubSub::kShard, "ssubscribe"); }
void CmdUnsubscribe(Call& call) { UnsubscribeFrom(call, PubSub::kChannel, "unsubscribe"); }
void CmdPunsubscribe(Call& call) { UnsubscribeFrom(call, PubSub::kPattern, "punsubscribe"); }
void CmdSunsubscribe(Call& call) { UnsubscribeFrom(call, PubSub::kShard, "sunsubscribe"); }

void CmdPublish(Call& call) {
  call.reply.Integer(static_cast<int64_t>(
      call.server.pubsub.Publish(PubSub::kChannel, call.args[1], call.args[2])));
}

void CmdSpublish(Call& call) {
  call.reply.Integer(
      static_cast<int64_t>(call.server.pubsub.Publish(PubSub::kShard, call.args[1], call.args[2])));
}

void ListChannels(Call& call, PubSub::Kind kind) {
  const std::vector<std::string> names =
      call.server.pubsub.Channels(kind, call.args.size() > 2 ? call.args[2] : std::string());
  call.reply.Array(names.size());
  for (const std::string& n : names) call.reply.Bulk(n);
}

void CountSubscribers(Call& call, PubSub::Kind kind) {
  call.reply.Array(2 * (call.args.size() - 2));  // a flat array in RESP3 too, as Redis
  for (size_t i = 2; i < call.args.size(); ++i) {
    call.reply.Bulk(call.args[i]);
    call.reply.Integer(static_cast<int64_t>(call.server.pubsub.NumSub(kind, call.args[i])));
  }
}

void CmdPubsubChannels(Call& call) { ListChannels(call, PubSub::kChannel); }
void CmdPubsubShardchannels(Call& call) { ListChannels(call, PubSub::kShard); }
void CmdPubsubNumsub(Call& call) { CountSubscribers(call, PubSub::kChannel); }
void CmdPubsubShardnumsub(Call& call) { CountSubscribers(call, PubSub::kShard); }
void CmdPubsubNumpat(Call& call) {
  call.reply.Integer(static_cast<int64_t>(call.server.pubsub.NumPat()));
}

}  // namespace

void AddPubSubCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> pubsub = {"pubsub", "slow"};
  const std::vector<std::string_view> fast = {"pubsub", "fast"};
  // As Redis: allowed while loading and on a stale replica; only the shard channels are
  // keys (so CROSSSLOT applies to them).
  const uint32_t any = kLoading | kStale;
  t->insert(
      t->end(),
      {
          {"subscribe", -2, any | kNoScript, 0, 0, 0, pubsub, CmdSubscribe,
           "Listen for messages published to the given channels"},
          {"unsubscribe", -1, any | kNoScript, 0, 0, 0, pubsub, CmdUnsubscribe,
           "Stop listening for messages posted to the given channels"},
          {"psubscribe", -2, any | kNoScript, 0, 0, 0, pubsub, CmdPsubscribe,
           "Listen for messages published to channels matching the given patterns"},
          {"punsubscribe", -1, any | kNoScript, 0, 0, 0, pubsub, CmdPunsubscribe,
           "Stop listening for messages posted to channels matching the given patterns"},
          {"ssubscribe", -2, any | kNoScript, 1, -1, 1, pubsub, CmdSsubscribe,
           "Listen for messages published to the given shard channels"},
          {"sunsubscribe", -1, any | kNoScript, 1, -1, 1, pubsub, CmdSunsubscribe,
           "Stop listening for messages posted to the given shard channels"},
          {"publish", 3, any | kFast, 0, 0, 0, fast, CmdPublish, "Post a message to a channel"},
          {"spublish", 3, any | kFast, 1, 1, 1, fast, CmdSpublish,
           "Post a message to a shard channel"},
          {"pubsub",
           -2,
           any,
           0,
           0,
           0,
           {"slow"},
           nullptr,
           "A container for Pub/Sub commands",
           {
               {"pubsub|channels", -2, any, 0, 0, 0, pubsub, CmdPubsubChannels,
                "List active channels"},
               {"pubsub|numsub", -2, any, 0, 0, 0, pubsub, CmdPubsubNumsub,
                "Get the count of subscribers for channels"},
               {"pubsub|numpat", 2, any, 0, 0, 0, pubsub, CmdPubsubNumpat,
                "Get the count of unique patterns pattern subscriptions"},
               {"pubsub|shardchannels", -2, any, 0, 0, 0, pubsub, CmdPubsubShardchannels,
                "List active shard channels"},
               {"pubsub|shardnumsub", -2, any, 0, 0, 0, pubsub, CmdPubsubShardnumsub,
                "Get the count of subscribers for shard channels"},
               {"pubsub|help", 2, any, 0, 0, 0, pubsub, ContainerHelp, "Show helpful text"},
           }},
      });
}

}  // namespace devstate::resp
