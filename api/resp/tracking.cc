#include "api/resp/tracking.h"

#include <fmt/format.h>

#include <memory>
#include <mutex>

#include "api/resp/command_table.h"

namespace devstate::resp {
namespace {

// The payload of an invalidation: one key as an array, or everything as null.
std::string Payload(const std::vector<std::string_view>* keys, int protocol) {
  if (keys == nullptr) return protocol >= 3 ? "_\r\n" : "*-1\r\n";
  std::string out = fmt::format("*{}\r\n", keys->size());
  for (std::string_view key : *keys)
    fmt::format_to(std::back_inserter(out), "${}\r\n{}\r\n", key.size(), key);
  return out;
}

bool Overlap(std::string_view a, std::string_view b) {
  return a.starts_with(b) || b.starts_with(a);
}

}  // namespace

std::string Tracking::Enable(ClientState& c, const Options& o) {
  if (!o.prefixes.empty() && !o.bcast) return "ERR PREFIX option requires BCAST mode to be enabled";
  if (o.optin && o.optout) return "ERR You can't use both OPTIN and OPTOUT options";
  if ((o.optin || o.optout) && o.bcast) return "ERR OPTIN and OPTOUT are not compatible with BCAST";
  absl::MutexLock lock(&mu_);
  ClientState::TrackingMode& t = c.tracking;
  if (t.on) {
    if (t.bcast != o.bcast) {
      return "ERR You can't switch BCAST mode on/off before disabling tracking for this "
             "client, and then re-enabling it with a different mode.";
    }
    if ((t.optin && o.optout) || (t.optout && o.optin)) {
      return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
             "client, and then re-enabling it with a different mode.";
    }
  }
  if (o.redirect != 0) {
    if (o.redirect == c.id) return "ERR A client can only redirect to a different client";
    std::lock_guard clients(server_->clients_mu);
    if (!server_->clients.contains(o.redirect)) {
      return "ERR The client ID you want redirect to does not exist";
    }
  }
  if (o.bcast) {
    // A client's prefixes must not overlap one another: each new one is checked against
    // those it has, then against the other new ones, as Redis checks.
    for (size_t i = 0; i < o.prefixes.size(); ++i) {
      const std::string& p = o.prefixes[i];
      std::vector<std::string_view> others(t.prefixes.begin(), t.prefixes.end());
      for (size_t j = 0; j < o.prefixes.size(); ++j) {
        if (j != i) others.push_back(o.prefixes[j]);
      }
      for (std::string_view q : others) {
        if (p != q && Overlap(p, q)) {
          return fmt::format(
              "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single "
              "client must not overlap.",
              p, q);
        }
      }
    }
    std::vector<std::string> all = t.prefixes;
    all.insert(all.end(), o.prefixes.begin(), o.prefixes.end());
    if (all.empty()) all.push_back("");  // BCAST without a prefix: every key
    t.prefixes.clear();
    for (const std::string& p : all) {
      if (std::find(t.prefixes.begin(), t.prefixes.end(), p) != t.prefixes.end()) continue;
      t.prefixes.push_back(p);
      prefixes_[p].insert(c.id);
    }
  }
  if (!observing_) {
    // From the first client on: the keyspace tells this registry of changes (~Server
    // stops it before the registry goes).
    observing_ = true;
    server_->service->SetKeyObserver(this);
  }
  t.on = true;
  t.bcast = o.bcast;
  t.optin = o.optin;
  t.optout = o.optout;
  t.redirect = o.redirect;
  t.broken_redirect = false;
  clients_[c.id] = &c;
  Reactivate();
  return {};
}

void Tracking::Disable(ClientState& c) {
  absl::MutexLock lock(&mu_);
  ClientState::TrackingMode& t = c.tracking;
  if (!t.on) return;
  for (const std::string& p : t.prefixes) {
    auto it = prefixes_.find(p);
    if (it == prefixes_.end()) continue;
    it->second.erase(c.id);
    if (it->second.empty()) prefixes_.erase(it);
  }
  // Its remembered keys stay until they change (as in Redis): an id no longer tracking is
  // skipped then.
  t = ClientState::TrackingMode();
  clients_.erase(c.id);
  Reactivate();
}

void Tracking::Remember(ClientState& c, const std::vector<std::string_view>& keys) {
  absl::MutexLock lock(&mu_);
  const ClientState::TrackingMode& t = c.tracking;
  if (!t.on || t.bcast) return;
  if (t.optin && c.caching != 1) return;
  if (t.optout && c.caching == 0) return;
  for (std::string_view key : keys) {
    if (keys_[std::string(key)].insert(c.id).second) ++items_;
  }
  EvictLocked();
}

void Tracking::Changed(std::string_view key) {
  absl::MutexLock lock(&mu_);
  if (auto it = keys_.find(std::string(key)); it != keys_.end()) {
    InvalidateLocked(it->first, /*now=*/false);
  }
  // Every prefix is looked at: clients use a few, and only while some client broadcasts.
  for (const auto& [prefix, ids] : prefixes_) {
    if (key.starts_with(prefix)) gathered_[prefix].emplace_back(key);
  }
}

void Tracking::Published() {
  absl::MutexLock lock(&mu_);
  if (flushed_) {
    for (const auto& [id, client] : clients_) TellLocked(client, nullptr);
    flushed_ = false;
  }
  for (const auto& [id, key] : owed_) {
    auto c = clients_.find(id);
    if (c == clients_.end() || c->second->tracking.bcast) continue;
    const std::vector<std::string_view> views{key};
    TellLocked(c->second, &views);
  }
  owed_.clear();
  for (const auto& [prefix, keys] : gathered_) {
    auto it = prefixes_.find(prefix);
    if (it == prefixes_.end()) continue;
    const std::vector<std::string_view> views(keys.begin(), keys.end());
    for (uint64_t id : it->second) {
      if (auto c = clients_.find(id); c != clients_.end()) TellLocked(c->second, &views);
    }
  }
  gathered_.clear();
  Reactivate();
}

void Tracking::ChangedAll() {
  absl::MutexLock lock(&mu_);
  flushed_ = true;  // told at the group's end, before what the group changed after it
  keys_.clear();
  items_ = 0;
  owed_.clear();
  gathered_.clear();
}

void Tracking::InvalidateLocked(const std::string& key, bool now) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  const absl::flat_hash_set<uint64_t> ids = std::move(it->second);
  const std::string name = std::move(it->first);
  keys_.erase(it);
  items_ -= ids.size();
  for (uint64_t id : ids) {
    if (!now) {
      owed_.emplace_back(id, name);
      continue;
    }
    auto c = clients_.find(id);
    if (c == clients_.end() || c->second->tracking.bcast) continue;
    const std::vector<std::string_view> views{name};
    TellLocked(c->second, &views);
  }
  Reactivate();
}

void Tracking::EvictLocked() {
  const uint64_t max = max_keys_.load(std::memory_order_relaxed);
  // Told at once, before the reply of the read that overflowed the table (as in Redis).
  while (max != 0 && keys_.size() > max) InvalidateLocked(keys_.begin()->first, /*now=*/true);
}

void Tracking::SetMaxKeys(uint64_t n) {
  absl::MutexLock lock(&mu_);
  max_keys_.store(n, std::memory_order_relaxed);
  EvictLocked();
}

void Tracking::TellLocked(ClientState* c, const std::vector<std::string_view>* key) {
  ClientState* target = c;
  std::shared_ptr<ClientState> held;
  const bool redirecting = c->tracking.redirect != 0;
  if (redirecting) {
    {
      std::lock_guard clients(server_->clients_mu);
      auto it = server_->clients.find(c->tracking.redirect);
      if (it != server_->clients.end()) held = it->second;
    }
    if (!held) {
      if (!c->tracking.broken_redirect) {
        c->tracking.broken_redirect = true;
        if (c->protocol >= 3 && c->push) {
          const std::string id = std::to_string(c->tracking.redirect);
          c->push(fmt::format(">2\r\n$21\r\ntracking-redir-broken\r\n:{}\r\n", id));
        }
      }
      return;
    }
    target = held.get();
  }
  const int protocol = target->protocol;
  std::string frame;
  if (protocol >= 3) {
    frame = ">2\r\n$10\r\ninvalidate\r\n" + Payload(key, 3);
  } else if (redirecting && target->pubsub_mode.load(std::memory_order_relaxed)) {
    frame = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + Payload(key, 2);
  } else {
    return;  // RESP2 on its own connection cannot be told (as in Redis)
  }
  if (target->push) target->push(frame);
}

void Tracking::Reactivate() {
  active.store(
      !clients_.empty() || !keys_.empty() || !owed_.empty() || !gathered_.empty() || flushed_,
      std::memory_order_relaxed);
}

Tracking::Counts Tracking::counts() const {
  absl::MutexLock lock(&mu_);
  return {keys_.size(), items_, prefixes_.size(), clients_.size()};
}

}  // namespace devstate::resp
