#include "api/resp/command_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "api/resp/commands.h"

namespace devstate::resp {
namespace {

bool ByName(const CommandSpec& a, const CommandSpec& b) { return a.name < b.name; }

std::vector<CommandSpec> BuildTable() {
  std::vector<CommandSpec> table;
  AddStringCommands(&table);
  AddStringOpCommands(&table);
  AddStringBitCommands(&table);
  AddKeyCommands(&table);
  AddKeyspaceCommands(&table);
  AddConnectionCommands(&table);
  AddAclCommands(&table);
  AddServerCommands(&table);
  AddClusterCommands(&table);
  AddTransactionCommands(&table);
  AddReplicationCommands(&table);
  AddPubSubCommands(&table);
  AddHashCommands(&table);
  AddListCommands(&table);
  AddSetCommands(&table);
  AddZsetCommands(&table);
  AddStreamCommands(&table);
  AddGeoCommands(&table);
  AddSortCommands(&table);
  AddDumpCommands(&table);
  AddJsonCommands(&table);
  AddHllCommands(&table);
  std::sort(table.begin(), table.end(), ByName);
  for (CommandSpec& c : table) std::sort(c.subcommands.begin(), c.subcommands.end(), ByName);
  return table;
}

// `name` lower-cased into `buffer` (false if longer than it: no command is that long).
bool LowerInto(std::string_view name, char (&buffer)[64], std::string_view* lower) {
  if (name.size() > sizeof buffer) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    buffer[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  *lower = std::string_view(buffer, name.size());
  return true;
}

const CommandSpec* Find(const std::vector<CommandSpec>& rows, std::string_view name) {
  auto it = std::lower_bound(rows.begin(), rows.end(), name,
                             [](const CommandSpec& c, std::string_view n) { return c.name < n; });
  return it != rows.end() && it->name == name ? &*it : nullptr;
}

}  // namespace

const std::vector<CommandSpec>& CommandTable() {
  static const std::vector<CommandSpec> table = BuildTable();
  return table;
}

const CommandSpec* FindCommand(std::string_view name) {
  char buffer[64];
  std::string_view lower;
  return LowerInto(name, buffer, &lower) ? Find(CommandTable(), lower) : nullptr;
}

const CommandSpec* FindSubcommand(const CommandSpec& spec, std::string_view sub) {
  char buffer[64];
  std::string_view lower;
  if (spec.subcommands.empty() || spec.name.size() + 1 + sub.size() > sizeof buffer) return nullptr;
  const std::string full = fmt::format("{}|{}", spec.name, sub);
  if (!LowerInto(full, buffer, &lower)) return nullptr;
  return Find(spec.subcommands, lower);
}

const CommandSpec* ResolveCommand(const std::vector<std::string>& args) {
  const CommandSpec* spec = FindCommand(args[0]);
  if (spec == nullptr || spec->subcommands.empty() || args.size() < 2) return spec;
  return FindSubcommand(*spec, args[1]);
}

void ContainerHelp(Call& call) {
  const CommandSpec* container = FindCommand(call.args[0]);
  std::string upper(container->name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::vector<std::string> lines;
  lines.push_back(
      fmt::format("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper));
  for (const CommandSpec& sub : container->subcommands) {
    std::string name(sub.name.substr(sub.name.find('|') + 1));
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    lines.push_back(name);
    lines.push_back(fmt::format("    {}", sub.summary));
  }
  call.reply.Array(lines.size());
  for (const std::string& line : lines) call.reply.Simple(line);
}

std::string WrongArity(std::string_view command) {
  return fmt::format("ERR wrong number of arguments for '{}' command", Lower(command));
}

std::string UnknownCommand(const std::vector<std::string>& args) {
  // As Redis: the arguments quoted while their text is under 128 bytes, each cut to what
  // is left of those 128.
  std::string list;
  for (size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    list += fmt::format("'{}' ", std::string_view(args[i]).substr(0, 128 - list.size()));
  }
  return fmt::format("ERR unknown command '{}', with args beginning with: {}",
                     std::string_view(args[0]).substr(0, 128), list);
}

std::string UnknownSubcommand(std::string_view container, std::string_view sub) {
  std::string upper(container);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return fmt::format("ERR unknown subcommand '{}'. Try {} HELP.", sub.substr(0, 128), upper);
}

std::string StoreError(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNoReplicas:
      return "NOREPLICAS Not enough good replicas to write.";
    case Status::Code::kWriteRefused:
      return "MISCONF devstate refuses writes after a journal failure: " + s.message();
    case Status::Code::kNoSpace:
      return "MISCONF devstate cannot write: its disk is full (" + s.message() +
             "); reads go on, writes resume when space is freed";
    case Status::Code::kWrongType:
      return "WRONGTYPE Operation against a key holding the wrong kind of value";
    case Status::Code::kNotPrimary:
      return "READONLY You can't write against a read only replica.";
    case Status::Code::kFenced:
      return "CLUSTERDOWN " + s.message();
    case Status::Code::kShutdown:
      return "ERR the server is shutting down";
    default:
      return "ERR " + s.message();
  }
}

namespace {
// CRC16-CCITT (XModem), Redis Cluster's slot hash, a byte at a time from a table.
constexpr std::array<uint16_t, 256> kCrc16Table = [] {
  std::array<uint16_t, 256> table{};
  for (int byte = 0; byte < 256; ++byte) {
    uint16_t crc = static_cast<uint16_t>(byte << 8);
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[static_cast<size_t>(byte)] = crc;
  }
  return table;
}();
}  // namespace

uint16_t KeySlot(std::string_view key) {
  // A {hash tag} with something inside it decides the slot, as in Redis Cluster.
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  uint16_t crc = 0;
  for (char ch : key) {
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrc16Table[((crc >> 8) ^ static_cast<uint8_t>(ch)) & 0xff]);
  }
  return crc & 16383;
}

}  // namespace devstate::resp
