// Keyspace notifications of RESP writes (Redis's notifyKeyspaceEvent calls). While
// notifications are on, a write command's mutations run through a recording view that
// notes which keys they set or removed; once the write is committed, the events Redis
// raises for that command and those keys are sent (service/notifier.h). A write refused or
// not acknowledged raises nothing. Private to api/resp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/resp/command_table.h"
#include "service/notifier.h"
#include "store/mutation.h"

namespace devstate::resp {

struct KeyChange {
  std::string key;
  RecordPtr record;  // the new record; null: the key was removed
  bool created = false;
  bool expiry_kept = false;  // it had the same expiry before (SET KEEPTTL: no "expire")
};

struct ChangeLog {
  bool track_new = false;  // note whether each key set was new (costs a lookup)
  std::vector<KeyChange> changes;
};

// Whether `command` (a CommandSpec name) raises keyspace events.
bool RaisesEvents(std::string_view command);
// `m`, with what it changes noted in `log`.
Mutation Recorded(Mutation m, std::shared_ptr<ChangeLog> log);
// The events `command` raises for `changes`, in Redis's order.
void EventsOf(std::string_view command, const std::vector<KeyChange>& changes,
              std::vector<KeyEvent>* out);
void Send(Notifier& notifier, const std::vector<KeyEvent>& events);

}  // namespace devstate::resp
