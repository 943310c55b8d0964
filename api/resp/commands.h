// The command families (private to api/resp). Each cmd_*.cc file holds one family's
// handlers and the table rows that name them, and adds the rows at start.
#pragma once

#include <vector>

#include "api/resp/command_table.h"

namespace devstate::resp {

void AddStringCommands(std::vector<CommandSpec>* table);      // cmd_string.cc
void AddStringOpCommands(std::vector<CommandSpec>* table);    // cmd_string_ops.cc: INCR APPEND ...
void AddStringBitCommands(std::vector<CommandSpec>* table);   // cmd_string_bits.cc: SETBIT LCS
void AddKeyCommands(std::vector<CommandSpec>* table);         // cmd_keys.cc
void AddKeyspaceCommands(std::vector<CommandSpec>* table);    // cmd_keyspace.cc: RENAME COPY OBJECT
void AddConnectionCommands(std::vector<CommandSpec>* table);  // cmd_connection.cc
void AddAclCommands(std::vector<CommandSpec>* table);         // cmd_acl.cc
void AddServerCommands(std::vector<CommandSpec>* table);      // cmd_server.cc: INFO CONFIG TIME
void AddClusterCommands(std::vector<CommandSpec>* table);     // cmd_cluster.cc: CLUSTER COMMAND
void AddTransactionCommands(std::vector<CommandSpec>* table);  // cmd_multi.cc
void AddReplicationCommands(std::vector<CommandSpec>* table);  // cmd_replication.cc
void AddPubSubCommands(std::vector<CommandSpec>* table);       // cmd_pubsub.cc
void AddHashCommands(std::vector<CommandSpec>* table);         // cmd_hash.cc
void AddListCommands(std::vector<CommandSpec>* table);         // cmd_list.cc
void AddSetCommands(std::vector<CommandSpec>* table);          // cmd_set.cc
void AddZsetCommands(std::vector<CommandSpec>* table);         // cmd_zset.cc
void AddGeoCommands(std::vector<CommandSpec>* table);          // cmd_geo.cc: GEO*
void AddStreamCommands(std::vector<CommandSpec>* table);       // cmd_stream.cc: X*
void AddSortCommands(std::vector<CommandSpec>* table);         // cmd_sort.cc: SORT SORT_RO
void AddDumpCommands(std::vector<CommandSpec>* table);         // cmd_dump.cc: DUMP RESTORE
void AddJsonCommands(std::vector<CommandSpec>* table);         // cmd_json.cc: JSON.*
void AddHllCommands(std::vector<CommandSpec>* table);          // cmd_hll.cc: PF*

// A container's HELP subcommand: its subcommands, each with its summary.
void ContainerHelp(Call& call);

}  // namespace devstate::resp
