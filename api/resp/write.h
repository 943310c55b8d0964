// How every command family reads and writes keys (private to api/resp).
//
// Live() reads a key as the command sees it: from memory, or through the transaction's
// view inside an EXEC. Commit() hands a command's mutations to the commit pipeline and
// answers once they are committed (acknowledged by the journal and the replicas the gate
// requires): `answer(writer)` writes the reply then, from the thread that completes the
// commit. Inside an EXEC the mutations apply to the transaction's view at once and the
// reply is written immediately; the EXEC's own commit answers for all of them.
// Keyspace notifications of a write are sent once it is committed, never before.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/resp/command_table.h"
#include "api/resp/notify.h"
#include "service/record_types.h"

namespace devstate::resp {

// A plain Redis string record. `meta` "raw" marks a string edited in place (APPEND,
// SETRANGE), which Redis keeps in its raw encoding whatever its length (OBJECT ENCODING).
inline constexpr std::string_view kRawStringMeta = "raw";
inline RecordPtr StringRecord(std::string value, int64_t expire_at_ms, std::string_view meta = {}) {
  auto r = std::make_shared<Record>();
  r->type = kStringRecordType;
  r->value = std::move(value);
  r->expire_at_ms = expire_at_ms;
  r->meta = meta;
  return r;
}

// The clock a command reads: the transaction's inside an EXEC, else the service's.
inline int64_t Now(Call& call) { return call.view ? call.view->NowMs() : call.service().NowMs(); }

inline constexpr std::string_view kWrongTypeError =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kSyntaxError = "ERR syntax error";
inline constexpr std::string_view kNotIntegerError = "ERR value is not an integer or out of range";

// An expiry argument as Redis's getExpireMillisecondsOrReply reads it: a positive number
// (seconds or milliseconds), relative to now unless `absolute`. Empty `error` when valid.
inline int64_t ExpireAt(std::string_view text, bool seconds, bool absolute, int64_t now,
                        std::string_view command, std::string* error) {
  int64_t v = 0;
  if (!ParseInt64(text, &v)) {
    *error = kNotIntegerError;
    return 0;
  }
  const std::string invalid = fmt::format("ERR invalid expire time in '{}' command", command);
  if (v <= 0 || (seconds && v > INT64_MAX / 1000)) {
    *error = invalid;
    return 0;
  }
  if (seconds) v *= 1000;
  if (!absolute) {
    if (v > INT64_MAX - now) {
      *error = invalid;
      return 0;
    }
    v += now;
  }
  return v;
}

inline RecordPtr Live(Call& call, std::string_view key) {
  RecordPtr r = call.view != nullptr ? call.view->Get(key) : call.service().Get(key);
  (r ? call.server.keyspace_hits : call.server.keyspace_misses)
      .fetch_add(1, std::memory_order_relaxed);
  return r;
}

// -MOVED to the primary for a key's slot when the primary is known, else -READONLY.
inline std::string NotPrimaryError(DeviceService& service, int slot, const Status& s) {
  if (slot >= 0) {
    const RoleView role = service.Role();
    if (!role.primary && role.primary_port != 0)
      return "MOVED " + std::to_string(slot) + " " + role.primary_host + ":" +
             std::to_string(role.primary_port);
  }
  return StoreError(s);
}

template <typename Answer>
void Commit(Call& call, std::vector<Mutation> mutations, Answer answer) {
  // Keyspace notifications (notify.h): only while they are on, the mutations are recorded.
  Notifier& notifier = call.service().notifier();
  std::shared_ptr<ChangeLog> log;
  const std::string_view command = call.spec != nullptr ? call.spec->name : std::string_view();
  if ((notifier.flags() & (Notifier::kKeyspace | Notifier::kKeyevent)) != 0 &&
      RaisesEvents(command)) {
    log = std::make_shared<ChangeLog>();
    log->track_new = (notifier.flags() & Notifier::kNew) != 0;
    for (Mutation& m : mutations) m = Recorded(std::move(m), log);
  }
  if (call.view != nullptr) {
    for (Mutation& m : mutations) ApplyTo(m, *call.view);
    if (log && call.exec_events != nullptr) EventsOf(command, log->changes, call.exec_events);
    return answer(call.reply);
  }
  // A write refused because this node stopped being primary while it waited (FAILOVER) is
  // sent after the primary, as Dispatch sends the writes that arrive after.
  const int slot = call.args.size() > 1 ? KeySlot(call.args[1]) : -1;
  auto finish = [respond = call.defer(), protocol = call.protocol(),
                 errors = &call.server.error_replies, service = &call.service(), slot,
                 answer = std::move(answer), log = std::move(log),
                 command](const Status& s) mutable {
    std::string out;
    ReplyWriter w(&out, protocol, errors);
    if (!s.ok()) {
      w.Error(s.code() == Status::Code::kNotPrimary ? NotPrimaryError(*service, slot, s)
                                                    : StoreError(s));
    } else {
      answer(w);
      if (log) {
        std::vector<KeyEvent> events;
        EventsOf(command, log->changes, &events);
        Send(service->notifier(), events);
      }
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
