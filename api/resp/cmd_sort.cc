// SORT and SORT_RO, as Redis 7.0 runs them in cluster mode: the elements of a list, set or
// sorted set, sorted as numbers (each element read as a double, ties in byte order) or with
// ALPHA in byte order, ASC or DESC, LIMIT offset count, and SORT's STORE destination (a
// list; an empty result deletes it; the last STORE counts, as in Redis).
//
// BY with a pattern and GET are refused, as Redis Cluster refuses them: they read keys in
// other slots. BY with a constant (no '*') skips the sort: a list or sorted set keeps its
// order (DESC reversed), a set its SMEMBERS order, or, when stored, byte order (Redis's rule,
// so what is stored does not depend on the set's layout). ALPHA compares bytes, as
// redis-server does under the C locale: devstate does not collate by LC_COLLATE.
//
// SORT runs as a transaction in the commit pipeline, so it sees every earlier write of its
// connection, and a STORE writes its destination at the instant it read its source.
// SORT_RO is a read (replicas serve it).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/list_value.h"
#include "service/record_types.h"

namespace devstate::resp {
namespace {

struct SortArgs {
  bool desc = false;
  bool alpha = false;
  bool dontsort = false;  // BY a constant
  int64_t offset = 0;
  int64_t count = -1;
  bool store = false;
  std::string destination;
};

bool ParseSort(Call& call, bool readonly, SortArgs* a) {
  const size_t argc = call.args.size();
  for (size_t j = 2; j < argc; ++j) {
    const std::string& opt = call.args[j];
    const size_t left = argc - j - 1;
    if (EqualsNoCase(opt, "asc")) {
      a->desc = false;
    } else if (EqualsNoCase(opt, "desc")) {
      a->desc = true;
    } else if (EqualsNoCase(opt, "alpha")) {
      a->alpha = true;
    } else if (EqualsNoCase(opt, "limit") && left >= 2) {
      if (!ParseInt64(call.args[j + 1], &a->offset) || !ParseInt64(call.args[j + 2], &a->count)) {
        call.reply.Error(kNotIntegerError);
        return false;
      }
      j += 2;
    } else if (!readonly && EqualsNoCase(opt, "store") && left >= 1) {
      a->store = true;
      a->destination = call.args[++j];
    } else if (EqualsNoCase(opt, "by") && left >= 1) {
      if (call.args[++j].find('*') != std::string::npos) {
        call.reply.Error("ERR BY option of SORT denied in Cluster mode.");
        return false;
      }
      a->dontsort = true;
    } else if (EqualsNoCase(opt, "get") && left >= 1) {
      call.reply.Error("ERR GET option of SORT denied in Cluster mode.");
      return false;
    } else {
      call.reply.Error(kSyntaxError);
      return false;
    }
  }
  return true;
}

// SORT's STORE key, for ACLs, CROSSSLOT and COMMAND GETKEYS: the option walk of Redis's
// sortGetKeys (LIMIT skips two arguments, GET and BY one; the last STORE wins).
// SORT_RO's: none that a walk can list, but its BY and GET patterns name keys, so Redis
// marks it movablekeys (COMMAND INFO), as this row's walk does.
void NoListedKeys(const std::vector<std::string>&, std::vector<int>*) {}

void SortStoreKey(const std::vector<std::string>& args, std::vector<int>* out) {
  int found = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    if (EqualsNoCase(args[i], "limit")) {
      i += 2;
    } else if (EqualsNoCase(args[i], "get") || EqualsNoCase(args[i], "by")) {
      i += 1;
    } else if (EqualsNoCase(args[i], "store") && i + 1 < args.size()) {
      found = static_cast<int>(i + 1);
    }
  }
  if (found > 0) out->push_back(found);
}

// An element as SORT reads a number: strtod over the whole element, as Redis does.
bool SortScore(std::string_view element, double* score) {
  const std::string text(element);
  errno = 0;
  char* end = nullptr;
  *score = std::strtod(text.c_str(), &end);
  return *end == '\0' && errno != ERANGE && !std::isnan(*score);
}

// SORT's result for the record `r` (null: absent); false and *error when it has none.
bool Sorted(const RecordPtr& r, SortArgs a, std::vector<std::string>* out, std::string* error,
            size_t max_intset) {
  if (r && r->type() != kListRecordType && r->type() != kSetRecordType &&
      r->type() != kZsetRecordType) {
    *error = std::string(kWrongTypeError);
    return false;
  }
  const bool is_set = r && r->type() == kSetRecordType;
  if (a.dontsort && is_set && a.store) {
    // A stored result must not depend on the set's layout.
    a.dontsort = false;
    a.alpha = true;
  }
  std::vector<std::string_view> elements;
  if (r && r->type() == kListRecordType) {
    const ListView list(*r);
    elements.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) elements.push_back(list.At(i));
  } else if (is_set) {
    elements = SetMembers(*r, max_intset);
  } else if (r) {
    elements.reserve(r->fields()->size());
    r->fields()->WalkRanks(0, false, [&](std::string_view member, double) {
      elements.push_back(member);
      return true;
    });
  }
  const auto n = static_cast<int64_t>(elements.size());
  // Redis's LIMIT arithmetic: [start, end], clamped to the elements.
  int64_t start = std::min(std::max<int64_t>(a.offset, 0), n);
  const int64_t count = std::min(std::max<int64_t>(a.count, -1), n);
  int64_t end = count < 0 ? n - 1 : start + count - 1;
  if (start >= n) {
    start = n - 1;
    end = n - 2;
  }
  if (end >= n) end = n - 1;

  if (a.dontsort) {
    if (a.desc && !is_set) std::reverse(elements.begin(), elements.end());
  } else {
    std::vector<double> scores;
    if (!a.alpha) {
      scores.resize(elements.size());
      for (size_t i = 0; i < elements.size(); ++i) {
        if (!SortScore(elements[i], &scores[i])) {
          *error = "ERR One or more scores can't be converted into double";
          return false;
        }
      }
    }
    std::vector<size_t> order(elements.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      int cmp = 0;
      if (!a.alpha && scores[x] != scores[y]) {
        cmp = scores[x] < scores[y] ? -1 : 1;
      } else {
        cmp = elements[x].compare(elements[y]);  // bytes, as Redis's compareStringObjects
      }
      return a.desc ? cmp > 0 : cmp < 0;
    });
    std::vector<std::string_view> sorted;
    sorted.reserve(order.size());
    for (size_t i : order) sorted.push_back(elements[i]);
    elements = std::move(sorted);
  }
  for (int64_t i = start; i <= end; ++i) out->emplace_back(elements[static_cast<size_t>(i)]);
  return true;
}

void ReplyElements(ReplyWriter& w, const std::vector<std::string>& elements) {
  w.Array(elements.size());
  for (const std::string& e : elements) w.Bulk(e);
}

void CmdSortRo(Call& call) {
  SortArgs a;
  if (!ParseSort(call, true, &a)) return;
  std::vector<std::string> out;
  std::string error;
  if (!Sorted(Live(call, call.args[1]), a, &out, &error,
              call.server.set_max_intset_entries.load())) {
    return call.reply.Error(error);
  }
  ReplyElements(call.reply, out);
}

void CmdSort(Call& call) {
  SortArgs a;
  if (!ParseSort(call, false, &a)) return;
  struct Outcome {
    std::vector<std::string> elements;
    std::string error;
  };
  auto out = std::make_shared<Outcome>();
  const bool store = a.store;
  Mutation m = Mutation::Txn(
      [key = call.args[1], a = std::move(a), out,
       max_intset = call.server.set_max_intset_entries.load()](KeyView& view) {
        if (!Sorted(view.Get(key), a, &out->elements, &out->error, max_intset) || !a.store) return;
        if (out->elements.empty()) return view.Delete(a.destination);
        ListEdit list(nullptr, false);
        for (const std::string& e : out->elements) list.PushBack(e);
        view.Put(a.destination, list.Finish().record);
      },
      2);
  Commit(call, {std::move(m)}, [out, store](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    if (store) return w.Integer(static_cast<int64_t>(out->elements.size()));
    ReplyElements(w, out->elements);
  });
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddSortCommands(std::vector<CommandSpec>* t) {
  t->push_back({"sort",
                -2,
                kWrite | kDenyOom,
                1,
                1,
                1,
                {"write", "set", "sortedset", "list", "slow", "dangerous"},
                CmdSort,
                "Sort the elements in a list, set or sorted set",
                {},
                0,
                SortStoreKey});
  t->push_back(
      {"sort_ro",
       -2,
       kReadonly,
       1,
       1,
       1,
       std::vector<std::string_view>{"read", "set", "sortedset", "list", "slow", "dangerous"},
       CmdSortRo,
       "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
       {},
       0,
       NoListedKeys});
}

}  // namespace devstate::resp
