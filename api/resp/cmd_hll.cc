// HyperLogLog commands as Redis 7.0 defines them: PFADD PFCOUNT PFMERGE, and PFDEBUG and
// PFSELFTEST, which Redis's own tests use. A HyperLogLog is a plain string in Redis's layout
// (service/hll.h): GET, DUMP, SETRANGE and the rest see its bytes.
//
// Each write is a read-modify-write of the string inside the commit group, so it journals
// the whole value (at most 12304 bytes, the dense form). PFCOUNT of one key keeps the
// estimate in the value's header, as Redis does: on a primary, when the cached estimate
// is stale, that is a write (answered once committed); a replica answers without keeping
// it. A device record is a string whose bytes are not a HyperLogLog: it is refused as
// Redis refuses any such string.
#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/hll.h"

namespace devstate::resp {
namespace {

struct Outcome {
  std::string error;
  int64_t integer = 0;
  std::string text;                // PFDEBUG DECODE and ENCODING
  std::vector<uint8_t> registers;  // PFDEBUG GETREG
};

// Why `r` (a present record) cannot be read as a HyperLogLog, or empty when it can.
std::string_view HllError(const Record& r) {
  if (!IsString(r)) return kWrongTypeError;
  if (!hll::Valid(r.value())) return hll::kNotHllError;
  return {};
}

RecordPtr HllRecord(const std::string& hll, const RecordPtr& old) {
  return StringRecord(hll, old ? old->expire_at_ms() : 0, kRawStringMeta);
}

size_t SparseMax(Call& call) {
  return static_cast<size_t>(call.server.hll_sparse_max_bytes.load());
}

// PFADD key [element ...]: 1 when a register grew (or the key was created), else 0.
void CmdPfadd(Call& call) {
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(
      call.args[1],
      [elements = TakeArgsAfterKey(call), max = SparseMax(call), out](const RecordPtr& current) {
        std::string hll;
        bool updated = false;
        if (current) {
          out->error = HllError(*current);
          if (!out->error.empty()) return Change::None();
          hll = current->value();
        } else {
          hll = hll::Make();
          updated = true;
        }
        for (const std::string& element : elements) {
          const int r = hll::Add(&hll, element, max);
          if (r < 0) {
            out->error = hll::kInvalidError;
            return Change::None();
          }
          updated = updated || r == 1;
        }
        out->integer = updated ? 1 : 0;
        if (!updated) return Change::None();
        hll::InvalidateCache(&hll);
        return Change::Put(HllRecord(hll, current));
      });
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->integer);
  });
}

// The estimate of one HyperLogLog, from its cache or counted; false (error set) if corrupt.
bool Estimate(const Record& r, uint64_t* card, bool* counted, std::string* error) {
  *error = HllError(r);
  if (!error->empty()) return false;
  *counted = !hll::Cached(r.value(), card);
  if (*counted && !hll::Count(r.value(), card)) {
    *error = hll::kInvalidError;
    return false;
  }
  return true;
}

// PFCOUNT key [key ...]: the estimate of one HyperLogLog, or of the union of several.
void CmdPfcount(Call& call) {
  if (call.args.size() > 2) {
    hll::Registers max{};
    for (size_t i = 1; i < call.args.size(); ++i) {
      RecordPtr r = Live(call, call.args[i]);
      if (!r) continue;
      if (const std::string_view e = HllError(*r); !e.empty()) return call.reply.Error(e);
      if (!hll::MergeInto(r->value(), &max)) return call.reply.Error(hll::kInvalidError);
    }
    return call.reply.Integer(static_cast<int64_t>(hll::Count(max)));
  }
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Integer(0);
  uint64_t card = 0;
  bool counted = false;
  std::string error;
  if (!Estimate(*r, &card, &counted, &error)) return call.reply.Error(error);
  if (!counted || (call.view == nullptr && !call.service().IsPrimary())) {
    return call.reply.Integer(static_cast<int64_t>(card));
  }
  // Stale cache: count again inside the group (the value may have changed since) and keep
  // the estimate in the header.
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(call.args[1], [out](const RecordPtr& current) {
    if (!current) return Change::None();  // deleted meanwhile: 0
    uint64_t estimate = 0;
    bool recount = false;
    if (!Estimate(*current, &estimate, &recount, &out->error)) return Change::None();
    out->integer = static_cast<int64_t>(estimate);
    if (!recount) return Change::None();
    std::string hll(current->value());
    hll::SetCache(&hll, estimate);
    return Change::Put(HllRecord(hll, current));
  });
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->integer);
  });
}

// PFMERGE destkey [sourcekey ...]: the union into destkey (which takes part in it). Dense
// when any input is, as Redis makes it.
void CmdPfmerge(Call& call) {
  auto out = std::make_shared<Outcome>();
  std::vector<std::string> keys(call.args.begin() + 1, call.args.end());
  const size_t weight = keys.size();
  Mutation m = Mutation::Txn(
      [keys = std::move(keys), max = SparseMax(call), out](KeyView& view) {
        hll::Registers registers{};
        bool dense = false;
        for (const std::string& key : keys) {
          RecordPtr r = view.Get(key);
          if (!r) continue;
          out->error = HllError(*r);
          if (!out->error.empty()) return;
          dense = dense || hll::EncodingOf(r->value()) == hll::Encoding::kDense;
          if (!hll::MergeInto(r->value(), &registers)) {
            out->error = hll::kInvalidError;
            return;
          }
        }
        const RecordPtr old = view.Get(keys[0]);
        std::string hll = old ? std::string(old->value()) : hll::Make();
        if (dense && !hll::ToDense(&hll)) {
          out->error = hll::kInvalidError;
          return;
        }
        for (int i = 0; i < hll::kRegisters; ++i) {
          const uint8_t v = registers[static_cast<size_t>(i)];
          if (v != 0) hll::Set(&hll, i, v, max);
        }
        hll::InvalidateCache(&hll);
        view.Put(keys[0], HllRecord(hll, old));
      },
      weight);
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Ok();
  });
}

// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. GETREG and TODENSE turn a sparse value
// dense, a write as in Redis.
void CmdPfdebug(Call& call) {
  const std::string sub = Lower(call.args[1]);
  auto out = std::make_shared<Outcome>();
  Mutation m =
      Mutation::Apply(call.args[2], [sub, given = call.args[1], out](const RecordPtr& current) {
        if (!current) {
          out->error = "ERR The specified key does not exist";
          return Change::None();
        }
        out->error = HllError(*current);
        if (!out->error.empty()) return Change::None();
        std::string hll(current->value());
        const bool sparse = hll::EncodingOf(hll) == hll::Encoding::kSparse;
        if (sub == "getreg" || sub == "todense") {
          if (sparse && !hll::ToDense(&hll)) {
            out->error = hll::kInvalidError;
            return Change::None();
          }
          out->integer = sparse ? 1 : 0;
          if (sub == "getreg") {
            out->registers.resize(hll::kRegisters);
            for (int i = 0; i < hll::kRegisters; ++i) {
              out->registers[static_cast<size_t>(i)] = hll::DenseRegister(hll, i);
            }
          }
          return sparse ? Change::Put(HllRecord(hll, current)) : Change::None();
        }
        if (sub == "decode") {
          if (!sparse) {
            out->error = "ERR HLL encoding is not sparse";
          } else {
            out->text = hll::DecodeSparse(hll);
          }
        } else if (sub == "encoding") {
          out->text = sparse ? "sparse" : "dense";
        } else {
          out->error = fmt::format("ERR Unknown PFDEBUG subcommand '{}'", given);
        }
        return Change::None();
      });
  Commit(call, {std::move(m)}, [sub, out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    if (sub == "getreg") {
      w.Array(out->registers.size());
      for (uint8_t v : out->registers) w.Integer(v);
    } else if (sub == "todense") {
      w.Integer(out->integer);
    } else if (sub == "encoding") {
      w.Simple(out->text);
    } else {
      w.Bulk(out->text);
    }
  });
}

// PFSELFTEST: Redis's own checks of the registers and the estimate (~1 s of this thread;
// an admin command, as in Redis, where it stops the whole server meanwhile).
void CmdPfselftest(Call& call) {
  const std::string failed = hll::SelfTest(SparseMax(call));
  if (!failed.empty()) return call.reply.Error(failed);
  call.reply.Ok();
}

}  // namespace

void AddHllCommands(std::vector<CommandSpec>* t) {
  t->insert(t->end(), {
                          {"pfadd",
                           -2,
                           kWrite | kDenyOom | kFast,
                           1,
                           1,
                           1,
                           {"write", "hyperloglog", "fast"},
                           CmdPfadd,
                           "Adds the specified elements to the specified HyperLogLog."},
                          {"pfcount",
                           -2,
                           kReadonly,
                           1,
                           -1,
                           1,
                           {"read", "hyperloglog", "slow"},
                           CmdPfcount,
                           "Return the approximated cardinality of the set(s) observed by the "
                           "HyperLogLog at key(s)."},
                          {"pfmerge",
                           -2,
                           kWrite | kDenyOom,
                           1,
                           -1,
                           1,
                           {"write", "hyperloglog", "slow"},
                           CmdPfmerge,
                           "Merge N different HyperLogLogs into a single one."},
                          {"pfdebug",
                           3,
                           kWrite | kDenyOom | kAdmin,
                           2,
                           2,
                           1,
                           {"write", "hyperloglog", "admin", "slow", "dangerous"},
                           CmdPfdebug,
                           "Internal commands for debugging HyperLogLog values"},
                          {"pfselftest",
                           1,
                           kAdmin,
                           0,
                           0,
                           0,
                           {"hyperloglog", "admin", "slow", "dangerous"},
                           CmdPfselftest,
                           "An internal command for testing HyperLogLog values"},
                      });
}

}  // namespace devstate::resp
