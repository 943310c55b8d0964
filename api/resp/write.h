// How every command family reads and writes keys (private to api/resp).
//
// Live() reads a key as the command sees it: from memory, or through the transaction's
// view inside an EXEC. Commit() hands a command's mutations to the commit pipeline and
// answers once they are committed (acknowledged by the journal and the replicas the gate
// requires): `answer(writer)` writes the reply then, from the thread that completes the
// commit. Inside an EXEC the mutations apply to the transaction's view at once and the
// reply is written immediately; the EXEC's own commit answers for all of them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "api/resp/command_table.h"

namespace devstate::resp {

inline RecordPtr Live(Call& call, std::string_view key) {
  RecordPtr r = call.view != nullptr ? call.view->Get(key) : call.service().Get(key);
  (r ? call.server.keyspace_hits : call.server.keyspace_misses)
      .fetch_add(1, std::memory_order_relaxed);
  return r;
}

template <typename Answer>
void Commit(Call& call, std::vector<Mutation> mutations, Answer answer) {
  if (call.view != nullptr) {
    for (Mutation& m : mutations) ApplyTo(m, *call.view);
    return answer(call.reply);
  }
  auto finish = [respond = call.defer(), protocol = call.protocol(),
                 errors = &call.server.error_replies,
                 answer = std::move(answer)](const Status& s) mutable {
    std::string out;
    ReplyWriter w(&out, protocol, errors);
    if (!s.ok()) {
      w.Error(StoreError(s));
    } else {
      answer(w);
    }
    respond(std::move(out));
  };
  if (call.batch != nullptr) {
    for (Mutation& m : mutations) call.batch->mutations.push_back(std::move(m));
    call.batch->finishers.push_back(std::move(finish));
    return;
  }
  call.service().Write(std::move(mutations), [finish = std::move(finish)](
                                                 const Status& s, uint64_t) mutable { finish(s); });
}

}  // namespace devstate::resp
