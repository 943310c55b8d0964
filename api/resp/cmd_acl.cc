// ACL CAT HELP LIST LOAD LOG USERS WHOAMI. Users live in the ACL file (acl.file); the
// subcommands that would edit them in memory (SETUSER DELUSER SAVE ...) say so.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/resp/commands.h"

namespace devstate::resp {
namespace {

acl::Acl& Users(Call& call) { return *call.server.acl; }

void CmdAclWhoami(Call& call) { call.reply.Bulk(call.client.username); }

void CmdAclUsers(Call& call) {
  const auto users = Users(call).Users();
  call.reply.Array(users.size());
  for (const auto& u : users) call.reply.Bulk(u->name);
}

void CmdAclList(Call& call) {
  const auto users = Users(call).Users();
  call.reply.Array(users.size());
  for (const auto& u : users) call.reply.Bulk(u->Describe());
}

void CmdAclCat(Call& call) {
  const auto& all = acl::Categories();
  if (call.args.size() == 2) {
    call.reply.Array(all.size());
    for (std::string_view c : all) call.reply.Bulk(c);
    return;
  }
  if (call.args.size() > 3) return call.reply.Error(WrongArity("acl|cat"));
  const std::string category = Lower(call.args[2]);
  if (std::find(all.begin(), all.end(), category) == all.end()) {
    return call.reply.Error(fmt::format("ERR Unknown category '{}'", call.args[2]));
  }
  std::vector<std::string_view> names;
  auto in = [&](const CommandSpec& c) {
    return std::find(c.categories.begin(), c.categories.end(), category) != c.categories.end();
  };
  for (const CommandSpec& c : CommandTable()) {
    if (in(c)) names.push_back(c.name);
    for (const CommandSpec& sc : c.subcommands) {
      if (in(sc)) names.push_back(sc.name);
    }
  }
  call.reply.Array(names.size());
  for (std::string_view name : names) call.reply.Bulk(name);
}

void CmdAclLoad(Call& call) {
  const Status s = Users(call).Reload();
  if (!s.ok()) return call.reply.Error("ERR " + s.message());
  spdlog::info("resp: ACL reloaded by client {} ({})", call.client.id, call.client.addr);
  call.reply.Ok();
}

void CmdAclLog(Call& call) {
  if (call.args.size() > 3) return call.reply.Error(WrongArity("acl|log"));
  size_t count = 10;
  if (call.args.size() == 3) {
    if (EqualsNoCase(call.args[2], "reset")) {
      Users(call).ResetLog();
      return call.reply.Ok();
    }
    int64_t v = 0;
    if (!ParseInt64(call.args[2], &v) || v < 0) {
      return call.reply.Error("ERR value is out of range, must be positive");
    }
    count = static_cast<size_t>(v);
  }
  const int64_t now = call.service().NowMs();
  const auto entries = Users(call).LogEntries(count);
  ReplyWriter& w = call.reply;
  w.Array(entries.size());
  for (const acl::LogEntry& e : entries) {
    w.Map(10);
    w.Bulk("count");
    w.Integer(static_cast<int64_t>(e.count));
    w.Bulk("reason");
    w.Bulk(e.reason);
    w.Bulk("context");
    w.Bulk(e.context);
    w.Bulk("object");
    w.Bulk(e.object);
    w.Bulk("username");
    w.Bulk(e.username);
    w.Bulk("age-seconds");
    w.Double(static_cast<double>(now - e.created_ms) / 1000.0);
    w.Bulk("client-info");
    w.Bulk(e.client_info);
    w.Bulk("entry-id");
    w.Integer(static_cast<int64_t>(e.entry_id));
    w.Bulk("timestamp-created");
    w.Integer(e.created_ms);
    w.Bulk("timestamp-last-updated");
    w.Integer(e.updated_ms);
  }
}

void CmdAclFromFile(Call& call) {
  call.reply.Error(fmt::format(
      "ERR ACL {} is not supported: users live in the ACL file (acl.file); edit it and run ACL "
      "LOAD",
      Lower(call.args[1])));
}

}  // namespace

void AddAclCommands(std::vector<CommandSpec>* t) {
  const uint32_t base = kNoScript | kLoading | kStale;
  const std::vector<std::string_view> admin = {"admin", "slow", "dangerous"};
  const std::vector<std::string_view> slow = {"slow"};
  std::vector<CommandSpec> subs = {
      {"acl|cat", -2, base, 0, 0, 0, slow, CmdAclCat,
       "List the ACL categories or the commands inside a category"},
      {"acl|help", 2, kLoading | kStale, 0, 0, 0, slow, ContainerHelp,
       "Show helpful text about the different subcommands"},
      {"acl|list", 2, kAdmin | base, 0, 0, 0, admin, CmdAclList,
       "List the current ACL rules in ACL config file format"},
      {"acl|load", 2, kAdmin | base, 0, 0, 0, admin, CmdAclLoad,
       "Reload the ACLs from the configured ACL file"},
      {"acl|log", -2, kAdmin | base, 0, 0, 0, admin, CmdAclLog,
       "List latest events denied because of ACLs in place"},
      {"acl|users", 2, kAdmin | base, 0, 0, 0, admin, CmdAclUsers,
       "List the username of all the configured ACL rules"},
      {"acl|whoami", 2, base, 0, 0, 0, slow, CmdAclWhoami,
       "Return the name of the user associated to the current connection"},
  };
  for (std::string_view name :
       {"acl|setuser", "acl|deluser", "acl|save", "acl|genpass", "acl|getuser", "acl|dryrun"}) {
    subs.push_back({name, -2, kAdmin | base, 0, 0, 0, admin, CmdAclFromFile,
                    "Not supported: users live in the ACL file"});
  }
  t->push_back({"acl", -2, kStale | kLoading, 0, 0, 0, slow, nullptr,
                "A container for Access List Control commands", std::move(subs)});
}

}  // namespace devstate::resp
