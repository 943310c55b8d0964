// Config: every setting of the devstate process, and the one table that describes them.
//
// Each key has a name (`section.key`), a type, a default (the member initialiser below),
// bounds or choices, and a line of documentation. A default is defined once: where the
// setting belongs to a store or service struct, the initialiser reads that struct's
// default; the api/ option structs keep none and are built from Config (api/options.h). The table
// drives everything else: the TOML file is checked against it (an unknown key is an error), every
// key is also a command-line option `--section.key=value` that overrides the file, `--help` lists
// the keys with defaults, and docs/CONFIG.md is generated from it (`devstate --config-reference`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "service/event.h"
#include "service/expiry_sweeper.h"
#include "store/status.h"
#include "store/store.h"

namespace devstate {

struct Config {
  // [store]
  std::string store_dir = "./data";
  int64_t store_max_group_mutations = static_cast<int64_t>(StoreOptions{}.max_group_mutations);
  int64_t store_max_inline_mutations = static_cast<int64_t>(StoreOptions{}.max_inline_mutations);
  int64_t store_write_buffer_mb = static_cast<int64_t>(StoreOptions{}.write_buffer_mb);
  // [expiry]
  int64_t expiry_sweep_interval_ms = SweepOptions{}.interval.count();
  int64_t expiry_sweep_keys = static_cast<int64_t>(SweepOptions{}.keys_per_pass);
  // [http]
  std::string http_bind = "127.0.0.1";
  int64_t http_port = 8080;
  int64_t http_threads = 1;
  int64_t http_max_body_bytes = 8 << 20;
  int64_t http_max_header_bytes = 16 << 10;
  int64_t http_header_timeout_ms = 10000;
  int64_t http_body_timeout_ms = 30000;
  int64_t http_idle_timeout_ms = 60000;
  int64_t http_max_connections = 10000;
  int64_t http_max_pipeline = 16;
  bool http_tls = false;
  // [resp]
  std::string resp_bind = "127.0.0.1";
  std::string resp_notify_keyspace_events;
  int64_t resp_port = 6379;
  int64_t resp_threads = 1;
  int64_t resp_max_clients = 10000;
  int64_t resp_idle_timeout_s = 0;
  int64_t resp_max_pipeline = 1024;
  int64_t resp_hash_max_listpack_entries = 128;
  int64_t resp_hash_max_listpack_value = 64;
  int64_t resp_zset_max_listpack_entries = 128;
  int64_t resp_zset_max_listpack_value = 64;
  int64_t resp_set_max_intset_entries = 512;
  int64_t resp_slowlog_log_slower_than_us = 10000;
  int64_t resp_slowlog_max_len = 128;
  int64_t resp_busy_poll_us = 50;
  bool resp_tls = false;
  // [tls]
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string tls_verify_clients = "no";
  // [acl]
  std::string acl_file;
  std::string acl_tokens_file;
  int64_t acl_auth_failure_delay_ms = 200;
  int64_t acl_auth_failure_budget = 10;
  int64_t acl_auth_max_delay_ms = 10000;
  // [mqtt]
  std::string mqtt_broker = "tcp://127.0.0.1:1883";
  std::string mqtt_topic = "devices/+/state";
  std::string mqtt_client_id = "devstate";
  std::string mqtt_ack = "after_commit";
  std::string mqtt_version = "3.1.1";
  int64_t mqtt_max_inflight = 4096;
  int64_t mqtt_max_inflight_bytes = 16 << 20;
  int64_t mqtt_session_expiry_s = 4294967295;
  int64_t mqtt_max_packet_bytes = 1 << 20;
  bool mqtt_publish_rejected = true;
  int64_t mqtt_keepalive_s = 30;
  int64_t mqtt_reconnect_min_ms = 100;
  int64_t mqtt_reconnect_max_ms = 5000;
  std::string mqtt_username;
  std::string mqtt_password;
  std::string mqtt_password_file;
  std::string mqtt_ca;
  std::string mqtt_cert;
  std::string mqtt_key;
  // [limits]
  int64_t limits_max_event_bytes = static_cast<int64_t>(EventLimits{}.max_bytes);
  int64_t limits_max_batch_events = 10000;
  int64_t limits_max_bulk_bytes = 8 << 20;
  int64_t limits_max_multibulk = 1024 * 1024;
  int64_t limits_max_query_buffer_bytes = 64 << 20;
  int64_t limits_max_output_buffer_bytes = 64 << 20;
  int64_t limits_max_pubsub_output_bytes = 32 << 20;
  // [replication]
  std::string replication_replicaof;  // host:port of the primary; empty: this node is primary
  std::string replication_announce = "127.0.0.1";  // the host others reach this node at
  std::string replication_node_id;  // empty: generated once and kept in store.dir/NODE_ID
  int64_t replication_min_replicas_ack = static_cast<int64_t>(StoreOptions{}.min_replicas_ack);
  int64_t replication_ack_timeout_ms = StoreOptions{}.ack_timeout.count();
  int64_t replication_wal_retention_mb = static_cast<int64_t>(StoreOptions{}.wal_retention_mb);
  int64_t replication_wal_retention_s = static_cast<int64_t>(StoreOptions{}.wal_retention_s);
  std::string replication_user;
  std::string replication_password;
  std::string replication_password_file;
  bool replication_tls = false;
  std::string replication_replica_reads = "clients";
  std::string replication_etcd;  // etcd endpoints; empty: roles are set by hand
  std::string replication_shard = "shard-0";
  int64_t replication_lease_ms = 4000;
  std::string replication_etcd_user;
  std::string replication_etcd_password_file;
  bool replication_etcd_tls = false;
  // [deadletters]
  int64_t deadletters_max_entries = 1000;
  int64_t deadletters_payload_bytes = 256;
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

// The key named `name` ("section.key"), or nullptr.
const ConfigKey* FindConfigKey(std::string_view name);

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

// The options of the store and service structs, from the config.
StoreOptions StoreOptionsFrom(const Config& config);
EventLimits EventLimitsFrom(const Config& config);
SweepOptions SweepOptionsFrom(const Config& config);

// Parses argv: `--config FILE` is read first, then each `--section.key=value` overrides it.
Status ParseCommandLine(int argc, const char* const* argv, Config* config, CommandLine* cli);

}  // namespace devstate
