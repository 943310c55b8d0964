#include "service/config.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <toml++/toml.h>

#include "service/version.h"

namespace devstate {
namespace {

using S = std::string Config::*;
using I = int64_t Config::*;

const ConfigKey* FindKey(std::string_view name) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

Status CheckInteger(const ConfigKey& key, int64_t v, Config* config) {
  if (v < key.min || v > key.max) {
    return Status::InvalidArgument(
        fmt::format("{} must be between {} and {}, not {}", key.name, key.min, key.max, v));
  }
  config->*std::get<I>(key.field) = v;
  return Status::OK();
}

Status CheckString(const ConfigKey& key, std::string_view v, Config* config) {
  if (!key.choices.empty()) {
    bool allowed = false;
    for (std::string_view c : key.choices) allowed = allowed || c == v;
    if (!allowed) {
      return Status::InvalidArgument(fmt::format("{} must be one of {}, not '{}'", key.name,
                                                 fmt::join(key.choices, ", "), v));
    }
  }
  config->*std::get<S>(key.field) = std::string(v);
  return Status::OK();
}

std::string TypeName(const ConfigKey& key) {
  if (std::holds_alternative<I>(key.field)) return fmt::format("integer {}..{}", key.min, key.max);
  if (std::holds_alternative<bool Config::*>(key.field)) return "bool";
  if (!key.choices.empty()) return fmt::format("{}", fmt::join(key.choices, "|"));
  return "string";
}

}  // namespace

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> keys = {
      {.name = "store.dir",
       .doc = "RocksDB directory: the journal and the durable state",
       .field = &Config::store_dir},
      {.name = "store.max_group_mutations",
       .doc = "most mutations one commit group (one fsync) may carry",
       .field = &Config::store_max_group_mutations,
       .min = 1,
       .max = 1 << 20},
      {.name = "log.level",
       .doc = "log verbosity",
       .field = &Config::log_level,
       .choices = {"trace", "debug", "info", "warn", "error", "off"}},
  };
  return keys;
}

std::string ConfigValueText(const Config& config, const ConfigKey& key) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = config.*member;
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      key.field);
}

Status SetConfigFromText(const ConfigKey& key, std::string_view text, Config* config) {
  if (std::holds_alternative<S>(key.field)) return CheckString(key, text, config);
  if (std::holds_alternative<I>(key.field)) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status::InvalidArgument(fmt::format("{} must be an integer, not '{}'", key.name, text));
    }
    return CheckInteger(key, v, config);
  }
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    config->*std::get<bool Config::*>(key.field) = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    config->*std::get<bool Config::*>(key.field) = false;
  } else {
    return Status::InvalidArgument(fmt::format("{} must be true or false, not '{}'", key.name, text));
  }
  return Status::OK();
}

Status ApplyToml(std::string_view toml_text, std::string_view origin, Config* config) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(
        fmt::format("{}:{}:{}: {}", origin, where.line, where.column, e.description()));
  }
  for (auto&& [section, node] : root) {
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return Status::InvalidArgument(
          fmt::format("{}: '{}' must be a [section], keys are section.key", origin, section.str()));
    }
    for (auto&& [name, value] : *table) {
      const std::string full = fmt::format("{}.{}", section.str(), name.str());
      const ConfigKey* key = FindKey(full);
      if (key == nullptr) {
        return Status::InvalidArgument(fmt::format("{}: unknown key '{}'", origin, full));
      }
      Status s;
      if (std::holds_alternative<S>(key->field)) {
        if (!value.is_string()) {
          return Status::InvalidArgument(fmt::format("{}: {} must be a string", origin, full));
        }
        s = CheckString(*key, value.as_string()->get(), config);
      } else if (std::holds_alternative<I>(key->field)) {
        if (!value.is_integer()) {
          return Status::InvalidArgument(fmt::format("{}: {} must be an integer", origin, full));
        }
        s = CheckInteger(*key, value.as_integer()->get(), config);
      } else {
        if (!value.is_boolean()) {
          return Status::InvalidArgument(fmt::format("{}: {} must be true or false", origin, full));
        }
        config->*std::get<bool Config::*>(key->field) = value.as_boolean()->get();
      }
      if (!s.ok()) return Status::InvalidArgument(fmt::format("{}: {}", origin, s.message()));
    }
  }
  return Status::OK();
}

std::string ConfigReference() {
  const Config defaults;
  std::string out =
      "# devstate configuration reference\n\n"
      "Generated by `devstate --config-reference` from the config table in "
      "`service/config.cc`.\n"
      "Every key can be set in the TOML file given with `--config FILE` (as `key = value` "
      "under `[section]`) and overridden on the command line as `--section.key=value`.\n\n"
      "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const ConfigKey& key : ConfigKeys()) {
    out += fmt::format("| `{}` | {} | `{}` | {} |\n", key.name, TypeName(key),
                       ConfigValueText(defaults, key), key.doc);
  }
  return out;
}

Status ParseCommandLine(int argc, const char* const* argv, Config* config, CommandLine* cli) {
  CLI::App app{"devstate: a durable, Redis-compatible store for the latest state of IoT devices",
               "devstate"};
  app.get_formatter()->column_width(40);
  std::string config_file;
  bool version = false;
  bool reference = false;
  app.add_option("-c,--config", config_file, "TOML configuration file");
  app.add_flag("--version", version, "print the version and exit");
  app.add_flag("--config-reference", reference, "print the configuration reference (Markdown)");

  const Config defaults;
  std::vector<std::optional<std::string>> overrides(ConfigKeys().size());
  for (size_t i = 0; i < ConfigKeys().size(); ++i) {
    const ConfigKey& key = ConfigKeys()[i];
    app.add_option(fmt::format("--{}", key.name), overrides[i], std::string(key.doc))
        ->type_name(TypeName(key))
        ->default_str(ConfigValueText(defaults, key))
        ->group("Configuration keys (override the file)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    cli->action = CommandLine::Action::kHelp;
    cli->help_text = app.help();
    return Status::OK();
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  }
  if (version) {
    cli->action = CommandLine::Action::kVersion;
    return Status::OK();
  }
  if (reference) {
    cli->action = CommandLine::Action::kReference;
    return Status::OK();
  }

  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) return Status::InvalidArgument(fmt::format("cannot read config file '{}'", config_file));
    std::stringstream text;
    text << in.rdbuf();
    Status s = ApplyToml(text.str(), config_file, config);
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < overrides.size(); ++i) {
    if (!overrides[i]) continue;
    Status s = SetConfigFromText(ConfigKeys()[i], *overrides[i], config);
    if (!s.ok()) return s;
  }
  cli->action = CommandLine::Action::kRun;
  return Status::OK();
}

}  // namespace devstate
