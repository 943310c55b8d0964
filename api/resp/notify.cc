#include "api/resp/notify.h"

#include <utility>

namespace devstate::resp {
namespace {

// The events a command raises: `set` for a key it sets, `removed` (up to two) for a key it
// removes, with their classes.
struct CommandEvents {
  std::string_view command;
  uint32_t set_class;
  std::string_view set;
  uint32_t removed_class;
  std::string_view removed;
  std::string_view removed_after = {};  // a second event, class generic ("del")
  bool removes_first = false;           // RENAME: rename_from before rename_to
  std::string_view set_persisted = {};  // instead of `set` when the record has no expiry
  bool expiry_follows = false;          // SET EX and kin: an "expire" after `set`
  // LMOVE: the changes are its source, then its destination (one change when they are
  // the same key). The destination raises `moved_to`, then the source `set` (and "del"
  // once it is empty), as Redis raises them.
  std::string_view moved_to = {};
  bool source_first = false;  // SMOVE: the source's events, then the destination's
};

constexpr uint32_t kG = Notifier::kGeneric;
constexpr uint32_t kS = Notifier::kString;
constexpr uint32_t kH = Notifier::kHash;
constexpr uint32_t kL = Notifier::kList;
constexpr uint32_t kT = Notifier::kSet;  // 's' (kS is the string class)
constexpr uint32_t kZ = Notifier::kZset;
constexpr uint32_t kD = Notifier::kModule;  // RedisJSON's events are module events

constexpr CommandEvents kEvents[] = {
    {"set", kS, "set", kG, "del", {}, false, {}, true},
    {"setnx", kS, "set", kG, "del", {}, false, {}, true},
    {"setex", kS, "set", kG, "del", {}, false, {}, true},
    {"psetex", kS, "set", kG, "del", {}, false, {}, true},
    {"getset", kS, "set", kG, "del"},
    {"mset", kS, "set", kG, "del", {}, false, {}, true},
    {"msetnx", kS, "set", kG, "del", {}, false, {}, true},
    {"getex", kG, "expire", kG, "del", {}, false, "persist"},
    {"getdel", kG, "", kG, "del"},
    {"incr", kS, "incrby", kG, "del"},
    {"decr", kS, "decrby", kG, "del"},
    {"incrby", kS, "incrby", kG, "del"},
    {"decrby", kS, "decrby", kG, "del"},
    {"incrbyfloat", kS, "incrbyfloat", kG, "del"},
    {"append", kS, "append", kG, "del"},
    {"setrange", kS, "setrange", kG, "del"},
    {"setbit", kS, "setbit", kG, "del"},
    {"bitop", kS, "set", kG, "del"},
    {"bitfield", kS, "setbit", kG, "del"},
    {"pfadd", kS, "pfadd", kG, "del"},
    {"pfmerge", kS, "pfadd", kG, "del"},  // a mass PFADD, as Redis says
    {"del", kG, "", kG, "del"},
    {"unlink", kG, "", kG, "del"},
    {"expire", kG, "expire", kG, "del"},
    {"pexpire", kG, "expire", kG, "del"},
    {"expireat", kG, "expire", kG, "del"},
    {"pexpireat", kG, "expire", kG, "del"},
    {"persist", kG, "persist", kG, "del"},
    {"rename", kG, "rename_to", kG, "rename_from", {}, true},
    {"renamenx", kG, "rename_to", kG, "rename_from", {}, true},
    {"copy", kG, "copy_to", kG, "del"},
    {"restore", kG, "restore", kG, "del"},
    {"hset", kH, "hset", kH, "hdel", "del"},
    {"hmset", kH, "hset", kH, "hdel", "del"},
    {"hsetnx", kH, "hset", kH, "hdel", "del"},
    {"hdel", kH, "hdel", kH, "hdel", "del"},
    {"hincrby", kH, "hincrby", kH, "hdel", "del"},
    {"hincrbyfloat", kH, "hincrbyfloat", kH, "hdel", "del"},
    {"lpush", kL, "lpush", kG, "del"},
    {"rpush", kL, "rpush", kG, "del"},
    {"lpushx", kL, "lpush", kG, "del"},
    {"rpushx", kL, "rpush", kG, "del"},
    {"lpop", kL, "lpop", kL, "lpop", "del"},
    {"rpop", kL, "rpop", kL, "rpop", "del"},
    {"lset", kL, "lset", kG, "del"},
    {"ltrim", kL, "ltrim", kL, "ltrim", "del"},
    {"lrem", kL, "lrem", kL, "lrem", "del"},
    {"linsert", kL, "linsert", kG, "del"},
    {"lmove left left", kL, "lpop", kL, "lpop", "del", false, {}, false, "lpush"},
    {"lmove left right", kL, "lpop", kL, "lpop", "del", false, {}, false, "rpush"},
    {"lmove right left", kL, "rpop", kL, "rpop", "del", false, {}, false, "lpush"},
    {"lmove right right", kL, "rpop", kL, "rpop", "del", false, {}, false, "rpush"},
    {"sadd", kT, "sadd", kG, "del"},
    {"srem", kT, "srem", kT, "srem", "del"},
    {"spop", kT, "spop", kT, "spop", "del"},
    {"sinterstore", kT, "sinterstore", kG, "del"},
    {"sunionstore", kT, "sunionstore", kG, "del"},
    {"sdiffstore", kT, "sdiffstore", kG, "del"},
    {"smove", kT, "srem", kT, "srem", "del", false, {}, false, "sadd", true},
    {"sort", kL, "sortstore", kG, "del"},
    {"zadd", kZ, "zadd", kG, "del"},
    {"zincrby", kZ, "zincr", kG, "del"},
    {"zrem", kZ, "zrem", kZ, "zrem", "del"},
    {"zpopmin", kZ, "zpopmin", kZ, "zpopmin", "del"},
    {"zpopmax", kZ, "zpopmax", kZ, "zpopmax", "del"},
    {"zunionstore", kZ, "zunionstore", kG, "del"},
    {"zinterstore", kZ, "zinterstore", kG, "del"},
    {"georadiusstore", kZ, "georadiusstore", kG, "del"},
    {"geosearchstore", kZ, "geosearchstore", kG, "del"},
    {"zdiffstore", kZ, "zdiffstore", kG, "del"},
    {"zrangestore", kZ, "zrangestore", kG, "del"},
    {"zremrangebyrank", kZ, "zremrangebyrank", kZ, "zremrangebyrank", "del"},
    {"zremrangebyscore", kZ, "zremrangebyscore", kZ, "zremrangebyscore", "del"},
    {"zremrangebylex", kZ, "zremrangebylex", kZ, "zremrangebylex", "del"},
    {"json.set", kD, "json.set", kG, "del"},
    {"json.del", kD, "json.del", kD, "json.del"},
    {"json.forget", kD, "json.del", kD, "json.del"},
    {"json.numincrby", kD, "json.numincrby", kG, "del"},
    {"json.nummultby", kD, "json.nummultby", kG, "del"},
    {"json.strappend", kD, "json.strappend", kG, "del"},
    {"json.arrappend", kD, "json.arrappend", kG, "del"},
    {"json.arrinsert", kD, "json.arrinsert", kG, "del"},
    {"json.arrpop", kD, "json.arrpop", kG, "del"},
    {"json.arrtrim", kD, "json.arrtrim", kG, "del"},
    {"json.clear", kD, "json.clear", kG, "del"},
    {"json.toggle", kD, "json.toggle", kG, "del"},
};

const CommandEvents* Find(std::string_view command) {
  for (const CommandEvents& e : kEvents) {
    if (e.command == command) return &e;
  }
  return nullptr;
}

// The group's view, noting what passes through it.
class RecordingView final : public KeyView {
 public:
  RecordingView(KeyView& inner, ChangeLog& log) : inner_(inner), log_(log) {}

  RecordPtr Get(std::string_view key) override { return inner_.Get(key); }
  void Put(std::string_view key, RecordPtr record) override {
    const RecordPtr old = inner_.Get(key);
    const bool created = log_.track_new && !old;
    const bool kept =
        old && record->expire_at_ms() != 0 && old->expire_at_ms() == record->expire_at_ms();
    inner_.Put(key, record);
    log_.changes.push_back({std::string(key), std::move(record), created, kept});
  }
  void Patch(std::string_view key, RecordPtr record, std::span<const FieldOp> ops) override {
    const bool created = log_.track_new && !inner_.Get(key);
    inner_.Patch(key, record, ops);
    log_.changes.push_back({std::string(key), std::move(record), created});
  }
  void Delete(std::string_view key) override {
    if (!inner_.Get(key)) return;
    inner_.Delete(key);
    log_.changes.push_back({std::string(key), nullptr, false});
  }
  void Clear() override { inner_.Clear(); }  // FLUSHALL raises no key's event, as in Redis
  int64_t NowMs() const override { return inner_.NowMs(); }
  uint64_t Wait(Waiter waiter) override { return inner_.Wait(std::move(waiter)); }
  bool Unwait(uint64_t id) override { return inner_.Unwait(id); }

 private:
  KeyView& inner_;
  ChangeLog& log_;
};

}  // namespace

bool RaisesEvents(std::string_view command) { return Find(command) != nullptr; }

Mutation Recorded(Mutation m, std::shared_ptr<ChangeLog> log) {
  const size_t weight = m.weight;
  return Mutation::Txn(
      [m = std::move(m), log = std::move(log)](KeyView& view) mutable {
        RecordingView recording(view, *log);
        ApplyTo(m, recording);
      },
      weight);
}

void EventsOf(std::string_view command, const std::vector<KeyChange>& changes,
              std::vector<KeyEvent>* out) {
  const CommandEvents* e = Find(command);
  if (e == nullptr) return;
  auto removed = [&](const KeyChange& c) {
    out->push_back({e->removed_class, e->removed, c.key});
    if (!e->removed_after.empty()) out->push_back({kG, e->removed_after, c.key});
  };
  auto set = [&](const KeyChange& c) {
    if (c.created) out->push_back({Notifier::kNew, "new", c.key});
    const bool expires = c.record->expire_at_ms() != 0;
    const std::string_view event =
        !expires && !e->set_persisted.empty() ? e->set_persisted : e->set;
    if (!event.empty()) out->push_back({e->set_class, event, c.key});
    if (e->expiry_follows && expires && !c.expiry_kept) out->push_back({kG, "expire", c.key});
  };
  if (!e->moved_to.empty()) {
    // LMOVE: one change when the source is the destination, which raises both events.
    // SMOVE: the destination's change is absent when it held the member already.
    if (changes.empty()) return;
    const KeyChange& source = changes.front();
    const KeyChange* destination =
        changes.size() > 1 || !e->source_first ? &changes.back() : nullptr;
    auto pushed = [&] {
      if (destination == nullptr) return;
      if (changes.size() > 1 && destination->created)
        out->push_back({Notifier::kNew, "new", destination->key});
      out->push_back({e->set_class, e->moved_to, destination->key});
    };
    if (!e->source_first) pushed();
    out->push_back({e->set_class, e->set, source.key});
    if (!source.record) out->push_back({kG, "del", source.key});
    if (e->source_first) pushed();
    return;
  }
  if (e->removes_first) {
    for (const KeyChange& c : changes) {
      if (!c.record) removed(c);
    }
    for (const KeyChange& c : changes) {
      if (c.record) set(c);
    }
    return;
  }
  for (const KeyChange& c : changes) {
    if (c.record) {
      set(c);
    } else {
      removed(c);
    }
  }
}

void Send(Notifier& notifier, const std::vector<KeyEvent>& events) {
  for (const KeyEvent& e : events) notifier.Notify(e.cls, e.event, e.key);
}

}  // namespace devstate::resp
