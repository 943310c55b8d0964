// Mutation: one change to one key, computed on the commit pipeline's thread.
//
// Writers that depend on the current value (merging a device event, SET NX, SET GET) do
// not read-modify-write from outside: they hand the pipeline an `apply` function, which it
// calls in commit order with the key's current committed record (including the changes of
// earlier mutations in the same group), so concurrent writers never lose each other's
// updates. `apply` runs on the committer thread: it must be quick, must not block and must
// not throw. It may record what it decided in state it captured (for the writer's reply).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "store/record.h"
#include "store/status.h"

namespace devstate {

struct Change {
  enum class Kind : uint8_t { kNone, kPut, kDelete };

  Kind kind = Kind::kNone;
  RecordPtr record;  // the new record, for kPut

  static Change None() { return {}; }
  static Change Put(RecordPtr record) { return {Kind::kPut, std::move(record)}; }
  static Change Delete() { return {Kind::kDelete, nullptr}; }
};

// Receives the key's current record: null when the key is absent or expired.
using ApplyFn = std::function<Change(const RecordPtr& current)>;

struct Mutation {
  std::string key;
  ApplyFn apply;

  static Mutation Put(std::string key, RecordPtr record) {
    return {std::move(key), [r = std::move(record)](const RecordPtr&) { return Change::Put(r); }};
  }
  static Mutation Delete(std::string key) {
    return {std::move(key), [](const RecordPtr&) { return Change::Delete(); }};
  }
};

// Called exactly once per submitted write, when its group's outcome is known: OK only after
// the group is synced to the journal (and acknowledged by the replication gate) and
// published to the keyspace. `seq` is the journal position of the group (0 on failure).
// It runs on the committer thread (or the submitter's, when the write is refused at once),
// so it must be quick: hand the result to the connection's own executor.
using CommitCallback = std::function<void(const Status& status, uint64_t seq)>;

}  // namespace devstate
