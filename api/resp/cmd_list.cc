// Lists, as Redis 7.0 defines them: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LMPOP LLEN LINDEX
// LRANGE LSET LTRIM LREM LINSERT LPOS LMOVE RPOPLPUSH, and the blocking forms BLPOP BRPOP
// BLMOVE BRPOPLPUSH BLMPOP (api/resp/block.h).
//
// A list is a composite record (service/list_value.h): a write edits a copy of its
// elements (or, within one commit group, the group's own copy: Mutation::Edit) and hands
// the pipeline a patch naming the elements it changed, so a push or a pop journals one
// element and the header. A list left empty is deleted, as in Redis.
#include <fmt/format.h>

#include <memory>

#include "api/resp/block.h"
#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/list_value.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

// The list a read sees: false (and the reply) when the key holds another type.
bool ReadList(Call& call, RecordPtr* r) {
  *r = Live(call, call.args[1]);
  if (*r && (*r)->type() != kListRecordType) {
    call.reply.Error(kWrongTypeError);
    return false;
  }
  return true;
}

// What an edit decided, for the reply.
struct Outcome {
  std::string error;
  int64_t integer = 0;
  bool null = false;
  std::vector<std::string> elements;
};

// Runs `edit` on the key's list inside the commit group; replies with the outcome. `edit`
// returns false to leave the list as it was (it decides before it changes anything).
// `touch`: an existing list counts as written even when the edit changed nothing.
template <typename Edit, typename Reply>
void EditList(Call& call, Edit edit, Reply reply, bool touch = false) {
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Edit(call.args[1], [edit = std::move(edit), out, touch](
                                                const RecordPtr& current, bool reusable) mutable {
    if (current && current->type() != kListRecordType) {
      out->error = kWrongTypeError;
      return Change::None();
    }
    ListEdit list(current, reusable);
    if (!edit(current != nullptr, list, *out) && !list.changed()) return Change::None();
    return list.Finish(touch);
  });
  Commit(call, {std::move(m)}, [out, reply = std::move(reply)](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    reply(w, *out);
  });
}

void ReplyInteger(ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); }

// LPUSH RPUSH, and with `only_existing` LPUSHX RPUSHX: the list's length after.
void Push(Call& call, bool front, bool only_existing) {
  EditList(
      call,
      [values = TakeArgsAfterKey(call), front, only_existing](bool exists, ListEdit& list,
                                                              Outcome& out) {
        if (only_existing && !exists) return false;
        for (const std::string& v : values) {
          if (front) {
            list.PushFront(v);
          } else {
            list.PushBack(v);
          }
        }
        out.integer = static_cast<int64_t>(list.size());
        return true;
      },
      ReplyInteger);
}

void CmdLpush(Call& call) { Push(call, true, false); }
void CmdRpush(Call& call) { Push(call, false, false); }
void CmdLpushx(Call& call) { Push(call, true, true); }
void CmdRpushx(Call& call) { Push(call, false, true); }

// LPOP RPOP key [count]: one element as a bulk string, or with a count an array of up to
// count elements; null when the key does not exist.
void Pop(Call& call, bool front) {
  if (call.args.size() > 3) return call.reply.Error(WrongArity(Lower(call.args[0])));
  const bool with_count = call.args.size() == 3;
  int64_t count = 1;
  if (with_count && (!ParseInt64(call.args[2], &count) || count < 0))
    return call.reply.Error("ERR value is out of range, must be positive");
  EditList(
      call,
      [front, count](bool exists, ListEdit& list, Outcome& out) {
        out.null = !exists;
        for (int64_t i = 0; i < count && !list.empty(); ++i)
          out.elements.push_back(front ? list.PopFront() : list.PopBack());
        return true;
      },
      [with_count](ReplyWriter& w, const Outcome& out) {
        if (out.null) return with_count ? w.NullArray() : w.Null();
        if (!with_count) return w.Bulk(out.elements.front());
        w.Array(out.elements.size());
        for (const std::string& e : out.elements) w.Bulk(e);
      });
}

// What a pop over several keys took (LMPOP, BLPOP, BLMPOP).
struct Taken {
  std::string key;  // the list it came from
  std::vector<std::string> elements;
  std::string error;
};

// Pops up to `count` elements from the first of `keys` holding a list: false when none
// does. A key of another type is an error, or, once `woken` (a blocking command), skipped.
bool TakeFromLists(KeyView& view, const std::vector<std::string>& keys, bool front, int64_t count,
                   bool woken, Taken* out) {
  out->elements.clear();
  for (const std::string& key : keys) {
    const RecordPtr r = view.Get(key);
    if (!r) continue;
    if (r->type() != kListRecordType) {
      if (woken) continue;
      out->error = kWrongTypeError;
      return true;
    }
    ListEdit list(r, false);
    for (int64_t i = 0; i < count && !list.empty(); ++i)
      out->elements.push_back(front ? list.PopFront() : list.PopBack());
    ApplyChange(view, key, list.Finish());
    out->key = key;
    return true;
  }
  return false;
}

// [key, [element ...]]: LMPOP's and BLMPOP's reply.
void ReplyKeyAndElements(ReplyWriter& w, const Taken& t) {
  if (!t.error.empty()) return w.Error(t.error);
  w.Array(2);
  w.Bulk(t.key);
  w.Array(t.elements.size());
  for (const std::string& e : t.elements) w.Bulk(e);
}

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first key holding
// a list; [key, [element ...]], or a null array when every key is empty.
void CmdLmpop(Call& call) {
  std::vector<std::string> keys;
  bool front = false;
  int64_t count = 0;
  if (!ParseMultiPop(call, 1, "left", "right", &keys, &front, &count)) return;
  auto out = std::make_shared<Taken>();
  const size_t weight = keys.size();
  Mutation m = Mutation::Txn(
      [=, keys = std::move(keys)](KeyView& view) {
        TakeFromLists(view, keys, front, count, false, out.get());
      },
      weight);
  Commit(
      call, {std::move(m)},
      [out](ReplyWriter& w) {
        if (out->error.empty() && out->elements.empty()) return w.NullArray();
        ReplyKeyAndElements(w, *out);
      },
      front ? "lpop" : "rpop");
}

// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: LMPOP that waits.
void CmdBlmpop(Call& call) {
  int64_t timeout = 0;
  if (!ParseBlockTimeout(call, call.args[1], &timeout)) return;
  Blocking b;
  bool front = false;
  int64_t count = 0;
  if (!ParseMultiPop(call, 2, "left", "right", &b.keys, &front, &count)) return;
  auto out = std::make_shared<Taken>();
  b.timeout_ms = timeout;
  b.take = [keys = b.keys, front, count, out](KeyView& view, bool woken) {
    return TakeFromLists(view, keys, front, count, woken, out.get());
  };
  b.reply = [out](ReplyWriter& w) { ReplyKeyAndElements(w, *out); };
  b.timed_out = [](ReplyWriter& w) { w.NullArray(); };
  b.events = front ? "lpop" : "rpop";
  Block(call, std::move(b));
}

// BLPOP BRPOP key [key ...] timeout: [key, element] from the first key holding a list.
void BlockingPop(Call& call, bool front) {
  int64_t timeout = 0;
  if (!ParseBlockTimeout(call, call.args.back(), &timeout)) return;
  Blocking b;
  b.keys.assign(call.args.begin() + 1, call.args.end() - 1);
  auto out = std::make_shared<Taken>();
  b.timeout_ms = timeout;
  b.take = [keys = b.keys, front, out](KeyView& view, bool woken) {
    return TakeFromLists(view, keys, front, 1, woken, out.get());
  };
  b.reply = [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Array(2);
    w.Bulk(out->key);
    w.Bulk(out->elements.front());
  };
  b.timed_out = [](ReplyWriter& w) { w.NullArray(); };
  b.events = front ? "lpop" : "rpop";
  Block(call, std::move(b));
}

void CmdBlpop(Call& call) { BlockingPop(call, true); }
void CmdBrpop(Call& call) { BlockingPop(call, false); }

void CmdLpop(Call& call) { Pop(call, true); }
void CmdRpop(Call& call) { Pop(call, false); }

void CmdLlen(Call& call) {
  RecordPtr r;
  if (!ReadList(call, &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(r->fields()->size()) : 0);
}

void CmdLindex(Call& call) {
  int64_t index = 0;
  if (!ParseInt64(call.args[2], &index)) return call.reply.Error(kNotIntegerError);
  RecordPtr r;
  if (!ReadList(call, &r)) return;
  size_t at = 0;
  if (!r || !ListIndex(index, r->fields()->size(), &at)) return call.reply.Null();
  call.reply.Bulk(ListView(*r).At(at));
}

// Redis's range rules (LRANGE, LTRIM): negative indexes count from the end; the range is
// clamped to the list, and empty when start is past stop or the end. [*from, *to).
bool ListRange(int64_t start, int64_t stop, size_t size, size_t* from, size_t* to) {
  const auto n = static_cast<int64_t>(size);
  if (start < 0) start = std::max<int64_t>(start + n, 0);
  if (stop < 0) stop += n;
  if (start > stop || start >= n) return false;
  *from = static_cast<size_t>(start);
  *to = static_cast<size_t>(std::min(stop, n - 1)) + 1;
  return true;
}

void CmdLrange(Call& call) {
  int64_t start = 0, stop = 0;
  if (!ParseInt64(call.args[2], &start) || !ParseInt64(call.args[3], &stop))
    return call.reply.Error(kNotIntegerError);
  RecordPtr r;
  if (!ReadList(call, &r)) return;
  size_t from = 0, to = 0;
  if (!r || !ListRange(start, stop, r->fields()->size(), &from, &to)) return call.reply.Array(0);
  const ListView list(*r);
  call.reply.Array(to - from);
  for (size_t i = from; i < to; ++i) call.reply.Bulk(list.At(i));
}

void CmdLset(Call& call) {
  int64_t index = 0;
  if (!ParseInt64(call.args[2], &index)) return call.reply.Error(kNotIntegerError);
  EditList(
      call,
      [index, value = std::move(call.args[3])](bool exists, ListEdit& list, Outcome& out) {
        size_t at = 0;
        if (!exists) {
          out.error = "ERR no such key";
        } else if (!ListIndex(index, list.size(), &at)) {
          out.error = "ERR index out of range";
        } else {
          list.Set(at, value);
        }
        return out.error.empty();
      },
      [](ReplyWriter& w, const Outcome&) { w.Ok(); });
}

void CmdLtrim(Call& call) {
  int64_t start = 0, stop = 0;
  if (!ParseInt64(call.args[2], &start) || !ParseInt64(call.args[3], &stop))
    return call.reply.Error(kNotIntegerError);
  EditList(
      call,
      [start, stop](bool exists, ListEdit& list, Outcome&) {
        if (!exists) return false;
        const size_t n = list.size();
        size_t from = 0, to = 0;
        if (!ListRange(start, stop, n, &from, &to)) from = to = n;  // nothing kept
        list.Replace(to, n, {});
        list.Replace(0, from, {});
        return true;
      },
      [](ReplyWriter& w, const Outcome&) { w.Ok(); }, /*touch=*/true);
}

// LREM key count element: removes up to |count| elements equal to element, from the head
// (count > 0), from the tail (count < 0), or all of them (0).
void CmdLrem(Call& call) {
  int64_t count = 0;
  if (!ParseInt64(call.args[2], &count)) return call.reply.Error(kNotIntegerError);
  EditList(
      call,
      [count, value = std::move(call.args[3])](bool, ListEdit& list, Outcome& out) {
        const size_t n = list.size();
        const uint64_t limit = count == 0 ? UINT64_MAX
                                          : (count < 0 ? 0 - static_cast<uint64_t>(count)
                                                       : static_cast<uint64_t>(count));
        std::vector<bool> drop(n, false);
        size_t first = n, last = 0;
        uint64_t found = 0;
        for (size_t k = 0; k < n && found < limit; ++k) {
          const size_t i = count < 0 ? n - 1 - k : k;
          if (list.At(i) != value) continue;
          drop[i] = true;
          first = std::min(first, i);
          last = std::max(last, i);
          ++found;
        }
        out.integer = static_cast<int64_t>(found);
        if (found == 0) return false;
        std::vector<std::string> kept;
        for (size_t i = first; i <= last; ++i) {
          if (!drop[i]) kept.emplace_back(list.At(i));
        }
        list.Replace(first, last + 1, kept);
        return true;
      },
      ReplyInteger);
}

// LINSERT key BEFORE|AFTER pivot element: the length after, -1 when the pivot is not
// found, 0 when the key does not exist.
void CmdLinsert(Call& call) {
  bool after = false;
  if (EqualsNoCase(call.args[2], "after")) {
    after = true;
  } else if (!EqualsNoCase(call.args[2], "before")) {
    return call.reply.Error(kSyntaxError);
  }
  EditList(
      call,
      [after, pivot = std::move(call.args[3]), value = std::move(call.args[4])](
          bool exists, ListEdit& list, Outcome& out) {
        if (!exists) return false;
        for (size_t i = 0; i < list.size(); ++i) {
          if (list.At(i) != pivot) continue;
          const size_t at = after ? i + 1 : i;
          list.Replace(at, at, {value});
          out.integer = static_cast<int64_t>(list.size());
          return true;
        }
        out.integer = -1;
        return false;
      },
      ReplyInteger);
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
void CmdLpos(Call& call) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t j = 3; j < call.args.size(); j += 2) {
    if (j + 1 >= call.args.size()) return call.reply.Error(kSyntaxError);
    const std::string option = Lower(call.args[j]);
    int64_t v = 0;
    if (option != "rank" && option != "count" && option != "maxlen")
      return call.reply.Error(kSyntaxError);
    if (!ParseInt64(call.args[j + 1], &v)) return call.reply.Error(kNotIntegerError);
    if (option == "rank") {
      if (v == 0) {
        return call.reply.Error(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list");
      }
      // Redis 7.0 negates this rank with undefined behaviour (and answers as if it were
      // -1); 7.2 refuses it, as devstate does.
      if (v == INT64_MIN) return call.reply.Error("ERR value is out of range");
      rank = v;
    } else if (option == "count") {
      if (v < 0) return call.reply.Error("ERR COUNT can't be negative");
      count = v;
    } else {
      if (v < 0) return call.reply.Error("ERR MAXLEN can't be negative");
      maxlen = v;
    }
  }
  RecordPtr r;
  if (!ReadList(call, &r)) return;
  std::vector<int64_t> found;
  if (r) {
    const ListView list(*r);
    const size_t n = list.size();
    const uint64_t wanted =
        count == 0 ? UINT64_MAX : (count < 0 ? 1 : static_cast<uint64_t>(count));
    uint64_t skip = (rank < 0 ? 0 - static_cast<uint64_t>(rank) : static_cast<uint64_t>(rank)) - 1;
    const size_t scan = maxlen == 0 ? n : std::min(n, static_cast<size_t>(maxlen));
    for (size_t k = 0; k < scan && found.size() < wanted; ++k) {
      const size_t i = rank < 0 ? n - 1 - k : k;
      if (list.At(i) != call.args[2]) continue;
      if (skip > 0) {
        --skip;
        continue;
      }
      found.push_back(static_cast<int64_t>(i));
    }
  }
  if (count < 0) {
    if (found.empty()) return call.reply.Null();
    return call.reply.Integer(found.front());
  }
  call.reply.Array(found.size());
  for (int64_t i : found) call.reply.Integer(i);
}

// Moves one element from `from` to `to` (LMOVE): false when `from` holds nothing, or,
// once `woken`, holds another type. A destination of another type is an error, even once
// woken (the element then stays where it is, as in Redis).
bool MoveElement(KeyView& view, const std::string& from, const std::string& to, bool from_front,
                 bool to_front, bool woken, Taken* out) {
  out->elements.clear();
  const RecordPtr source = view.Get(from);
  if (!source || (woken && source->type() != kListRecordType)) return false;
  const RecordPtr destination = from == to ? source : view.Get(to);
  if (source->type() != kListRecordType ||
      (destination && destination->type() != kListRecordType)) {
    out->error = kWrongTypeError;
    return true;
  }
  ListEdit list(source, false);
  std::string value = from_front ? list.PopFront() : list.PopBack();
  if (from == to) {
    // One edit: a list of one element is never deleted on the way.
    to_front ? list.PushFront(value) : list.PushBack(value);
    ApplyChange(view, from, list.Finish());
  } else {
    ApplyChange(view, from, list.Finish());
    ListEdit target(destination, false);
    to_front ? target.PushFront(value) : target.PushBack(value);
    ApplyChange(view, to, target.Finish());
  }
  out->elements.push_back(std::move(value));
  return true;
}

std::string_view MoveEvents(bool from_front, bool to_front) {
  return from_front ? (to_front ? "lmove left left" : "lmove left right")
                    : (to_front ? "lmove right left" : "lmove right right");
}

void ReplyMoved(ReplyWriter& w, const Taken& t) {
  if (!t.error.empty()) return w.Error(t.error);
  w.Bulk(t.elements.front());
}

// LMOVE source destination LEFT|RIGHT LEFT|RIGHT, and RPOPLPUSH (RIGHT LEFT): one txn, so
// the element is never in both lists nor in neither. Its events are as Redis raises them
// (notify.cc, "lmove").
void Move(Call& call, bool from_front, bool to_front) {
  auto out = std::make_shared<Taken>();
  auto moved = std::make_shared<bool>(false);
  Mutation m = Mutation::Txn(
      [from = call.args[1], to = call.args[2], from_front, to_front, out, moved](KeyView& view) {
        *moved = MoveElement(view, from, to, from_front, to_front, false, out.get());
      },
      2);
  Commit(
      call, {std::move(m)},
      [out, moved](ReplyWriter& w) {
        if (!*moved) return w.Null();
        ReplyMoved(w, *out);
      },
      MoveEvents(from_front, to_front));
}

// BLMOVE and BRPOPLPUSH: a move that waits for its source; the timeout is the last argument.
void BlockingMove(Call& call, bool from_front, bool to_front) {
  int64_t timeout = 0;
  if (!ParseBlockTimeout(call, call.args.back(), &timeout)) return;
  Blocking b;
  b.keys = {call.args[1]};
  auto out = std::make_shared<Taken>();
  b.timeout_ms = timeout;
  b.take = [from = call.args[1], to = call.args[2], from_front, to_front, out](KeyView& view,
                                                                               bool woken) {
    return MoveElement(view, from, to, from_front, to_front, woken, out.get());
  };
  b.reply = [out](ReplyWriter& w) { ReplyMoved(w, *out); };
  // A null array, not the null bulk string LMOVE answers: Redis 7.0 answers every blocking
  // list command's timeout so.
  b.timed_out = [](ReplyWriter& w) { w.NullArray(); };
  b.nothing_in_exec = [](ReplyWriter& w) { w.Null(); };
  b.events = MoveEvents(from_front, to_front);
  Block(call, std::move(b));
}

bool ParseSide(std::string_view arg, bool* front) {
  if (EqualsNoCase(arg, "left")) {
    *front = true;
  } else if (EqualsNoCase(arg, "right")) {
    *front = false;
  } else {
    return false;
  }
  return true;
}

void CmdLmove(Call& call) {
  bool from_front = false, to_front = false;
  if (!ParseSide(call.args[3], &from_front) || !ParseSide(call.args[4], &to_front))
    return call.reply.Error(kSyntaxError);
  Move(call, from_front, to_front);
}

void CmdRpoplpush(Call& call) { Move(call, false, true); }

void CmdBlmove(Call& call) {
  bool from_front = false, to_front = false;
  if (!ParseSide(call.args[3], &from_front) || !ParseSide(call.args[4], &to_front))
    return call.reply.Error(kSyntaxError);
  BlockingMove(call, from_front, to_front);
}

void CmdBrpoplpush(Call& call) { BlockingMove(call, false, true); }

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddListCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> write_fast = {"write", "list", "fast"};
  const std::vector<std::string_view> write_slow = {"write", "list", "slow"};
  const std::vector<std::string_view> read_fast = {"read", "list", "fast"};
  const std::vector<std::string_view> read_slow = {"read", "list", "slow"};
  const std::vector<std::string_view> blocking = {"write", "list", "slow", "blocking"};
  const uint32_t push = kWrite | kDenyOom | kFast;
  t->insert(
      t->end(),
      {
          {"lpush", -3, push, 1, 1, 1, write_fast, CmdLpush,
           "Prepend one or multiple elements to a list"},
          {"rpush", -3, push, 1, 1, 1, write_fast, CmdRpush,
           "Append one or multiple elements to a list"},
          {"lpushx", -3, push, 1, 1, 1, write_fast, CmdLpushx,
           "Prepend an element to a list, only if the list exists"},
          {"rpushx", -3, push, 1, 1, 1, write_fast, CmdRpushx,
           "Append an element to a list, only if the list exists"},
          {"lpop", -2, kWrite | kFast, 1, 1, 1, write_fast, CmdLpop,
           "Remove and get the first elements in a list"},
          {"rpop", -2, kWrite | kFast, 1, 1, 1, write_fast, CmdRpop,
           "Remove and get the last elements in a list"},
          {"lmpop", -4, kWrite, 0, 0, 0, write_slow, CmdLmpop, "Pop elements from a list", {}, 1},
          {"llen", 2, kReadonly | kFast, 1, 1, 1, read_fast, CmdLlen, "Get the length of a list"},
          {"lindex", 3, kReadonly, 1, 1, 1, read_slow, CmdLindex,
           "Get an element from a list by its index"},
          {"lrange", 4, kReadonly, 1, 1, 1, read_slow, CmdLrange,
           "Get a range of elements from a list"},
          {"lpos", -3, kReadonly, 1, 1, 1, read_slow, CmdLpos,
           "Return the index of matching elements on a list"},
          {"lset", 4, kWrite | kDenyOom, 1, 1, 1, write_slow, CmdLset,
           "Set the value of an element in a list by its index"},
          {"ltrim", 4, kWrite, 1, 1, 1, write_slow, CmdLtrim, "Trim a list to the specified range"},
          {"lrem", 4, kWrite, 1, 1, 1, write_slow, CmdLrem, "Remove elements from a list"},
          {"linsert", 5, kWrite | kDenyOom, 1, 1, 1, write_slow, CmdLinsert,
           "Insert an element before or after another element in a list"},
          {"lmove", 5, kWrite | kDenyOom, 1, 2, 1, write_slow, CmdLmove,
           "Pop an element from a list, push it to another list and return it"},
          {"rpoplpush", 3, kWrite | kDenyOom, 1, 2, 1, write_slow, CmdRpoplpush,
           "Remove the last element in a list, prepend it to another list and return it"},
          {"blpop", -3, kWrite | kNoScript | kBlocking, 1, -2, 1, blocking, CmdBlpop,
           "Remove and get the first element in a list, or block until one is available"},
          {"brpop", -3, kWrite | kNoScript | kBlocking, 1, -2, 1, blocking, CmdBrpop,
           "Remove and get the last element in a list, or block until one is available"},
          {"blmpop",
           -5,
           kWrite | kBlocking,
           0,
           0,
           0,
           blocking,
           CmdBlmpop,
           "Pop elements from a list, or block until one is available",
           {},
           2},
          {"blmove", 6, kWrite | kDenyOom | kNoScript | kBlocking, 1, 2, 1, blocking, CmdBlmove,
           "Pop an element from a list, push it to another list and return it; or block until "
           "one is available"},
          {"brpoplpush", 4, kWrite | kDenyOom | kNoScript | kBlocking, 1, 2, 1, blocking,
           CmdBrpoplpush,
           "Pop an element from a list, push it to another list and return it; or block until "
           "one is available"},
      });
}

}  // namespace devstate::resp
