#include "api/resp/pubsub.h"

#include <fmt/format.h>

#include "api/glob.h"
#include "api/resp/command_table.h"

namespace devstate::resp {

namespace {

void AppendBulk(std::string* out, std::string_view s) {
  fmt::format_to(std::back_inserter(*out), "${}\r\n", s.size());
  out->append(s);
  out->append("\r\n");
}

std::string MessageFrame(std::string_view kind, std::string_view pattern, std::string_view channel,
                         std::string_view message) {
  std::string out = pattern.empty() ? "*3\r\n" : "*4\r\n";
  AppendBulk(&out, kind);
  if (!pattern.empty()) AppendBulk(&out, pattern);
  AppendBulk(&out, channel);
  AppendBulk(&out, message);
  return out;
}

std::set<std::string>& Names(ClientState* c, PubSub::Kind kind) {
  switch (kind) {
    case PubSub::kChannel:
      return c->channels;
    case PubSub::kPattern:
      return c->patterns;
    case PubSub::kShard:
      break;
  }
  return c->shard_channels;
}

}  // namespace

std::string PubSubFrame(std::string_view kind, std::string_view channel, int64_t count,
                        int protocol) {
  std::string out = protocol >= 3 ? ">3\r\n" : "*3\r\n";
  AppendBulk(&out, kind);
  if (channel.data() == nullptr) {
    // UNSUBSCRIBE with nothing subscribed: a null channel.
    out += protocol >= 3 ? "_\r\n" : "$-1\r\n";
  } else {
    AppendBulk(&out, channel);
  }
  fmt::format_to(std::back_inserter(out), ":{}\r\n", count);
  return out;
}

void AsPushes(std::string* frames, const std::vector<size_t>& starts, int protocol) {
  // Only the array header changes: the rest of a message frame is length-prefixed data.
  if (protocol < 3) return;
  for (size_t at : starts) {
    if (at < frames->size() && (*frames)[at] == '*') (*frames)[at] = '>';
  }
}

bool PubSub::Subscribe(ClientState* client, Kind kind, const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (!Names(client, kind).insert(name).second) return false;
  names_[kind][name].insert(client);
  client->pubsub_mode.store(true, std::memory_order_relaxed);
  Recount();
  return true;
}

void PubSub::Recount() {
  listened_.store(names_[kChannel].size() + names_[kPattern].size(), std::memory_order_relaxed);
}

bool PubSub::Unsubscribe(ClientState* client, Kind kind, const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (Names(client, kind).erase(name) == 0) return false;
  auto it = names_[kind].find(name);
  if (it != names_[kind].end()) {
    it->second.erase(client);
    if (it->second.empty()) names_[kind].erase(it);
  }
  client->pubsub_mode.store(client->subscribed(), std::memory_order_relaxed);
  Recount();
  return true;
}

void PubSub::UnsubscribeAll(ClientState* client) {
  absl::MutexLock lock(&mu_);
  for (Kind kind : {kChannel, kPattern, kShard}) {
    for (const std::string& name : Names(client, kind)) {
      auto it = names_[kind].find(name);
      if (it == names_[kind].end()) continue;
      it->second.erase(client);
      if (it->second.empty()) names_[kind].erase(it);
    }
    Names(client, kind).clear();
  }
  client->pubsub_mode.store(false, std::memory_order_relaxed);
  Recount();
}

size_t PubSub::Publish(Kind kind, const std::string& channel, const std::string& message) {
  absl::MutexLock lock(&mu_);
  size_t delivered = 0;
  auto it = names_[kind].find(channel);
  if (it != names_[kind].end()) {
    const std::string frame =
        MessageFrame(kind == kShard ? "smessage" : "message", {}, channel, message);
    for (ClientState* c : it->second) {
      if (c->push) c->push(frame);
      ++delivered;
    }
  }
  if (kind != kChannel) return delivered;
  for (const auto& [pattern, clients] : names_[kPattern]) {
    if (!GlobMatch(pattern, channel)) continue;
    const std::string frame = MessageFrame("pmessage", pattern, channel, message);
    for (ClientState* c : clients) {
      if (c->push) c->push(frame);
      ++delivered;
    }
  }
  return delivered;
}

std::vector<std::string> PubSub::Channels(Kind kind, std::string_view pattern) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, clients] : names_[kind]) {
    if (pattern.empty() || GlobMatch(pattern, name)) out.push_back(name);
  }
  return out;
}

size_t PubSub::NumSub(Kind kind, const std::string& channel) const {
  absl::MutexLock lock(&mu_);
  auto it = names_[kind].find(channel);
  return it == names_[kind].end() ? 0 : it->second.size();
}

size_t PubSub::NumPat() const {
  absl::MutexLock lock(&mu_);
  return names_[kPattern].size();
}

}  // namespace devstate::resp
