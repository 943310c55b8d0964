// Transactions: MULTI EXEC DISCARD WATCH UNWATCH, as Redis's multi.c. The dispatcher queues the
// commands sent after MULTI (Dispatch, "QUEUED") and marks the transaction failed when one
// is refused; EXEC then runs the queued commands inside ONE commit group, in order,
// against the group's view of the store: atomic (all in one journal write) and isolated
// (no other write interleaves), as Redis's EXEC is. Its reply, the array of theirs, goes
// out once that group is committed and acknowledged.
#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"

namespace devstate::resp {
namespace {

void CmdMulti(Call& call) {
  ClientState& c = call.client;
  if (c.in_multi) return call.reply.Error("ERR MULTI calls can not be nested");
  c.in_multi = true;
  c.multi_failed = false;
  c.queued.clear();
  c.multi_commands = 0;
  call.reply.Ok();
}

void CmdDiscard(Call& call) {
  if (!call.client.in_multi) return call.reply.Error("ERR DISCARD without MULTI");
  call.client.EndTransaction();
  call.reply.Ok();
}

// WATCH key...: EXEC runs only if none of them was written (or expired) since; it is
// checked inside EXEC's commit group, so a write from anywhere (another client, ingest, an
// expiry) that comes first aborts it, and none can come between the check and the run.
void CmdWatch(Call& call) {
  ClientState& c = call.client;
  if (c.in_multi) return call.reply.Error("ERR WATCH inside MULTI is not allowed");
  for (size_t i = 1; i < call.args.size(); ++i) {
    const std::string& key = call.args[i];
    bool known = false;
    for (const auto& w : c.watched) known = known || w.first == key;
    if (!known) c.watched.emplace_back(key, call.service().Get(key));
  }
  call.reply.Ok();
}

void CmdUnwatch(Call& call) {
  call.client.watched.clear();
  call.reply.Ok();
}

void CmdExec(Call& call) {
  ClientState& c = call.client;
  // MONITOR shows EXEC after the commands it ran (Dispatch leaves it to this handler).
  auto monitor = [server = &call.server, peer = c.addr, args = call.args] {
    if (server->monitors.any()) server->monitors.Feed(peer, args);
  };
  if (!c.in_multi) {
    monitor();
    return call.reply.Error("ERR EXEC without MULTI");
  }
  if (c.multi_failed) {
    monitor();
    c.EndTransaction();
    return call.reply.Error("EXECABORT Transaction discarded because of previous errors.");
  }
  auto commands = std::make_shared<std::vector<std::vector<std::string>>>(std::move(c.queued));
  auto watched =
      std::make_shared<std::vector<std::pair<std::string, RecordPtr>>>(std::move(c.watched));
  c.EndTransaction();
  auto replies = std::make_shared<std::string>();
  auto aborted = std::make_shared<bool>(false);
  auto events = std::make_shared<std::vector<KeyEvent>>();  // sent once EXEC is committed
  // The txn runs on the committing thread while this connection waits for EXEC's reply
  // (nothing after an EXEC runs before it is answered), so the client and server state
  // it touches are not used concurrently; the pending reply keeps the connection alive.
  ClientState* client = &c;
  ServerState* server = &call.server;
  size_t weight = 0;
  for (const auto& args : *commands) weight += args.size();
  Mutation txn = Mutation::Txn(
      [commands, replies, client, server, watched, aborted, events, monitor](KeyView& view) {
        for (const auto& [key, record] : *watched) {
          if (view.Get(key) != record) {
            *aborted = true;  // written since WATCH: nothing runs
            return monitor();
          }
        }
        for (std::vector<std::string>& args : *commands) {
          Call inner{args,
                     *client,
                     *server,
                     ReplyWriter(replies.get(), client->protocol, &server->error_replies),
                     {}};
          inner.view = &view;
          inner.exec_events = events.get();
          // A command inside EXEC answers at once (Commit applies to the view): a reply
          // handed over later would land out of place, so there is none.
          inner.defer = [replies]() -> Responder {
            return [replies](std::string reply) { replies->append(reply); };
          };
          Dispatch(inner);
        }
        monitor();
      },
      weight);
  Commit(
      call, {std::move(txn)},
      [commands, replies, aborted, events, notifier = &call.service().notifier()](ReplyWriter& w) {
        if (*aborted) return w.NullArray();
        w.Array(commands->size());
        w.out()->append(*replies);
        Send(*notifier, *events);
      });
}

}  // namespace

void AddTransactionCommands(std::vector<CommandSpec>* t) {
  const uint32_t base = kNoScript | kLoading | kStale | kNoQueue;
  t->insert(t->end(), {
                          {"multi",
                           1,
                           base | kFast,
                           0,
                           0,
                           0,
                           {"fast", "transaction"},
                           CmdMulti,
                           "Mark the start of a transaction block"},
                          {"exec",
                           1,
                           base | kBarrier,
                           0,
                           0,
                           0,
                           {"slow", "transaction"},
                           CmdExec,
                           "Execute all commands issued after MULTI"},
                          {"watch",
                           -2,
                           base | kFast,
                           1,
                           -1,
                           1,
                           {"fast", "transaction"},
                           CmdWatch,
                           "Watch the given keys to determine execution of the MULTI/EXEC block"},
                          {"unwatch",
                           1,
                           kNoScript | kLoading | kStale | kFast,
                           0,
                           0,
                           0,
                           {"fast", "transaction"},
                           CmdUnwatch,
                           "Forget about all watched keys"},
                          {"discard",
                           1,
                           base | kFast,
                           0,
                           0,
                           0,
                           {"fast", "transaction"},
                           CmdDiscard,
                           "Discard all commands issued after MULTI"},
                      });
}

}  // namespace devstate::resp
