// Config: every setting of the devstate process, and the one table that describes them.
//
// Each key has a name (`section.key`), a type, a default (the member initialiser below),
// bounds or choices, and a line of documentation. The table drives everything else: the
// TOML file is checked against it (an unknown key is an error), every key is also a
// command-line option `--section.key=value` that overrides the file, `--help` lists the keys
// with defaults, and docs/CONFIG.md is generated from it (`devstate --config-reference`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/status.h"

namespace devstate {

struct Config {
  // [store]
  std::string store_dir = "./data";
  int64_t store_max_group_mutations = 8192;
  // [log]
  std::string log_level = "info";
};

struct ConfigKey {
  std::string_view name;  // "section.key"
  std::string_view doc;
  std::variant<std::string Config::*, int64_t Config::*, bool Config::*> field;
  int64_t min = 0;  // integers: inclusive bounds
  int64_t max = 0;
  std::vector<std::string_view> choices = {};  // strings: allowed values, empty for any
};

const std::vector<ConfigKey>& ConfigKeys();

// The current value of `key` in `config`, as text.
std::string ConfigValueText(const Config& config, const ConfigKey& key);

// Sets `key` from text (command line), checking type and bounds.
Status SetConfigFromText(const ConfigKey& key, std::string_view text, Config* config);

// Applies a TOML document (as text; `origin` names it in errors) over `config`.
Status ApplyToml(std::string_view toml_text, std::string_view origin, Config* config);

// The Markdown reference of every key (docs/CONFIG.md).
std::string ConfigReference();

// What the command line asked for.
struct CommandLine {
  enum class Action { kRun, kHelp, kVersion, kReference } action = Action::kRun;
  std::string help_text;  // for kHelp
};

// Parses argv: `--config FILE` is read first, then each `--section.key=value` overrides it.
Status ParseCommandLine(int argc, const char* const* argv, Config* config, CommandLine* cli);

}  // namespace devstate
