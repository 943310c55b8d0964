// Blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP): the
// try, the wait and how it ends. Private to api/resp.
//
// The command first tries in a commit group, as any write does. Finding nothing, it waits
// in the pipeline, registered from inside that same group, for a write to one of its keys
// (store/waiters.h); its connection runs nothing after it meanwhile (a barrier, as Redis
// blocks the client). The wait ends in one of four ways:
//   - served: a group that wrote one of the keys took what the command waits for, oldest
//     waiter first; the reply comes with that group's acknowledgement, so nothing a
//     client is told it took can be lost in a failover;
//   - the timeout (seconds, a float; 0 waits for ever) or CLIENT UNBLOCK: a cancel, queued
//     in commit order, removes the waiter and the reply is null (or -UNBLOCKED); a cancel
//     that finds it already served leaves the served reply to come;
//   - the connection closes: the same cancel, and from then on the waiter takes nothing;
//   - the node stops taking writes (demoted, journal failure): the error.
// Inside an EXEC the command does not wait: it tries once and answers null, as in Redis.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/resp/command_table.h"

namespace devstate::resp {

struct Blocking {
  std::vector<std::string> keys;
  int64_t timeout_ms = 0;  // 0: waits for ever
  // Tries to take through `view`: true when it took, or decided (an error to reply); false
  // when there is nothing to take. What it took stays in its own captured state for
  // `reply`. `woken`: a write woke it, and a key holding another type then counts as empty
  // (Redis keeps such a client waiting) instead of an error. Runs on the committing thread.
  std::function<bool(KeyView& view, bool woken)> take;
  std::function<void(ReplyWriter& w)> reply;      // once `take` returned true
  std::function<void(ReplyWriter& w)> timed_out;  // the null reply
  // Inside an EXEC, with nothing to take, when not timed_out's (BLMOVE answers as LMOVE).
  std::function<void(ReplyWriter& w)> nothing_in_exec;
  std::string_view events;  // notify.cc's row for what a take raises
};

// Runs a blocking command: answers through `call` (deferred) as above.
void Block(Call& call, Blocking blocking);

// A blocking read (XREAD BLOCK) on a node that does not take writes, a replica: it cannot
// wait in the pipeline, so it waits on the keyspace (store/read_waiters.h) and reads it
// again after each publish of one of its keys - a group from the primary applied here, or,
// once this node is promoted, a group it committed. It registers before its first read, so
// no publish falls between. Timeout, CLIENT UNBLOCK and a closed connection end it as they
// end Block's waits; nothing is written, so nothing needs the pipeline's order.
struct ReadBlocking {
  std::vector<std::string> keys;
  int64_t timeout_ms = 0;  // 0: waits for ever
  // Reads the live keyspace: true when decided (found something, or an error to reply).
  // `woken`: after a publish rather than the first read. Runs on the connection's thread or
  // on a publishing thread, never two at once for one wait.
  std::function<bool(bool woken)> read;
  std::function<void(ReplyWriter& w)> reply;      // once `read` returned true
  std::function<void(ReplyWriter& w)> timed_out;  // the null reply
};

// Runs a blocking read as above: answers through `call` (deferred) and returns true; false,
// having done nothing, when the read cannot wait that way here (inside an EXEC, or a
// service that lends no ReadWaiters): the caller then uses Block.
bool BlockRead(Call& call, ReadBlocking blocking);

// A blocking command's timeout: seconds as a float, rounded up to milliseconds, as Redis
// reads it. False (and the error replied) when it is not one, negative or out of range.
bool ParseBlockTimeout(Call& call, std::string_view text, int64_t* ms);

}  // namespace devstate::resp
