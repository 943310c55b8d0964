// Mutation: one change to the store, computed by the committer inside a commit group.
//
// Writers that depend on the current value (merging a device event, SET NX, SET GET) do
// not read-modify-write from outside: they hand the pipeline an `apply` function, which it
// calls in commit order with the key's current record (including the changes of earlier
// groups not yet acknowledged, and of earlier mutations in the same group), so concurrent
// writers never lose each other's updates. A write over several keys (MULTI/EXEC, RENAME,
// FLUSHALL) hands it a `txn` function instead, which reads and changes any keys through a
// KeyView; it runs atomically: no other write interleaves with it.
//
// `apply` and `txn` run on whichever thread commits the group (the pipeline's committer
// thread, or an event loop that commits its turn's writes inline, see CommitPipeline): they
// must be quick, must not block and must not throw. They may record what they decided in
// state they captured, for the writer's reply.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/record.h"
#include "store/status.h"

namespace devstate {

// One field of a composite record changed by a patch: set to `value`, or removed.
struct FieldOp {
  std::string name;
  std::string value;
  bool erase = false;
};

struct Change {
  enum class Kind : uint8_t { kNone, kPut, kDelete, kPatch };

  Kind kind = Kind::kNone;
  RecordPtr record;          // the new record, for kPut and kPatch
  std::vector<FieldOp> ops;  // kPatch: the fields `record` changed (see KeyView::Patch)

  static Change None() { return {}; }
  static Change Put(RecordPtr record) { return {Kind::kPut, std::move(record), {}}; }
  static Change Delete() { return {Kind::kDelete, nullptr, {}}; }
  static Change Patch(RecordPtr record, std::vector<FieldOp> ops) {
    return {Kind::kPatch, std::move(record), std::move(ops)};
  }
};

// Called exactly once per submitted write, when its outcome is known: OK only after the
// group is synced to the journal, acknowledged by the replication gate and published to
// the keyspace. `seq` is the journal position that answers for the write (0 on failure).
// It runs on whichever thread completes the group (the committer thread, an event loop
// that committed inline, or the replication gate's thread when replicas acknowledge), or
// on the submitter's thread when the write is refused at once: it must be quick and hand
// the result to the connection's own executor.
using CommitCallback = std::function<void(const Status& status, uint64_t seq)>;

class KeyView;

// A blocking command (BLPOP, BZPOPMIN ...) that found nothing to take, waiting in the
// commit pipeline for a write to one of `keys` (store/waiters.h).
struct Waiter {
  enum class Result : uint8_t { kServed, kWaiting, kGone };
  std::vector<std::string> keys;
  // Called on the committing thread, in a group that wrote one of `keys`, after the
  // group's own writes: takes what it waits for through `view` and says kServed (`done`
  // then hears that group's outcome, as its writers do), kWaiting (nothing to take yet),
  // or kGone (nobody waits any more). It must be quick, must not block, must not throw.
  std::function<Result(KeyView& view)> serve;
  CommitCallback done;
};

// The store as a write inside a commit group sees it. Not thread-safe; valid only during
// the txn call it is handed to.
class KeyView {
 public:
  virtual ~KeyView() = default;
  // The live record under `key`: null when absent or expired.
  virtual RecordPtr Get(std::string_view key) = 0;
  // Get, for a write that will replace the record (Mutation::Edit). *reusable is set when
  // the record is this group's own and the caller's reference will be its only one once
  // the change replaces it: nobody else can read it again, so the write may change in place
  // what the record does not share (see EditFn). A view that cannot tell says false.
  virtual RecordPtr GetForEdit(std::string_view key, bool* reusable) {
    *reusable = false;
    return Get(key);
  }
  virtual void Put(std::string_view key, RecordPtr record) = 0;
  // Replaces the composite record under `key` with `record`, which differs from it only in
  // its header and in the fields `ops` names: only those are journaled. When the key holds
  // no composite record, `record` is journaled whole. A record left without fields must be
  // deleted instead (a hash with no fields does not exist).
  virtual void Patch(std::string_view key, RecordPtr record, std::span<const FieldOp> ops) = 0;
  // Removes `key` if present.
  virtual void Delete(std::string_view key) = 0;
  // Removes every key (FLUSHALL).
  virtual void Clear() = 0;
  // The group's clock (Unix epoch ms): one instant for every write of the group.
  virtual int64_t NowMs() const = 0;
  // Registers `waiter` in the pipeline, in commit order (store/waiters.h); returns its id.
  virtual uint64_t Wait(Waiter waiter) = 0;
  // Removes the waiter `id`: false when it is not waiting (served, or never registered).
  virtual bool Unwait(uint64_t id) = 0;
};

// Receives the key's current record: null when the key is absent or expired.
using ApplyFn = std::function<Change(const RecordPtr& current)>;
// An apply that may reuse the record it replaces. When `reusable`, it may change in place
// the parts of `current` that nothing else shares (a FieldMap held by this record alone,
// whose unshared nodes FieldMap then edits in place) instead of copying them; it must
// then return a change that replaces `current` (Put, Patch or Delete), never None: the
// record changed in place stays staged otherwise, with changes the journal never got.
// A group's later writes to one hash thus edit the nodes its earlier writes copied.
using EditFn = std::function<Change(const RecordPtr& current, bool reusable)>;
using TxnFn = std::function<void(KeyView& view)>;

// The fields an EditFn changes: `current`'s own map when the group may reuse it and no
// other record shares the map (the nodes its earlier write copied are then changed in
// place), else a copy (O(1): it shares the nodes); an empty map when there is no record.
inline std::shared_ptr<FieldMap> FieldsForEdit(const RecordPtr& current, bool reusable) {
  if (!current || !current->fields()) return std::make_shared<FieldMap>();
  if (reusable && current->fields().use_count() == 1)
    return std::const_pointer_cast<FieldMap>(current->fields());
  return std::make_shared<FieldMap>(*current->fields());
}

struct Mutation {
  std::string key;  // the key `apply` changes
  ApplyFn apply;
  TxnFn txn = nullptr;    // when set, runs instead of `apply` (and `key` is unused)
  EditFn edit = nullptr;  // when set, runs instead of `apply`
  // The keys it may touch, which the pipeline's bounds count (a txn of a million keys is
  // not committed inline by an event loop, nor counted as one write in a group).
  size_t weight = 1;

  static Mutation Put(std::string key, RecordPtr record) {
    return {std::move(key), [r = std::move(record)](const RecordPtr&) { return Change::Put(r); },
            nullptr};
  }
  static Mutation Delete(std::string key) {
    return {std::move(key), [](const RecordPtr&) { return Change::Delete(); }, nullptr};
  }
  static Mutation Apply(std::string key, ApplyFn apply) {
    return {std::move(key), std::move(apply), nullptr};
  }
  static Mutation Edit(std::string key, EditFn edit) {
    return {std::move(key), nullptr, nullptr, std::move(edit)};
  }
  static Mutation Txn(TxnFn txn, size_t weight = 1) {
    return {std::string(), nullptr, std::move(txn), nullptr, weight};
  }
};

// The sum of the mutations' weights.
size_t Weight(const std::vector<Mutation>& mutations);

// Makes `change` to `key` through `view` (a txn that edits several keys, as LMOVE).
void ApplyChange(KeyView& view, std::string_view key, Change change);
// Applies `m` to `view` (apply or txn), as the pipeline does. Used by MULTI/EXEC, which
// runs a transaction's commands, and their mutations, inside one txn.
void ApplyTo(Mutation& m, KeyView& view);

}  // namespace devstate
