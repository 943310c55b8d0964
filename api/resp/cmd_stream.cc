// Streams, as Redis 7.0 defines them: XADD XTRIM XDEL XLEN XRANGE XREVRANGE XREAD XSETID,
// and consumer groups: XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER) XREADGROUP
// XACK XPENDING XCLAIM XAUTOCLAIM XINFO (STREAM [FULL] GROUPS CONSUMERS). XREAD and
// XREADGROUP with BLOCK wait as the blocking pops do (api/resp/block.h): a waiting reader
// is served by the group that adds what it waits for, and answered with that group's
// acknowledgement, so a consumer is never handed an entry a failover could lose.
//
// A stream is a composite record of scored rows (service/stream_value.h): XADD journals
// its entry and the stream's counters; XREADGROUP the pending rows it adds and the
// group's row; XACK the pending rows it removes. Within one commit group later writes
// reuse the group's copy of the rows, as a hash's do.
//
// The keyspace events are Redis's (xadd xtrim xdel xsetid xgroup-*), raised from what each
// write did and sent once it is committed; inside an EXEC, with the EXEC's.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "api/resp/block.h"
#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/stream_value.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kInvalidIdError =
    "ERR Invalid stream ID specified as stream command argument";
// Entries per node of Redis's stream when stream-node-max-entries is 0 (nodes bounded by
// bytes only), and for XINFO's radix tree figures.
constexpr int64_t kNodeEntries = 100;
// XREAD or XREADGROUP served after waiting, with no COUNT: at most this many entries a
// stream, as Redis's XREAD_BLOCKED_DEFAULT_COUNT.
constexpr int64_t kBlockedDefaultCount = 1000;

// An entry copied out of its record, for a reply written after the commit.
struct OutEntry {
  StreamId id;
  std::vector<std::string> fields;
  bool deleted = false;  // a pending entry no longer in the stream: its fields are null
};

OutEntry Copy(StreamId id, const StreamFields& fields) {
  return {id, std::vector<std::string>(fields.begin(), fields.end()), false};
}

void WriteEntry(ReplyWriter& w, StreamId id, const StreamFields& fields) {
  w.Array(2);
  w.Bulk(id.ToString());
  w.Array(fields.size());
  for (std::string_view s : fields) w.Bulk(s);
}

void WriteEntry(ReplyWriter& w, const OutEntry& e) {
  w.Array(2);
  w.Bulk(e.id.ToString());
  if (e.deleted) return w.NullArray();
  w.Array(e.fields.size());
  for (const std::string& s : e.fields) w.Bulk(s);
}

// Where a write's keyspace events go once it is committed: the notifier, or inside an
// EXEC the EXEC's list (sent with its commit).
struct EventSink {
  Notifier* notifier;
  std::vector<KeyEvent>* exec;
  void Raise(std::vector<KeyEvent>& events) const {
    if (exec != nullptr) {
      for (KeyEvent& e : events) exec->push_back(std::move(e));
    } else {
      Send(*notifier, events);
    }
    events.clear();
  }
};
EventSink SinkOf(Call& call) {
  return {&call.service().notifier(), call.view != nullptr ? call.exec_events : nullptr};
}

KeyEvent StreamEvent(std::string_view event, std::string_view key) {
  return {Notifier::kStream, event, std::string(key)};
}

// What a stream write decided, for its reply.
struct Outcome {
  std::string error;
  bool null = false;
  int64_t integer = 0;
  std::string id;
  std::vector<OutEntry> entries;
  std::vector<StreamId> ids;
  std::vector<KeyEvent> events;
};

// Runs `edit(stream, out, now)` on the stream at `key` inside the commit group, on the
// group's clock; when the key is absent the stream is a new, empty one if `create`, else
// null. The edit decides before it changes anything; its events are raised once committed.
template <typename Edit, typename Reply>
void EditStream(Call& call, std::string key, bool create, Edit edit, Reply reply) {
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Txn(
      [key = std::move(key), create, edit = std::move(edit), out](KeyView& view) mutable {
        bool reusable = false;
        RecordPtr current = view.GetForEdit(key, &reusable);
        if (current && current->type() != kStreamRecordType) {
          out->error = kWrongTypeError;
          return;
        }
        if (!current && !create) {
          edit(nullptr, *out, view.NowMs());
          return;
        }
        StreamEdit stream(current, reusable);
        edit(&stream, *out, view.NowMs());
        if (!out->error.empty()) return;
        if (!current && stream.changed())
          out->events.insert(out->events.begin(), {Notifier::kNew, "new", key});
        ApplyChange(view, key, stream.Finish());
      });
  Commit(call, {std::move(m)},
         [out, reply = std::move(reply), sink = SinkOf(call)](ReplyWriter& w) {
           if (!out->error.empty()) return w.Error(out->error);
           reply(w, *out);
           sink.Raise(out->events);
         });
}

// --- Trimming (XADD, XTRIM) ---

struct TrimArgs {
  enum class Strategy : uint8_t { kNone, kMaxLen, kMinId };
  Strategy strategy = Strategy::kNone;
  bool approx = false;
  int64_t maxlen = 0;
  StreamId minid;
  int64_t limit = 0;                    // 0: none
  int64_t node_entries = kNodeEntries;  // stream-node-max-entries
  // XADD only.
  bool nomkstream = false;
  bool id_given = false;
  bool seq_given = true;
  StreamId id;
};

// Redis's streamParseAddOrTrimArgsOrReply: returns the index of XADD's id (XTRIM: past the
// last argument), or 0 with the error replied.
size_t ParseTrimArgs(Call& call, bool xadd, TrimArgs* a) {
  const auto& args = call.args;
  bool limit_given = false;
  a->node_entries = call.server.stream_node_max_entries.load();
  size_t i = 2;
  auto error = [&](std::string_view e) {
    call.reply.Error(e);
    return size_t{0};
  };
  for (; i < args.size(); ++i) {
    const size_t more = args.size() - 1 - i;
    const std::string& opt = args[i];
    if (xadd && opt == "*") break;
    if ((EqualsNoCase(opt, "maxlen") || EqualsNoCase(opt, "minid")) && more > 0) {
      if (a->strategy != TrimArgs::Strategy::kNone)
        return error(
            "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
      const bool maxlen = EqualsNoCase(opt, "maxlen");
      a->approx = false;
      if (more >= 2 && (args[i + 1] == "~" || args[i + 1] == "=")) {
        a->approx = args[i + 1] == "~";
        ++i;
      }
      if (maxlen) {
        if (!ParseInt64(args[i + 1], &a->maxlen)) return error(kNotIntegerError);
        if (a->maxlen < 0) return error("ERR The MAXLEN argument must be >= 0.");
        a->strategy = TrimArgs::Strategy::kMaxLen;
      } else {
        if (!ParseStreamId(args[i + 1], 0, true, &a->minid)) return error(kInvalidIdError);
        a->strategy = TrimArgs::Strategy::kMinId;
      }
      ++i;
    } else if (EqualsNoCase(opt, "limit") && more > 0) {
      if (!ParseInt64(args[i + 1], &a->limit)) return error(kNotIntegerError);
      if (a->limit < 0) return error("ERR The LIMIT argument must be >= 0.");
      limit_given = true;
      ++i;
    } else if (xadd && EqualsNoCase(opt, "nomkstream")) {
      a->nomkstream = true;
    } else if (xadd) {
      if (!ParseStreamId(opt, 0, true, &a->id, &a->seq_given)) return error(kInvalidIdError);
      a->id_given = true;
      break;
    } else {
      return error(kSyntaxError);
    }
  }
  if (a->limit != 0 && a->strategy == TrimArgs::Strategy::kNone)
    return error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
  if (!xadd && a->strategy == TrimArgs::Strategy::kNone)
    return error("ERR syntax error, XTRIM must be called with a trimming strategy");
  if (limit_given) {
    if (!a->approx)
      return error("ERR syntax error, LIMIT cannot be used without the special ~ option");
  } else if (a->approx) {
    // As Redis: at most 100 nodes' worth of work (10000 entries when nodes are unbounded),
    // and 1000000 at most.
    const int64_t n = a->node_entries;
    a->limit = n <= 0 ? 10000 : n > 10000 ? 1000000 : 100 * n;
  } else {
    a->limit = 0;
  }
  return i;
}

// Trims `s` as `a` says; returns the entries removed. Redis keeps a stream in nodes of
// stream-node-max-entries and trims whole nodes first; with `~` only whole nodes, at most
// LIMIT entries' worth. devstate keeps no nodes: it trims in the nodes Redis would have
// made, taking an entry's node from its ordinal (the live entries being the last ones
// added), which is exactly Redis's for a stream only appended to.
int64_t Trim(StreamEdit& s, const TrimArgs& a) {
  const bool by_len = a.strategy == TrimArgs::Strategy::kMaxLen;
  const auto length = static_cast<int64_t>(s.length());
  if (length == 0 || (by_len && length <= a.maxlen) || (!by_len && s.FirstId() >= a.minid))
    return 0;
  const int64_t node = a.node_entries > 0 ? a.node_entries : kNodeEntries;
  int64_t ordinal = std::max<int64_t>(0, static_cast<int64_t>(s.counters().entries_added) - length);
  int64_t node_end = (ordinal / node + 1) * node;
  // A `~` trim by length that cannot remove the first node removes nothing: known without
  // walking it (an XADD with MAXLEN ~ on a full stream, every time).
  if (a.approx && by_len && length - std::min(node_end - ordinal, length) < a.maxlen) return 0;
  std::vector<StreamId> chunk;
  std::vector<StreamId> removed;
  // Decides for the node in `chunk`: false once trimming stops.
  auto node_done = [&] {
    const auto deleted = static_cast<int64_t>(removed.size());
    if (by_len && length - deleted <= a.maxlen) return false;
    const auto n = static_cast<int64_t>(chunk.size());
    if (a.limit != 0 && deleted + n > a.limit) return false;
    if (by_len ? length - deleted - n >= a.maxlen : chunk.back() < a.minid) {
      removed.insert(removed.end(), chunk.begin(), chunk.end());
      return true;
    }
    if (a.approx) return false;
    for (StreamId id : chunk) {
      if (by_len ? length - static_cast<int64_t>(removed.size()) <= a.maxlen : id >= a.minid) break;
      removed.push_back(id);
    }
    return false;
  };
  bool stopped = false;
  s.RangeIds({}, StreamId::Max(), false, [&](StreamId id) {
    if (ordinal >= node_end) {
      if (!node_done()) {
        stopped = true;
        return false;
      }
      chunk.clear();
      node_end = (ordinal / node + 1) * node;
    }
    chunk.push_back(id);
    ++ordinal;
    return true;
  });
  if (!stopped && !chunk.empty()) node_done();
  for (StreamId id : removed) s.DeleteEntry(id);
  return static_cast<int64_t>(removed.size());
}

// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
void CmdXadd(Call& call) {
  auto a = std::make_shared<TrimArgs>();
  const size_t id_at = ParseTrimArgs(call, true, a.get());
  if (id_at == 0) return;
  const size_t fields_at = id_at + 1;
  if (call.args.size() < fields_at + 2 || (call.args.size() - fields_at) % 2 == 1)
    return call.reply.Error(WrongArity("xadd"));
  if (a->id_given && a->seq_given && a->id.IsZero())
    return call.reply.Error("ERR The ID specified in XADD must be greater than 0-0");
  std::vector<std::string> fields(std::make_move_iterator(call.args.begin() + fields_at),
                                  std::make_move_iterator(call.args.end()));
  const std::string key = call.args[1];
  EditStream(
      call, key, !a->nomkstream,
      [a, fields = std::move(fields), key](StreamEdit* s, Outcome& out, int64_t now) {
        if (s == nullptr) {
          out.null = true;
          return;
        }
        StreamCounters& c = s->counters();
        if (c.last_id == StreamId::Max()) {
          out.error = "ERR The stream has exhausted the last possible ID, unable to add more items";
          return;
        }
        StreamId id;
        if (!a->id_given) {
          if (static_cast<uint64_t>(now) > c.last_id.ms) {
            id = {static_cast<uint64_t>(now), 0};
          } else {
            id = c.last_id;
            id.Incr();
          }
        } else if (a->seq_given) {
          id = a->id;
        } else if (a->id.ms == c.last_id.ms) {
          if (c.last_id.seq == UINT64_MAX)
            id = {};  // fails below, as in Redis
          else
            id = {c.last_id.ms, c.last_id.seq + 1};
        } else {
          id = {a->id.ms, 0};
        }
        if (id <= c.last_id) {
          out.error =
              "ERR The ID specified in XADD is equal or smaller than the target stream top item";
          return;
        }
        s->AddEntry(id, fields);
        c.last_id = id;
        ++c.entries_added;
        out.id = id.ToString();
        out.events.push_back(StreamEvent("xadd", key));
        if (a->strategy != TrimArgs::Strategy::kNone && Trim(*s, *a) > 0)
          out.events.push_back(StreamEvent("xtrim", key));
      },
      [](ReplyWriter& w, const Outcome& out) { out.null ? w.Null() : w.Bulk(out.id); });
}

// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
void CmdXtrim(Call& call) {
  auto a = std::make_shared<TrimArgs>();
  if (ParseTrimArgs(call, false, a.get()) == 0) return;
  EditStream(
      call, call.args[1], false,
      [a, key = call.args[1]](StreamEdit* s, Outcome& out, int64_t) {
        if (s == nullptr) return;
        out.integer = Trim(*s, *a);
        if (out.integer > 0) out.events.push_back(StreamEvent("xtrim", key));
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// Parses args[from..] as strict ids; false (and the error replied) at the first that is
// not one.
bool ParseIds(Call& call, size_t from, std::vector<StreamId>* ids) {
  for (size_t i = from; i < call.args.size(); ++i) {
    StreamId id;
    if (!ParseStreamId(call.args[i], 0, true, &id)) {
      call.reply.Error(kInvalidIdError);
      return false;
    }
    ids->push_back(id);
  }
  return true;
}

// XDEL key id [id ...]
void CmdXdel(Call& call) {
  std::vector<StreamId> ids;
  if (!ParseIds(call, 2, &ids)) return;
  EditStream(
      call, call.args[1], false,
      [ids = std::move(ids), key = call.args[1]](StreamEdit* s, Outcome& out, int64_t) {
        if (s == nullptr) return;
        for (StreamId id : ids) {
          if (!s->DeleteEntry(id)) continue;
          ++out.integer;
          if (id > s->counters().max_deleted) s->counters().max_deleted = id;
        }
        if (out.integer > 0) out.events.push_back(StreamEvent("xdel", key));
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// XLEN key
void CmdXlen(Call& call) {
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kStreamRecordType, &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(StreamView(*r).length()) : 0);
}

// An interval's bound as Redis's streamParseIntervalIDOrReply reads it: "(" makes it
// exclusive (then moved to the next id inward). False (and the error replied) when invalid.
bool ParseBound(Call& call, std::string_view text, bool start, StreamId* id) {
  const bool exclusive = text.size() > 1 && text[0] == '(';
  if (exclusive) text.remove_prefix(1);
  if (!ParseStreamId(text, start ? 0 : UINT64_MAX, exclusive, id)) {
    call.reply.Error(kInvalidIdError);
    return false;
  }
  if (exclusive && !(start ? id->Incr() : id->Decr())) {
    call.reply.Error(start ? "ERR invalid start ID for the interval"
                           : "ERR invalid end ID for the interval");
    return false;
  }
  return true;
}

// XRANGE key start end [COUNT n], XREVRANGE key end start [COUNT n]
void Range(Call& call, bool reverse) {
  StreamId start;
  StreamId end;
  if (!ParseBound(call, call.args[reverse ? 3 : 2], true, &start)) return;
  if (!ParseBound(call, call.args[reverse ? 2 : 3], false, &end)) return;
  int64_t count = -1;
  for (size_t j = 4; j < call.args.size(); ++j) {
    if (EqualsNoCase(call.args[j], "count") && j + 1 < call.args.size()) {
      if (!ParseInt64(call.args[++j], &count)) return call.reply.Error(kNotIntegerError);
      if (count < 0) count = 0;
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kStreamRecordType, &r)) return;
  if (!r) return call.reply.Array(0);
  if (count == 0) return call.reply.NullArray();
  std::vector<std::pair<StreamId, StreamFields>> found;
  StreamView(*r).Range(start, end, reverse, [&](StreamId id, const StreamFields& f) {
    found.emplace_back(id, f);
    return count < 0 || static_cast<int64_t>(found.size()) < count;
  });
  call.reply.Array(found.size());
  for (const auto& e : found) WriteEntry(call.reply, e.first, e.second);
}

void CmdXrange(Call& call) { Range(call, false); }
void CmdXrevrange(Call& call) { Range(call, true); }

// --- XREAD, XREADGROUP ---

struct ReadArgs {
  bool group_mode = false;
  std::string group;
  std::string consumer;
  int64_t count = 0;      // 0: no limit
  int64_t block_ms = -1;  // -1: does not block
  bool noack = false;
  bool group_given = false;  // GROUP came (its names may be empty)
  std::vector<std::string> keys;
  std::vector<std::string> ids;  // as given: an id, "$" or ">"
};

// Redis's xreadCommand argument loop; false (and the error replied) when invalid.
bool ParseRead(Call& call, bool group_mode, ReadArgs* a) {
  a->group_mode = group_mode;
  const auto& args = call.args;
  size_t streams_at = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    const size_t more = args.size() - 1 - i;
    const std::string& o = args[i];
    if (EqualsNoCase(o, "block") && more > 0) {
      ++i;
      if (!ParseInt64(args[i], &a->block_ms)) {
        call.reply.Error("ERR timeout is not an integer or out of range");
        return false;
      }
      if (a->block_ms < 0) {
        call.reply.Error("ERR timeout is negative");
        return false;
      }
    } else if (EqualsNoCase(o, "count") && more > 0) {
      ++i;
      if (!ParseInt64(args[i], &a->count)) {
        call.reply.Error(kNotIntegerError);
        return false;
      }
      if (a->count < 0) a->count = 0;
    } else if (EqualsNoCase(o, "streams") && more > 0) {
      streams_at = i + 1;
      if ((args.size() - streams_at) % 2 != 0) {
        call.reply.Error(
            "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
            "specified.");
        return false;
      }
      break;
    } else if (EqualsNoCase(o, "group") && more >= 2) {
      if (!group_mode) {
        call.reply.Error(
            "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
        return false;
      }
      a->group_given = true;
      a->group = args[i + 1];
      a->consumer = args[i + 2];
      i += 2;
    } else if (EqualsNoCase(o, "noack")) {
      if (!group_mode) {
        call.reply.Error(
            "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
        return false;
      }
      a->noack = true;
    } else {
      call.reply.Error(kSyntaxError);
      return false;
    }
  }
  if (streams_at == 0) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  if (group_mode && !a->group_given) {
    call.reply.Error("ERR Missing GROUP option for XREADGROUP");
    return false;
  }
  const size_t n = (args.size() - streams_at) / 2;
  a->keys.assign(args.begin() + static_cast<ptrdiff_t>(streams_at),
                 args.begin() + static_cast<ptrdiff_t>(streams_at + n));
  a->ids.assign(args.begin() + static_cast<ptrdiff_t>(streams_at + n), args.end());
  return true;
}

// One read's state, from its first try to its reply (a blocked read's tries run on the
// committing thread; the reply after the pipeline answers, which orders them).
struct ReadState {
  ReadArgs args;
  bool resolved = false;
  std::vector<StreamId> after;  // serve entries after these
  std::vector<bool> new_only;   // XREADGROUP ">"
  std::string error;
  std::vector<std::pair<std::string, std::vector<OutEntry>>> served;
  std::vector<KeyEvent> events;
};

void WriteServed(ReplyWriter& w, const ReadState& st) {
  if (!st.error.empty()) return w.Error(st.error);
  if (st.served.empty()) return w.NullArray();
  if (w.protocol() >= 3) {
    w.Map(st.served.size());
  } else {
    w.Array(st.served.size());
  }
  for (const auto& [key, entries] : st.served) {
    if (w.protocol() < 3) w.Array(2);
    w.Bulk(key);
    w.Array(entries.size());
    for (const OutEntry& e : entries) WriteEntry(w, e);
  }
}

// The entries of `v` after `after`, at most `count` (0: all).
std::vector<OutEntry> EntriesAfter(const StreamView& v, StreamId after, int64_t count) {
  std::vector<OutEntry> out;
  if (!after.Incr()) return out;
  v.Range(after, StreamId::Max(), false, [&](StreamId id, const StreamFields& f) {
    out.push_back(Copy(id, f));
    return count == 0 || static_cast<int64_t>(out.size()) < count;
  });
  return out;
}

// XREAD's try: resolves the ids on the first ("$": the stream's last id now), then serves
// every stream with entries after its id. True when decided (served, or an error).
template <typename Get>
bool TryRead(ReadState& st, Get get, bool woken) {
  if (!st.resolved) {
    for (size_t i = 0; i < st.args.keys.size(); ++i) {
      RecordPtr r = get(st.args.keys[i]);
      if (r && r->type() != kStreamRecordType) {
        st.error = kWrongTypeError;
        return true;
      }
      const std::string& arg = st.args.ids[i];
      StreamId id;
      if (arg == "$") {
        if (r) id = StreamView(*r).counters().last_id;
      } else if (arg == ">") {
        st.error =
            "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
            "<consumer> option.";
        return true;
      } else if (!ParseStreamId(arg, 0, true, &id)) {
        st.error = kInvalidIdError;
        return true;
      }
      st.after.push_back(id);
    }
    st.resolved = true;
  }
  const int64_t count = woken && st.args.count == 0 ? kBlockedDefaultCount : st.args.count;
  for (size_t i = 0; i < st.args.keys.size(); ++i) {
    RecordPtr r = get(st.args.keys[i]);
    if (!r || r->type() != kStreamRecordType) continue;
    const StreamView v(*r);
    if (v.length() == 0 || v.LastEntryId() <= st.after[i]) continue;
    st.served.emplace_back(st.args.keys[i], EntriesAfter(v, st.after[i], count));
  }
  return !st.served.empty();
}

// XREADGROUP's try, through the commit group's view: serves new entries (">") to the
// consumer, adding them to its pending entries unless NOACK, or its own pending entries
// after an id. True when decided.
bool TryReadGroup(ReadState& st, KeyView& view, bool woken) {
  const ReadArgs& a = st.args;
  if (!st.resolved) {
    for (size_t i = 0; i < a.keys.size(); ++i) {
      RecordPtr r = view.Get(a.keys[i]);
      if (r && r->type() != kStreamRecordType) {
        st.error = kWrongTypeError;
        return true;
      }
      if (!r || !StreamView(*r).Group(a.group)) {
        st.error = fmt::format(
            "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
            a.keys[i], a.group);
        return true;
      }
      const std::string& arg = a.ids[i];
      StreamId id;
      if (arg == "$") {
        st.error =
            "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
            "history of this consumer by specifying a proper ID, or use the > ID to get new "
            "messages. The $ ID would just return an empty result set.";
        return true;
      }
      if (arg == ">") {
        st.new_only.push_back(true);
      } else if (!ParseStreamId(arg, 0, true, &id)) {
        st.error = kInvalidIdError;
        return true;
      } else {
        st.new_only.push_back(false);
      }
      st.after.push_back(id);
    }
    st.resolved = true;
  }
  const int64_t count = woken && a.count == 0 ? kBlockedDefaultCount : a.count;
  const int64_t now = view.NowMs();
  // A key that stopped being a stream with the group answers the read with its error only
  // when no other key serves it: what another key hands out is answered, never dropped
  // behind an error (Redis serves a woken reader from the key that became ready).
  std::string lost;
  for (size_t i = 0; i < a.keys.size(); ++i) {
    const std::string& key = a.keys[i];
    bool reusable = false;
    RecordPtr r = view.GetForEdit(key, &reusable);
    if (!r || r->type() != kStreamRecordType) {
      // Resolved above, so the key was a stream: a waiter's key deleted or overwritten.
      if (lost.empty()) lost = "UNBLOCKED the stream key no longer exists";
      continue;
    }
    StreamEdit s(r, reusable);
    std::optional<StreamGroup> g = s.Group(a.group);
    if (!g) {
      if (lost.empty())
        lost = "NOGROUP the consumer group this client was blocked on no longer exists";
      continue;
    }
    if (st.new_only[i] && (s.length() == 0 || s.LastEntryId() <= g->last_id)) continue;
    if (!s.ConsumerSeen(a.group, a.consumer))
      st.events.push_back(StreamEvent("xgroup-createconsumer", key));
    s.PutConsumer(a.group, a.consumer, now);
    std::vector<OutEntry> entries;
    if (!st.new_only[i]) {
      // The consumer's own history: its pending entries after the id.
      std::vector<StreamId> ids;
      StreamId from = st.after[i];
      if (from.Incr()) {
        s.ConsumerPendingFrom(a.group, a.consumer, from, [&](StreamId id) {
          ids.push_back(id);
          return count == 0 || static_cast<int64_t>(ids.size()) < count;
        });
      }
      for (StreamId id : ids) {
        if (auto f = s.Entry(id)) {
          entries.push_back(Copy(id, *f));
          if (std::optional<StreamPending> p = s.Pending(a.group, id)) {
            p->delivery_time = now;
            ++p->delivery_count;
            s.PutPending(a.group, *p);
          }
        } else {
          entries.push_back({id, {}, true});
        }
      }
    } else {
      entries = EntriesAfter(s, g->last_id, count);
      for (const OutEntry& e : entries) {
        if (e.id > g->last_id) {
          if (g->entries_read != -1 && !s.RangeHasTombstones(e.id, StreamId::Max())) {
            ++g->entries_read;
          } else if (s.counters().entries_added != 0) {
            g->entries_read = s.EntriesReadAt(e.id);
          }
          g->last_id = e.id;
        }
        if (!a.noack) s.PutPending(a.group, {e.id, a.consumer, now, 1});
      }
      s.PutGroup(*g);
    }
    ApplyChange(view, key, s.Finish());
    st.served.emplace_back(key, std::move(entries));
  }
  if (st.served.empty() && !lost.empty()) {
    st.error = std::move(lost);
    return true;
  }
  return !st.served.empty();
}

// XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...], and XREADGROUP GROUP g c
// [COUNT n] [BLOCK ms] [NOACK] STREAMS key [key ...] id [id ...].
void Read(Call& call, bool group_mode) {
  auto st = std::make_shared<ReadState>();
  if (!ParseRead(call, group_mode, &st->args)) return;
  const EventSink sink = SinkOf(call);
  if (st->args.block_ms >= 0 && !group_mode && !call.service().IsPrimary()) {
    // A replica: XREAD waits on the keyspace for the primary's groups (BlockRead).
    ReadBlocking b;
    b.keys = st->args.keys;
    b.timeout_ms = st->args.block_ms;
    DeviceService* service = &call.service();
    b.read = [st, service](bool woken) {
      st->served.clear();
      return TryRead(
          *st,
          [&](std::string_view k) {
            RecordPtr r = service->Get(k);
            if (r) r->Touch();
            return r;
          },
          woken);
    };
    b.reply = [st](ReplyWriter& w) { WriteServed(w, *st); };
    b.timed_out = [](ReplyWriter& w) { w.NullArray(); };
    if (BlockRead(call, std::move(b))) return;
  }
  if (st->args.block_ms >= 0) {
    Blocking b;
    b.keys = st->args.keys;
    b.timeout_ms = st->args.block_ms;
    if (group_mode) {
      b.take = [st](KeyView& view, bool woken) { return TryReadGroup(*st, view, woken); };
    } else {
      b.take = [st](KeyView& view, bool woken) {
        return TryRead(
            *st, [&](std::string_view k) { return view.Get(k); }, woken);
      };
    }
    b.reply = [st, sink](ReplyWriter& w) {
      WriteServed(w, *st);
      sink.Raise(st->events);
    };
    b.timed_out = [st, sink](ReplyWriter& w) {
      w.NullArray();
      sink.Raise(st->events);
    };
    return Block(call, std::move(b));
  }
  if (!group_mode) {
    TryRead(
        *st, [&](std::string_view k) { return Live(call, k); }, false);
    return WriteServed(call.reply, *st);
  }
  Mutation m =
      Mutation::Txn([st](KeyView& view) { TryReadGroup(*st, view, false); }, st->args.keys.size());
  Commit(call, {std::move(m)}, [st, sink](ReplyWriter& w) {
    WriteServed(w, *st);
    sink.Raise(st->events);
  });
}

void CmdXread(Call& call) { Read(call, false); }
void CmdXreadgroup(Call& call) { Read(call, true); }

// The keys of XREAD and XREADGROUP: the first half of what follows STREAMS (Redis's
// xreadGetKeys), none when the halves do not match.
void ReadKeys(const std::vector<std::string>& args, std::vector<int>* out) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (EqualsNoCase(args[i], "block") || EqualsNoCase(args[i], "count")) {
      ++i;
    } else if (EqualsNoCase(args[i], "group")) {
      i += 2;
    } else if (EqualsNoCase(args[i], "noack")) {
      continue;
    } else if (EqualsNoCase(args[i], "streams")) {
      const size_t rest = args.size() - i - 1;
      if (rest % 2 != 0) return;
      for (size_t k = 0; k < rest / 2; ++k) out->push_back(static_cast<int>(i + 1 + k));
      return;
    } else {
      return;
    }
  }
}

// Whether an XREAD or XREADGROUP may wait: with BLOCK before STREAMS.
bool ReadBlocks(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (EqualsNoCase(args[i], "streams")) return false;
    if (EqualsNoCase(args[i], "block")) return true;
  }
  return false;
}

// --- XSETID ---

// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
void CmdXsetid(Call& call) {
  StreamId id;
  if (!ParseStreamId(call.args[2], 0, true, &id)) return call.reply.Error(kInvalidIdError);
  int64_t entries_added = -1;
  StreamId max_deleted;
  for (size_t i = 3; i < call.args.size(); i += 2) {
    const bool more = i + 1 < call.args.size();
    if (EqualsNoCase(call.args[i], "entriesadded") && more) {
      if (!ParseInt64(call.args[i + 1], &entries_added)) return call.reply.Error(kNotIntegerError);
      if (entries_added < 0) return call.reply.Error("ERR entries_added must be positive");
    } else if (EqualsNoCase(call.args[i], "maxdeletedid") && more) {
      if (!ParseStreamId(call.args[i + 1], 0, true, &max_deleted))
        return call.reply.Error(kInvalidIdError);
      if (id < max_deleted)
        return call.reply.Error(
            "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  EditStream(
      call, call.args[1], false,
      [id, entries_added, max_deleted, key = call.args[1]](StreamEdit* s, Outcome& out, int64_t) {
        if (s == nullptr) {
          out.error = "ERR no such key";
          return;
        }
        if (s->length() > 0) {
          if (id < s->LastEntryId()) {
            out.error = "ERR The ID specified in XSETID is smaller than the target stream top item";
            return;
          }
          if (entries_added != -1 && static_cast<int64_t>(s->length()) > entries_added) {
            out.error =
                "ERR The entries_added specified in XSETID is smaller than the target stream "
                "length";
            return;
          }
        }
        s->counters().last_id = id;
        if (entries_added != -1) s->counters().entries_added = static_cast<uint64_t>(entries_added);
        if (!max_deleted.IsZero()) s->counters().max_deleted = max_deleted;
        out.events.push_back(StreamEvent("xsetid", key));
      },
      [](ReplyWriter& w, const Outcome&) { w.Ok(); });
}

// --- XGROUP ---

std::string SubcommandSyntaxError(Call& call) {
  return fmt::format(
      "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
      call.args[1]);
}

// The options after XGROUP CREATE's and SETID's id: MKSTREAM (CREATE), ENTRIESREAD n.
// False (and the error replied) when invalid.
bool ParseGroupOptions(Call& call, bool create, bool* mkstream, int64_t* entries_read) {
  for (size_t i = 5; i < call.args.size();) {
    if (create && EqualsNoCase(call.args[i], "mkstream")) {
      *mkstream = true;
      ++i;
    } else if (EqualsNoCase(call.args[i], "entriesread") && i + 1 < call.args.size()) {
      if (!ParseInt64(call.args[i + 1], entries_read)) {
        call.reply.Error(kNotIntegerError);
        return false;
      }
      if (*entries_read < 0 && *entries_read != -1) {
        call.reply.Error("ERR value for ENTRIESREAD must be positive or -1");
        return false;
      }
      i += 2;
    } else {
      call.reply.Error(SubcommandSyntaxError(call));
      return false;
    }
  }
  return true;
}

constexpr std::string_view kGroupNeedsKeyError =
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
    "to use the MKSTREAM option to create an empty stream automatically.";

std::string NoGroupError(std::string_view group, std::string_view key) {
  return fmt::format("NOGROUP No such consumer group '{}' for key name '{}'", group, key);
}

// An XGROUP subcommand's edit of the stream's group: the key (args[2]) must exist, unless
// `mkstream`, and hold the group (args[3]), unless `create`. `edit(stream, group name,
// group or none, out, now)`.
template <typename Edit, typename Reply>
void EditGroup(Call& call, bool create, bool mkstream, Edit edit, Reply reply) {
  EditStream(
      call, call.args[2], mkstream,
      [create, group = call.args[3], key = call.args[2], edit = std::move(edit)](
          StreamEdit* s, Outcome& out, int64_t now) mutable {
        if (s == nullptr) {
          out.error = kGroupNeedsKeyError;
          return;
        }
        std::optional<StreamGroup> g = s->Group(group);
        if (!create && !g) {
          out.error = NoGroupError(group, key);
          return;
        }
        edit(*s, group, g, out, now);
      },
      std::move(reply));
}

// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]
void CmdXgroupCreate(Call& call) {
  bool mkstream = false;
  int64_t entries_read = -1;
  if (call.args.size() > 8) return call.reply.Error(SubcommandSyntaxError(call));
  if (!ParseGroupOptions(call, true, &mkstream, &entries_read)) return;
  std::optional<StreamId> id;
  if (call.args[4] != "$") {
    StreamId parsed;
    if (!ParseStreamId(call.args[4], 0, true, &parsed)) return call.reply.Error(kInvalidIdError);
    id = parsed;
  }
  EditGroup(
      call, true, mkstream,
      [id, entries_read, key = call.args[2]](StreamEdit& s, const std::string& group,
                                             std::optional<StreamGroup>& g, Outcome& out, int64_t) {
        if (g) {
          out.error = "BUSYGROUP Consumer Group name already exists";
          return;
        }
        s.PutGroup({group, id.value_or(s.counters().last_id), entries_read});
        out.events.push_back(StreamEvent("xgroup-create", key));
      },
      [](ReplyWriter& w, const Outcome&) { w.Ok(); });
}

// XGROUP SETID key group id|$ [ENTRIESREAD n]
void CmdXgroupSetid(Call& call) {
  bool mkstream = false;
  int64_t entries_read = -1;
  if (call.args.size() != 5 && call.args.size() != 7)
    return call.reply.Error(SubcommandSyntaxError(call));
  if (!ParseGroupOptions(call, false, &mkstream, &entries_read)) return;
  std::optional<StreamId> id;
  if (call.args[4] != "$") {
    StreamId parsed;
    if (!ParseStreamId(call.args[4], 0, false, &parsed)) return call.reply.Error(kInvalidIdError);
    id = parsed;
  }
  EditGroup(
      call, false, false,
      [id, entries_read, key = call.args[2]](StreamEdit& s, const std::string&,
                                             std::optional<StreamGroup>& g, Outcome& out, int64_t) {
        g->last_id = id.value_or(s.counters().last_id);
        g->entries_read = entries_read;
        s.PutGroup(*g);
        out.events.push_back(StreamEvent("xgroup-setid", key));
      },
      [](ReplyWriter& w, const Outcome&) { w.Ok(); });
}

// XGROUP DESTROY key group: 1 when it was there.
void CmdXgroupDestroy(Call& call) {
  EditGroup(
      call, true, false,
      [key = call.args[2]](StreamEdit& s, const std::string& group, std::optional<StreamGroup>&,
                           Outcome& out, int64_t) {
        out.integer = s.DestroyGroup(group) ? 1 : 0;
        if (out.integer == 1) out.events.push_back(StreamEvent("xgroup-destroy", key));
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// XGROUP CREATECONSUMER key group consumer: 1 when it is new.
void CmdXgroupCreateconsumer(Call& call) {
  EditGroup(
      call, false, false,
      [key = call.args[2], consumer = call.args[4]](StreamEdit& s, const std::string& group,
                                                    std::optional<StreamGroup>&, Outcome& out,
                                                    int64_t now) {
        if (s.ConsumerSeen(group, consumer)) return;
        s.PutConsumer(group, consumer, now);
        out.integer = 1;
        out.events.push_back(StreamEvent("xgroup-createconsumer", key));
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// XGROUP DELCONSUMER key group consumer: the pending entries it had.
void CmdXgroupDelconsumer(Call& call) {
  EditGroup(
      call, false, false,
      [key = call.args[2], consumer = call.args[4]](StreamEdit& s, const std::string& group,
                                                    std::optional<StreamGroup>&, Outcome& out,
                                                    int64_t) {
        if (!s.ConsumerSeen(group, consumer)) return;
        out.integer = static_cast<int64_t>(s.DeleteConsumer(group, consumer));
        out.events.push_back(StreamEvent("xgroup-delconsumer", key));
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// --- XACK, XPENDING, XCLAIM, XAUTOCLAIM ---

// XACK key group id [id ...]: the entries acknowledged.
void CmdXack(Call& call) {
  std::vector<StreamId> ids;
  // Redis answers 0 for a missing key or group before it reads the ids.
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kStreamRecordType, &r)) return;
  if (!r || !StreamView(*r).Group(call.args[2])) return call.reply.Integer(0);
  if (!ParseIds(call, 3, &ids)) return;
  EditStream(
      call, call.args[1], false,
      [ids = std::move(ids), group = call.args[2]](StreamEdit* s, Outcome& out, int64_t) {
        if (s == nullptr || !s->Group(group)) return;
        for (StreamId id : ids) out.integer += s->DeletePending(group, id) ? 1 : 0;
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

std::string NoKeyOrGroupError(std::string_view key, std::string_view group) {
  return fmt::format("NOGROUP No such key '{}' or consumer group '{}'", key, group);
}

// XPENDING key group [[IDLE min-idle] start end count [consumer]]
void CmdXpending(Call& call) {
  const auto& args = call.args;
  if (args.size() != 3 && (args.size() < 6 || args.size() > 9))
    return call.reply.Error(kSyntaxError);
  int64_t count = 0;
  int64_t min_idle = 0;
  StreamId start;
  StreamId end;
  std::optional<std::string> consumer;
  if (args.size() >= 6) {
    size_t at = 3;
    if (EqualsNoCase(args[3], "idle")) {
      if (!ParseInt64(args[4], &min_idle)) return call.reply.Error(kNotIntegerError);
      if (args.size() < 8) return call.reply.Error(kSyntaxError);
      at += 2;
    }
    if (!ParseInt64(args[at + 2], &count)) return call.reply.Error(kNotIntegerError);
    if (count < 0) count = 0;
    if (!ParseBound(call, args[at], true, &start)) return;
    if (!ParseBound(call, args[at + 1], false, &end)) return;
    if (at + 3 < args.size()) consumer = args[at + 3];
  }
  RecordPtr r;
  if (!ReadTyped(call, args[1], kStreamRecordType, &r)) return;
  if (!r || !StreamView(*r).Group(args[2]))
    return call.reply.Error(NoKeyOrGroupError(args[1], args[2]));
  const StreamView v(*r);
  const std::string& group = args[2];
  if (args.size() == 3) {
    const size_t pending = v.PendingCount(group);
    call.reply.Array(4);
    call.reply.Integer(static_cast<int64_t>(pending));
    if (pending == 0) {
      call.reply.Null();
      call.reply.Null();
      return call.reply.NullArray();
    }
    StreamId first;
    StreamId last;
    bool seen = false;
    v.PendingFrom(group, {}, [&](const StreamPending& p) {
      if (!seen) first = p.id;
      seen = true;
      last = p.id;
      return true;
    });
    call.reply.Bulk(first.ToString());
    call.reply.Bulk(last.ToString());
    std::vector<std::pair<std::string, size_t>> owners;
    v.Consumers(group, [&](std::string_view name, int64_t) {
      if (const size_t n = v.ConsumerPendingCount(group, name); n > 0) owners.emplace_back(name, n);
    });
    call.reply.Array(owners.size());
    for (const auto& [name, n] : owners) {
      call.reply.Array(2);
      call.reply.Bulk(name);
      call.reply.Bulk(std::to_string(n));
    }
    return;
  }
  const int64_t now = call.service().NowMs();
  std::vector<StreamPending> found;
  auto take = [&](const StreamPending& p) {
    if (found.size() >= static_cast<size_t>(count) || p.id > end) return false;
    if (min_idle != 0 && now - p.delivery_time < min_idle) return true;
    found.push_back(p);
    return true;
  };
  if (consumer) {
    if (!v.ConsumerSeen(group, *consumer)) return call.reply.Array(0);
    v.ConsumerPendingFrom(group, *consumer, start, [&](StreamId id) {
      const std::optional<StreamPending> p = v.Pending(group, id);
      return p ? take(*p) : true;
    });
  } else {
    v.PendingFrom(group, start, take);
  }
  call.reply.Array(found.size());
  for (const StreamPending& p : found) {
    call.reply.Array(4);
    call.reply.Bulk(p.id.ToString());
    call.reply.Bulk(p.consumer);
    call.reply.Integer(std::max<int64_t>(0, now - p.delivery_time));
    call.reply.Integer(static_cast<int64_t>(p.delivery_count));
  }
}

// Gives pending entry `p` to `consumer` (creating it, refreshing its seen time), as XCLAIM
// and XAUTOCLAIM do; raises xgroup-createconsumer for a new consumer, once.
void Claim(StreamEdit& s, const std::string& group, const std::string& consumer, StreamPending p,
           const std::string& key, int64_t now, bool* consumer_done, Outcome& out) {
  if (!*consumer_done) {
    if (!s.ConsumerSeen(group, consumer))
      out.events.push_back(StreamEvent("xgroup-createconsumer", key));
    s.PutConsumer(group, consumer, now);
    *consumer_done = true;
  }
  p.consumer = consumer;
  s.PutPending(group, p);
}

struct ClaimArgs {
  int64_t min_idle = 0;
  std::vector<StreamId> ids;
  int64_t retrycount = -1;
  int64_t delivery_time = -1;  // -1: now
  int64_t idle = -1;           // IDLE: the delivery time is now minus this
  bool force = false;
  bool justid = false;
  StreamId last_id;
  std::string error;  // replied after the key and group checks, as Redis orders them
};

// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
// [FORCE] [JUSTID] [LASTID id]
void CmdXclaim(Call& call) {
  auto a = std::make_shared<ClaimArgs>();
  const auto& args = call.args;
  if (!ParseInt64(args[4], &a->min_idle)) {
    a->error = "ERR Invalid min-idle-time argument for XCLAIM";
  } else {
    a->min_idle = std::max<int64_t>(a->min_idle, 0);
    size_t j = 5;
    for (; j < args.size(); ++j) {
      StreamId id;
      if (!ParseStreamId(args[j], 0, true, &id)) break;
      a->ids.push_back(id);
    }
    for (; j < args.size() && a->error.empty(); ++j) {
      const bool more = j + 1 < args.size();
      const std::string& opt = args[j];
      int64_t* target = nullptr;
      std::string_view name;
      if (EqualsNoCase(opt, "force")) {
        a->force = true;
      } else if (EqualsNoCase(opt, "justid")) {
        a->justid = true;
      } else if (EqualsNoCase(opt, "idle") && more) {
        target = &a->idle;
        name = "IDLE";
      } else if (EqualsNoCase(opt, "time") && more) {
        target = &a->delivery_time;
        name = "TIME";
      } else if (EqualsNoCase(opt, "retrycount") && more) {
        target = &a->retrycount;
        name = "RETRYCOUNT";
      } else if (EqualsNoCase(opt, "lastid") && more) {
        if (!ParseStreamId(args[++j], 0, true, &a->last_id)) a->error = kInvalidIdError;
      } else {
        a->error = fmt::format("ERR Unrecognized XCLAIM option '{}'", opt);
      }
      if (target != nullptr && !ParseInt64(args[++j], target))
        a->error = fmt::format("ERR Invalid {} option argument for XCLAIM", name);
    }
  }
  EditStream(
      call, args[1], false,
      [a, key = args[1], group = args[2], consumer = args[3]](StreamEdit* s, Outcome& out,
                                                              int64_t now) {
        std::optional<StreamGroup> g = s ? s->Group(group) : std::nullopt;
        if (!g) {
          out.error = NoKeyOrGroupError(key, group);
          return;
        }
        if (!a->error.empty()) {
          out.error = a->error;
          return;
        }
        if (a->last_id > g->last_id) {
          g->last_id = a->last_id;
          s->PutGroup(*g);
        }
        int64_t delivery = a->idle != -1 ? now - a->idle : a->delivery_time;
        if (delivery == -1 || delivery < 0 || delivery > now) delivery = now;
        bool consumer_done = false;
        for (StreamId id : a->ids) {
          std::optional<StreamPending> p = s->Pending(group, id);
          const std::optional<StreamFields> entry = s->Entry(id);
          if (!entry) {
            if (p) s->DeletePending(group, id);
            continue;
          }
          bool owned = p.has_value();
          if (a->force && !p) p = StreamPending{id, {}, now, 1};
          if (!p) continue;
          if (owned && a->min_idle != 0 && now - p->delivery_time < a->min_idle) continue;
          p->delivery_time = delivery;
          if (a->retrycount >= 0) {
            p->delivery_count = static_cast<uint64_t>(a->retrycount);
          } else if (!a->justid) {
            ++p->delivery_count;
          }
          if (a->justid) {
            out.ids.push_back(id);
          } else {
            out.entries.push_back(Copy(id, *entry));
          }
          Claim(*s, group, consumer, *p, key, now, &consumer_done, out);
        }
      },
      [a](ReplyWriter& w, const Outcome& out) {
        if (a->justid) {
          w.Array(out.ids.size());
          for (StreamId id : out.ids) w.Bulk(id.ToString());
          return;
        }
        w.Array(out.entries.size());
        for (const OutEntry& e : out.entries) WriteEntry(w, e);
      });
}

// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]: claims up to
// COUNT pending entries idle that long from `start` on, looking at 10 times as many at
// most; answers the next start, the claimed entries and the ids it dropped from the
// pending entries because they were deleted.
void CmdXautoclaim(Call& call) {
  const auto& args = call.args;
  int64_t min_idle = 0;
  if (!ParseInt64(args[4], &min_idle))
    return call.reply.Error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
  min_idle = std::max<int64_t>(min_idle, 0);
  StreamId start;
  if (!ParseBound(call, args[5], true, &start)) return;
  int64_t count = 100;
  bool justid = false;
  for (size_t j = 6; j < args.size(); ++j) {
    if (EqualsNoCase(args[j], "count") && j + 1 < args.size()) {
      constexpr int64_t kMaxCount = INT64_MAX / 16;
      if (!ParseInt64(args[j + 1], &count) || count < 1 || count > kMaxCount)
        return call.reply.Error("ERR COUNT must be > 0");
      ++j;
    } else if (EqualsNoCase(args[j], "justid")) {
      justid = true;
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  EditStream(
      call, args[1], false,
      [=, key = args[1], group = args[2], consumer = args[3]](StreamEdit* s, Outcome& out,
                                                              int64_t now) {
        if (s == nullptr || !s->Group(group)) {
          out.error = NoKeyOrGroupError(key, group);
          return;
        }
        int64_t attempts = count * 10;
        int64_t left = count;
        // The pending entries it may look at, and the one after (the next start).
        std::vector<StreamPending> pending;
        s->PendingFrom(group, start, [&](const StreamPending& p) {
          pending.push_back(p);
          return static_cast<int64_t>(pending.size()) <= attempts;
        });
        bool consumer_done = false;
        size_t i = 0;
        for (; attempts > 0 && left > 0 && i < pending.size(); ++i, --attempts) {
          StreamPending& p = pending[i];
          const std::optional<StreamFields> entry = s->Entry(p.id);
          if (!entry) {
            s->DeletePending(group, p.id);
            out.ids.push_back(p.id);  // deleted
            --left;
            continue;
          }
          if (min_idle != 0 && now - p.delivery_time < min_idle) continue;
          p.delivery_time = now;
          if (!justid) ++p.delivery_count;
          out.entries.push_back(justid ? OutEntry{p.id, {}, false} : Copy(p.id, *entry));
          Claim(*s, group, consumer, p, key, now, &consumer_done, out);
          --left;
        }
        out.id = i < pending.size() ? pending[i].id.ToString() : StreamId{}.ToString();
      },
      [justid](ReplyWriter& w, const Outcome& out) {
        w.Array(3);
        w.Bulk(out.id);
        w.Array(out.entries.size());
        for (const OutEntry& e : out.entries) {
          if (justid) {
            w.Bulk(e.id.ToString());
          } else {
            WriteEntry(w, e);
          }
        }
        w.Array(out.ids.size());
        for (StreamId id : out.ids) w.Bulk(id.ToString());
      });
}

// --- XINFO ---

void WriteLag(ReplyWriter& w, const StreamView& v, const StreamGroup& g) {
  if (const auto lag = v.Lag(g)) return w.Integer(*lag);
  w.Null();
}

void WriteEntriesRead(ReplyWriter& w, const StreamGroup& g) {
  if (g.entries_read == -1) return w.Null();
  w.Integer(g.entries_read);
}

// Redis keeps a stream's entries in a radix tree of listpacks of up to 100 entries
// (stream-node-max-entries); XINFO reports its keys and nodes. devstate keeps no such
// tree: it reports the nodes Redis would use for an append-only stream of this length.
int64_t RadixKeys(const StreamView& v) {
  return static_cast<int64_t>((v.length() + kNodeEntries - 1) / kNodeEntries);
}

// XINFO STREAM key [FULL [COUNT n]]
void CmdXinfoStream(Call& call) {
  const auto& args = call.args;
  bool full = false;
  int64_t count = 10;
  const size_t opts = args.size() - 3;
  auto syntax = [&] {
    call.reply.Error(fmt::format(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.", args[1]));
  };
  if (opts != 0) {
    if ((opts != 1 && opts != 3) || !EqualsNoCase(args[3], "full")) return syntax();
    full = true;
    if (opts == 3) {
      if (!EqualsNoCase(args[4], "count")) return syntax();
      if (!ParseInt64(args[5], &count)) return call.reply.Error(kNotIntegerError);
      if (count < 0) count = 10;
    }
  }
  RecordPtr r;
  if (!ReadTyped(call, args[2], kStreamRecordType, &r)) return;
  if (!r) return call.reply.Error("ERR no such key");
  const StreamView v(*r);
  ReplyWriter& w = call.reply;
  w.Map(full ? 9 : 10);
  w.Bulk("length");
  w.Integer(static_cast<int64_t>(v.length()));
  w.Bulk("radix-tree-keys");
  w.Integer(RadixKeys(v));
  w.Bulk("radix-tree-nodes");
  w.Integer(RadixKeys(v) + 1);
  w.Bulk("last-generated-id");
  w.Bulk(v.counters().last_id.ToString());
  w.Bulk("max-deleted-entry-id");
  w.Bulk(v.counters().max_deleted.ToString());
  w.Bulk("entries-added");
  w.Integer(static_cast<int64_t>(v.counters().entries_added));
  w.Bulk("recorded-first-entry-id");
  w.Bulk(v.FirstId().ToString());
  if (!full) {
    w.Bulk("groups");
    w.Integer(static_cast<int64_t>(v.GroupCount()));
    for (const bool last : {false, true}) {
      w.Bulk(last ? "last-entry" : "first-entry");
      bool found = false;
      v.Range({}, StreamId::Max(), last, [&](StreamId id, const StreamFields& f) {
        WriteEntry(w, id, f);
        found = true;
        return false;
      });
      if (!found) w.Null();
    }
    return;
  }
  std::vector<std::pair<StreamId, StreamFields>> entries;
  v.Range({}, StreamId::Max(), false, [&](StreamId id, const StreamFields& f) {
    entries.emplace_back(id, f);
    return count == 0 || static_cast<int64_t>(entries.size()) < count;
  });
  w.Bulk("entries");
  w.Array(entries.size());
  for (const auto& e : entries) WriteEntry(w, e.first, e.second);
  std::vector<StreamGroup> groups;
  v.Groups([&](const StreamGroup& g) { groups.push_back(g); });
  w.Bulk("groups");
  w.Array(groups.size());
  const auto limited = [count](size_t n) { return count == 0 || static_cast<int64_t>(n) < count; };
  for (const StreamGroup& g : groups) {
    w.Map(7);
    w.Bulk("name");
    w.Bulk(g.name);
    w.Bulk("last-delivered-id");
    w.Bulk(g.last_id.ToString());
    w.Bulk("entries-read");
    WriteEntriesRead(w, g);
    w.Bulk("lag");
    WriteLag(w, v, g);
    w.Bulk("pel-count");
    w.Integer(static_cast<int64_t>(v.PendingCount(g.name)));
    std::vector<StreamPending> pending;
    v.PendingFrom(g.name, {}, [&](const StreamPending& p) {
      if (!limited(pending.size())) return false;
      pending.push_back(p);
      return true;
    });
    w.Bulk("pending");
    w.Array(pending.size());
    for (const StreamPending& p : pending) {
      w.Array(4);
      w.Bulk(p.id.ToString());
      w.Bulk(p.consumer);
      w.Integer(p.delivery_time);
      w.Integer(static_cast<int64_t>(p.delivery_count));
    }
    std::vector<std::pair<std::string, int64_t>> consumers;
    v.Consumers(g.name,
                [&](std::string_view name, int64_t seen) { consumers.emplace_back(name, seen); });
    w.Bulk("consumers");
    w.Array(consumers.size());
    for (const auto& [name, seen] : consumers) {
      w.Map(4);
      w.Bulk("name");
      w.Bulk(name);
      w.Bulk("seen-time");
      w.Integer(seen);
      w.Bulk("pel-count");
      w.Integer(static_cast<int64_t>(v.ConsumerPendingCount(g.name, name)));
      std::vector<StreamPending> own;
      v.ConsumerPendingFrom(g.name, name, {}, [&](StreamId id) {
        if (!limited(own.size())) return false;
        if (auto p = v.Pending(g.name, id)) own.push_back(*p);
        return true;
      });
      w.Bulk("pending");
      w.Array(own.size());
      for (const StreamPending& p : own) {
        w.Array(3);
        w.Bulk(p.id.ToString());
        w.Integer(p.delivery_time);
        w.Integer(static_cast<int64_t>(p.delivery_count));
      }
    }
  }
}

// XINFO GROUPS key
void CmdXinfoGroups(Call& call) {
  RecordPtr r;
  if (!ReadTyped(call, call.args[2], kStreamRecordType, &r)) return;
  if (!r) return call.reply.Error("ERR no such key");
  const StreamView v(*r);
  std::vector<StreamGroup> groups;
  v.Groups([&](const StreamGroup& g) { groups.push_back(g); });
  ReplyWriter& w = call.reply;
  w.Array(groups.size());
  for (const StreamGroup& g : groups) {
    w.Map(6);
    w.Bulk("name");
    w.Bulk(g.name);
    w.Bulk("consumers");
    w.Integer(static_cast<int64_t>(v.ConsumerCount(g.name)));
    w.Bulk("pending");
    w.Integer(static_cast<int64_t>(v.PendingCount(g.name)));
    w.Bulk("last-delivered-id");
    w.Bulk(g.last_id.ToString());
    w.Bulk("entries-read");
    WriteEntriesRead(w, g);
    w.Bulk("lag");
    WriteLag(w, v, g);
  }
}

// XINFO CONSUMERS key group
void CmdXinfoConsumers(Call& call) {
  RecordPtr r;
  if (!ReadTyped(call, call.args[2], kStreamRecordType, &r)) return;
  if (!r) return call.reply.Error("ERR no such key");
  const StreamView v(*r);
  const std::string& group = call.args[3];
  if (!v.Group(group)) return call.reply.Error(NoGroupError(group, call.args[2]));
  const int64_t now = call.service().NowMs();
  std::vector<std::pair<std::string, int64_t>> consumers;
  v.Consumers(group,
              [&](std::string_view name, int64_t seen) { consumers.emplace_back(name, seen); });
  ReplyWriter& w = call.reply;
  w.Array(consumers.size());
  for (const auto& [name, seen] : consumers) {
    w.Map(3);
    w.Bulk("name");
    w.Bulk(name);
    w.Bulk("pending");
    w.Integer(static_cast<int64_t>(v.ConsumerPendingCount(group, name)));
    w.Bulk("idle");
    w.Integer(std::max<int64_t>(0, now - seen));
  }
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddStreamCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> write_fast = {"write", "stream", "fast"};
  const std::vector<std::string_view> write_slow = {"write", "stream", "slow"};
  const std::vector<std::string_view> read_fast = {"read", "stream", "fast"};
  const std::vector<std::string_view> read_slow = {"read", "stream", "slow"};
  const std::vector<std::string_view> help = {"stream", "slow"};
  const uint32_t w = kWrite | kDenyOom;
  CommandSpec xread{"xread",
                    -4,
                    kReadonly | kBlocking,
                    0,
                    0,
                    0,
                    {"read", "stream", "slow", "blocking"},
                    CmdXread,
                    "Return never seen elements in multiple streams, with IDs greater than the "
                    "ones reported by the caller for each stream. Can block."};
  xread.option_keys = ReadKeys;
  xread.blocks_if = ReadBlocks;
  CommandSpec xreadgroup{"xreadgroup",
                         -7,
                         kWrite | kBlocking,
                         0,
                         0,
                         0,
                         {"write", "stream", "slow", "blocking"},
                         CmdXreadgroup,
                         "Return new entries from a stream using a consumer group, or access "
                         "the history of the pending entries for a given consumer. Can block."};
  xreadgroup.option_keys = ReadKeys;
  xreadgroup.blocks_if = ReadBlocks;
  t->insert(
      t->end(),
      {
          {"xadd", -5, w | kFast, 1, 1, 1, write_fast, CmdXadd, "Appends a new entry to a stream"},
          {"xtrim", -4, kWrite, 1, 1, 1, write_slow, CmdXtrim,
           "Trims the stream to (approximately if '~' is passed) a certain size"},
          {"xdel", -3, kWrite | kFast, 1, 1, 1, write_fast, CmdXdel,
           "Removes the specified entries from the stream. Returns the number of items actually "
           "deleted, that may be different from the number of IDs passed in case certain IDs do "
           "not exist."},
          {"xlen", 2, kReadonly | kFast, 1, 1, 1, read_fast, CmdXlen,
           "Return the number of entries in a stream"},
          {"xrange", -4, kReadonly, 1, 1, 1, read_slow, CmdXrange,
           "Return a range of elements in a stream, with IDs matching the specified IDs interval"},
          {"xrevrange", -4, kReadonly, 1, 1, 1, read_slow, CmdXrevrange,
           "Return a range of elements in a stream, with IDs matching the specified IDs interval, "
           "in reverse order (from greater to smaller IDs) compared to XRANGE"},
          std::move(xread),
          std::move(xreadgroup),
          {"xsetid", -3, w | kFast, 1, 1, 1, write_fast, CmdXsetid,
           "An internal command for replicating stream values"},
          {"xack", -4, kWrite | kFast, 1, 1, 1, write_fast, CmdXack,
           "Marks a pending message as correctly processed, effectively removing it from the "
           "pending entries list of the consumer group. Return value of the command is the "
           "number of messages successfully acknowledged, that is, the IDs we were actually able "
           "to resolve in the PEL."},
          {"xpending", -3, kReadonly, 1, 1, 1, read_slow, CmdXpending,
           "Return information and entries from a stream consumer group pending entries list, "
           "that are messages fetched but never acknowledged."},
          {"xclaim", -6, kWrite | kFast, 1, 1, 1, write_fast, CmdXclaim,
           "Changes (or acquires) ownership of a message in a consumer group, as if the message "
           "was delivered to the specified consumer."},
          {"xautoclaim", -6, kWrite | kFast, 1, 1, 1, write_fast, CmdXautoclaim,
           "Changes (or acquires) ownership of messages in a consumer group, as if the messages "
           "were delivered to the specified consumer."},
          {"xgroup",
           -2,
           0,
           0,
           0,
           0,
           {"slow"},
           nullptr,
           "A container for consumer groups commands",
           {
               {"xgroup|create", -5, w, 2, 2, 1, write_slow, CmdXgroupCreate,
                "Create a consumer group."},
               {"xgroup|setid", -5, kWrite, 2, 2, 1, write_slow, CmdXgroupSetid,
                "Set a consumer group to an arbitrary last delivered ID value."},
               {"xgroup|destroy", 4, kWrite, 2, 2, 1, write_slow, CmdXgroupDestroy,
                "Destroy a consumer group."},
               {"xgroup|createconsumer", 5, w, 2, 2, 1, write_slow, CmdXgroupCreateconsumer,
                "Create a consumer in a consumer group."},
               {"xgroup|delconsumer", 5, kWrite, 2, 2, 1, write_slow, CmdXgroupDelconsumer,
                "Delete a consumer from a consumer group."},
               {"xgroup|help", 2, 0, 0, 0, 0, help, ContainerHelp,
                "Show helpful text about the different subcommands"},
           }},
          {"xinfo",
           -2,
           0,
           0,
           0,
           0,
           {"slow"},
           nullptr,
           "A container for stream introspection commands",
           {
               {"xinfo|stream", -3, kReadonly, 2, 2, 1, read_slow, CmdXinfoStream,
                "Get information about a stream"},
               {"xinfo|groups", 3, kReadonly, 2, 2, 1, read_slow, CmdXinfoGroups,
                "List the consumer groups of a stream"},
               {"xinfo|consumers", 4, kReadonly, 2, 2, 1, read_slow, CmdXinfoConsumers,
                "List the consumers in a consumer group"},
               {"xinfo|help", 2, 0, 0, 0, 0, help, ContainerHelp,
                "Show helpful text about the different subcommands"},
           }},
      });
}

}  // namespace devstate::resp
