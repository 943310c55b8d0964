// Handlers of the command table, by family (private to api/resp).
#pragma once

#include "api/resp/command_table.h"

namespace devstate::resp {

// cmd_keys.cc: strings and the keyspace
void CmdGet(Call& call);
void CmdMget(Call& call);
void CmdSet(Call& call);
void CmdSetnx(Call& call);
void CmdMset(Call& call);
void CmdDel(Call& call);
void CmdExists(Call& call);
void CmdType(Call& call);
void CmdKeys(Call& call);
void CmdScan(Call& call);
void CmdDbsize(Call& call);
void CmdTtl(Call& call);
void CmdPttl(Call& call);
void CmdExpire(Call& call);
void CmdPexpire(Call& call);
void CmdPersist(Call& call);

// cmd_server.cc: connection, server and cluster
void CmdPing(Call& call);
void CmdEcho(Call& call);
void CmdQuit(Call& call);
void CmdReset(Call& call);
void CmdSelect(Call& call);
void CmdHello(Call& call);
void CmdAuth(Call& call);
void CmdAcl(Call& call);
void CmdInfo(Call& call);
void CmdClient(Call& call);
void CmdConfig(Call& call);
void CmdTime(Call& call);
void CmdCommand(Call& call);
void CmdCluster(Call& call);
void CmdReadonly(Call& call);
void CmdReadwrite(Call& call);

// Shared helpers.
bool ParseInt64(std::string_view text, int64_t* v);
bool EqualsNoCase(std::string_view a, std::string_view b);
std::string Lower(std::string_view s);

}  // namespace devstate::resp
