// ReplyOrder: the replies one connection owes, in the order its commands arrived, and when
// each command may run. No sockets and no threads: the session drives it, a test can too.
//
// A command runs as soon as nothing ahead of it forbids it:
//   - a write may run (be handed to the commit pipeline, which keeps submission order)
//     while earlier writes still wait for their commits;
//   - a read must see every earlier write's outcome (read-your-writes in a pipeline), so
//     it waits until everything ahead of it is answered;
//   - a barrier (EXEC) waits like a read and, until it is answered, holds back everything
//     behind it.
// A command that may not run yet is kept, with its arguments, and handed out by
// NextRunnable() once it may; commands run in arrival order, only their answers overlap.
// Not thread-safe: used on the connection's thread only.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace devstate::resp {

struct CommandSpec;

class ReplyOrder {
 public:
  enum class Kind { kRead, kWrite, kBarrier };

  struct Slot {
    Kind kind = Kind::kRead;
    bool waiting = false;  // kept until it may run: args and spec below
    std::vector<std::string> args;
    const CommandSpec* spec = nullptr;
    bool ready = false;        // answered: reply holds its bytes
    bool close_after = false;  // the connection closes once this reply is written
    std::string reply;
    std::shared_ptr<void> hold;  // whatever the session keeps alive until it is answered
  };

  bool empty() const { return slots_.empty(); }
  size_t size() const { return slots_.size(); }

  // Whether a command of `kind` arriving now may run at once.
  bool MayRun(Kind kind) const;

  // A command arrives: its slot at the back. The caller either runs it (filling reply,
  // ready) or, when !MayRun(kind), marks it waiting with its arguments.
  std::shared_ptr<Slot> Add(Kind kind);

  // The first waiting slot, if it may run now (its waiting flag cleared); else null.
  std::shared_ptr<Slot> NextRunnable();

  // Appends the answered replies at the front to *out and drops their slots, stopping after
  // one that closes the connection. Returns whether it did.
  bool TakeReady(std::string* out);

 private:
  std::deque<std::shared_ptr<Slot>> slots_;
};

}  // namespace devstate::resp
