#include "service/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

#include "service/version.h"

namespace devstate {
namespace {

using S = std::string Config::*;
using I = int64_t Config::*;

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
      return Status::InvalidArgument(
          fmt::format("{} must be one of {}, not '{}'", key.name, fmt::join(key.choices, ", "), v));
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
      {.name = "store.max_inline_mutations",
       .doc = "a RESP event loop commits a turn's writes itself (no thread hand-off) up to this "
              "many mutations; more go to the committer thread (0: never)",
       .field = &Config::store_max_inline_mutations,
       .min = 0,
       .max = 1 << 20},
      {.name = "store.write_buffer_mb",
       .doc = "journal memtable (RocksDB write_buffer_size): the latest writes kept in memory "
              "until flushed to tables; devstate never reads it, so it only costs memory",
       .field = &Config::store_write_buffer_mb,
       .min = 1,
       .max = 4096},
      {.name = "expiry.sweep_interval_ms",
       .doc = "active expiry: the pause between passes over the keyspace that found few "
              "expired keys (a pass that finds many goes on at once)",
       .field = &Config::expiry_sweep_interval_ms,
       .min = 1,
       .max = 3600000},
      {.name = "expiry.sweep_keys",
       .doc = "active expiry: keys one pass looks at; their expired ones are deleted through "
              "the commit pipeline",
       .field = &Config::expiry_sweep_keys,
       .min = 1,
       .max = 1000000},
      {.name = "http.bind", .doc = "address of the HTTP listener", .field = &Config::http_bind},
      {.name = "http.port",
       .doc = "port of the HTTP listener (0: any free port, logged at start)",
       .field = &Config::http_port,
       .min = 0,
       .max = 65535},
      {.name = "http.threads",
       .doc = "threads serving HTTP connections (1 is fastest on 2 cores: no strands, no handoffs)",
       .field = &Config::http_threads,
       .min = 1,
       .max = 256},
      {.name = "http.max_body_bytes",
       .doc = "largest request body; a larger one gets 413 and the connection is closed",
       .field = &Config::http_max_body_bytes,
       .min = 1024,
       .max = int64_t{1} << 30},
      {.name = "http.max_header_bytes",
       .doc = "largest request header block; a larger one gets 431 and the connection is closed",
       .field = &Config::http_max_header_bytes,
       .min = 1024,
       .max = 1 << 20},
      {.name = "http.header_timeout_ms",
       .doc = "time to receive a request's headers once it has begun",
       .field = &Config::http_header_timeout_ms,
       .min = 1,
       .max = 3600000},
      {.name = "http.body_timeout_ms",
       .doc = "time to receive a request's body once its headers are in",
       .field = &Config::http_body_timeout_ms,
       .min = 1,
       .max = 3600000},
      {.name = "http.idle_timeout_ms",
       .doc = "a keep-alive connection with no request for this long is closed",
       .field = &Config::http_idle_timeout_ms,
       .min = 1,
       .max = 86400000},
      {.name = "http.max_connections",
       .doc = "open HTTP connections; one more is answered 503 and closed",
       .field = &Config::http_max_connections,
       .min = 1,
       .max = 1000000},
      {.name = "http.max_pipeline",
       .doc = "pipelined requests one connection may have in flight before reading pauses",
       .field = &Config::http_max_pipeline,
       .min = 1,
       .max = 1024},
      {.name = "http.tls",
       .doc = "the HTTP listener speaks TLS only (tls.cert, tls.key)",
       .field = &Config::http_tls},
      {.name = "resp.bind",
       .doc = "address of the RESP (Redis protocol) listener",
       .field = &Config::resp_bind},
      {.name = "resp.notify_keyspace_events",
       .doc = "Redis's notify-keyspace-events (K, E and the classes g $ h x n A...): which "
              "committed writes are told on __keyspace@0__ / __keyevent@0__ channels; empty: "
              "none. CONFIG SET changes it",
       .field = &Config::resp_notify_keyspace_events},
      {.name = "resp.port",
       .doc = "port of the RESP listener (0: any free port, logged at start)",
       .field = &Config::resp_port,
       .min = 0,
       .max = 65535},
      {.name = "resp.threads",
       .doc = "RESP event-loop threads; connections are dealt out among them (1 is fastest on 2 "
              "cores)",
       .field = &Config::resp_threads,
       .min = 1,
       .max = 256},
      {.name = "resp.max_clients",
       .doc = "open RESP connections; one more gets -ERR max number of clients reached",
       .field = &Config::resp_max_clients,
       .min = 1,
       .max = 1000000},
      {.name = "resp.idle_timeout_s",
       .doc = "close a RESP connection idle this long (0: never, as Redis's timeout 0)",
       .field = &Config::resp_idle_timeout_s,
       .min = 0,
       .max = 31536000},
      {.name = "resp.max_pipeline",
       .doc = "commands one RESP connection may have in flight before reading pauses",
       .field = &Config::resp_max_pipeline,
       .min = 1,
       .max = 1 << 20},
      {.name = "resp.hash_max_listpack_entries",
       .doc = "Redis's hash-max-listpack-entries: a hash of at most this many fields reports "
              "OBJECT ENCODING listpack and is returned whole by HSCAN (devstate stores every "
              "hash the same way; CONFIG SET changes it)",
       .field = &Config::resp_hash_max_listpack_entries,
       .min = 0,
       .max = 1 << 30},
      {.name = "resp.hash_max_listpack_value",
       .doc = "Redis's hash-max-listpack-value: the longest field name or value of a hash "
              "reported as listpack (see resp.hash_max_listpack_entries)",
       .field = &Config::resp_hash_max_listpack_value,
       .min = 0,
       .max = 1 << 30},
      {.name = "resp.zset_max_listpack_entries",
       .doc = "Redis's zset-max-listpack-entries: a sorted set of at most this many members "
              "reports OBJECT ENCODING listpack and is returned whole by ZSCAN, until it "
              "converts (devstate stores every sorted set the same way; CONFIG SET changes it)",
       .field = &Config::resp_zset_max_listpack_entries,
       .min = 0,
       .max = 1 << 30},
      {.name = "resp.zset_max_listpack_value",
       .doc = "Redis's zset-max-listpack-value: a member longer than this converts its sorted "
              "set to skiplist (see resp.zset_max_listpack_entries)",
       .field = &Config::resp_zset_max_listpack_value,
       .min = 0,
       .max = 1 << 30},
      {.name = "resp.set_max_intset_entries",
       .doc = "Redis's set-max-intset-entries: a set of at most this many integers reports "
              "OBJECT ENCODING intset, answers its members in numeric order and is returned "
              "whole by SSCAN, until it converts (CONFIG SET changes it)",
       .field = &Config::resp_set_max_intset_entries,
       .min = 0,
       .max = 1 << 30},
      {.name = "resp.slowlog_log_slower_than_us",
       .doc = "Redis's slowlog-log-slower-than: a RESP command whose handler runs at least this "
              "many microseconds is kept in SLOWLOG; -1 keeps none, 0 every command (CONFIG SET "
              "changes it)",
       .field = &Config::resp_slowlog_log_slower_than_us,
       .min = -1,
       .max = INT64_MAX},
      {.name = "resp.slowlog_max_len",
       .doc = "Redis's slowlog-max-len: the entries SLOWLOG keeps, the oldest dropped first "
              "(CONFIG SET changes it). An entry holds at most ~5 KB (32 arguments of 128 "
              "bytes), so the most, 65536, is at most ~330 MB",
       .field = &Config::resp_slowlog_max_len,
       .min = 0,
       .max = 1 << 16},
      {.name = "resp.busy_poll_us",
       .doc = "after serving, a plain-TCP RESP thread polls this long for more before it "
              "sleeps: faster replies, for CPU while requests come closer than this (0: never)",
       .field = &Config::resp_busy_poll_us,
       .min = 0,
       .max = 10000},
      {.name = "resp.tls",
       .doc = "the RESP listener speaks TLS only (tls.cert, tls.key)",
       .field = &Config::resp_tls},
      {.name = "tls.cert",
       .doc = "PEM certificate chain of the TLS listeners, leaf first",
       .field = &Config::tls_cert},
      {.name = "tls.key", .doc = "PEM private key of tls.cert", .field = &Config::tls_key},
      {.name = "tls.ca",
       .doc = "PEM CA bundle that client certificates must chain to (with tls.verify_clients)",
       .field = &Config::tls_ca},
      {.name = "tls.verify_clients",
       .doc = "client certificates: no (not asked), optional (checked if sent), yes (required)",
       .field = &Config::tls_verify_clients,
       .choices = {"no", "optional", "yes"}},
      {.name = "acl.file",
       .doc = "users in Redis ACL-file syntax (user NAME on >pass ~device:* +@read); empty: "
              "default user only",
       .field = &Config::acl_file},
      {.name = "acl.tokens_file",
       .doc = "HTTP bearer tokens, one '<user> <token>' (or '<user> #<sha256-hex>') per line",
       .field = &Config::acl_tokens_file},
      {.name = "acl.auth_failure_delay_ms",
       .doc = "the answer to a failed AUTH or to wrong HTTP credentials waits this long",
       .field = &Config::acl_auth_failure_delay_ms,
       .min = 0,
       .max = 60000},
      {.name = "acl.auth_failure_budget",
       .doc = "failed authentications a source address may make before its answers are "
              "throttled (a user: three times as many); refills by a tenth each second. 0: no "
              "budget, every failure just waits auth_failure_delay_ms",
       .field = &Config::acl_auth_failure_budget,
       .min = 0,
       .max = 1000000},
      {.name = "acl.auth_max_delay_ms",
       .doc = "longest wait of a throttled answer (it doubles from auth_failure_delay_ms while "
              "failures go on)",
       .field = &Config::acl_auth_max_delay_ms,
       .min = 0,
       .max = 3600000},
      {.name = "mqtt.broker",
       .doc = "broker URI (tcp://host:port, ssl://host:port); empty disables MQTT ingest",
       .field = &Config::mqtt_broker},
      {.name = "mqtt.topic",
       .doc = "subscription (QoS 1); the level at the first + is the device id",
       .field = &Config::mqtt_topic},
      {.name = "mqtt.client_id",
       .doc = "fixed client id of the persistent session",
       .field = &Config::mqtt_client_id},
      {.name = "mqtt.ack",
       .doc = "after_commit: PUBACK after the fsync; on_receipt: PUBACK at once (a crash loses the "
              "group in flight)",
       .field = &Config::mqtt_ack,
       .choices = {"after_commit", "on_receipt"}},
      {.name = "mqtt.version",
       .doc = "MQTT protocol version towards the broker",
       .field = &Config::mqtt_version,
       .choices = {"3.1.1", "5"}},
      {.name = "mqtt.max_inflight",
       .doc = "messages received and not yet acknowledged (waiting for their commit) before "
              "devstate stops reading from the broker; MQTT 5 Receive Maximum",
       .field = &Config::mqtt_max_inflight,
       .min = 1,
       .max = 65535},
      {.name = "mqtt.max_inflight_bytes",
       .doc = "bytes of the messages waiting for their commit before devstate stops reading "
              "from the broker (with mqtt.max_inflight, bounds the memory of MQTT intake)",
       .field = &Config::mqtt_max_inflight_bytes,
       .min = 65536,
       .max = 1073741824},
      {.name = "mqtt.session_expiry_s",
       .doc = "MQTT 5: how long the broker keeps devstate's session (and queues its messages) "
              "while it is away; 4294967295: forever, as 3.1.1's persistent session",
       .field = &Config::mqtt_session_expiry_s,
       .min = 0,
       .max = 4294967295},
      {.name = "mqtt.max_packet_bytes",
       .doc = "largest MQTT packet accepted from the broker; a larger one ends the connection "
              "(MQTT 5 tells the broker, which then drops such messages)",
       .field = &Config::mqtt_max_packet_bytes,
       .min = 1024,
       .max = 268435460},
      {.name = "mqtt.publish_rejected",
       .doc = "publish each rejected event's reason on <its topic>/rejected (JSON, QoS 1)",
       .field = &Config::mqtt_publish_rejected},
      {.name = "mqtt.keepalive_s",
       .doc = "MQTT keep-alive interval",
       .field = &Config::mqtt_keepalive_s,
       .min = 1,
       .max = 65535},
      {.name = "mqtt.reconnect_min_ms",
       .doc = "first delay before reconnecting to the broker; doubles on each failure",
       .field = &Config::mqtt_reconnect_min_ms,
       .min = 1,
       .max = 3600000},
      {.name = "mqtt.reconnect_max_ms",
       .doc = "longest delay between reconnection attempts",
       .field = &Config::mqtt_reconnect_max_ms,
       .min = 1,
       .max = 3600000},
      {.name = "mqtt.username",
       .doc = "user name towards the broker (empty: none)",
       .field = &Config::mqtt_username},
      {.name = "mqtt.password",
       .doc = "password towards the broker; prefer mqtt.password_file or $DEVSTATE_MQTT_PASSWORD",
       .field = &Config::mqtt_password},
      {.name = "mqtt.password_file",
       .doc = "file whose first line is the broker password",
       .field = &Config::mqtt_password_file},
      {.name = "mqtt.ca",
       .doc = "PEM CA bundle that the broker's certificate must chain to (ssl:// brokers)",
       .field = &Config::mqtt_ca},
      {.name = "mqtt.cert",
       .doc = "PEM client certificate presented to the broker (optional)",
       .field = &Config::mqtt_cert},
      {.name = "mqtt.key", .doc = "PEM private key of mqtt.cert", .field = &Config::mqtt_key},
      {.name = "limits.max_event_bytes",
       .doc = "largest event payload (MQTT message, HTTP event, batch item)",
       .field = &Config::limits_max_event_bytes,
       .min = 64,
       .max = 16 << 20},
      {.name = "limits.max_batch_events",
       .doc = "most events in one POST /events",
       .field = &Config::limits_max_batch_events,
       .min = 1,
       .max = 1000000},
      {.name = "limits.max_bulk_bytes",
       .doc = "largest RESP bulk string (a key or value); larger is a protocol error",
       .field = &Config::limits_max_bulk_bytes,
       .min = 1024,
       .max = 512 << 20},
      {.name = "limits.max_multibulk",
       .doc = "most arguments in one RESP command",
       .field = &Config::limits_max_multibulk,
       .min = 16,
       .max = 1 << 30},
      {.name = "limits.max_query_buffer_bytes",
       .doc = "unparsed bytes one RESP client may send ahead; more closes the connection",
       .field = &Config::limits_max_query_buffer_bytes,
       .min = 1 << 16,
       .max = int64_t{1} << 32},
      {.name = "limits.max_output_buffer_bytes",
       .doc = "reply bytes one RESP client may leave unread; more closes the connection",
       .field = &Config::limits_max_output_buffer_bytes,
       .min = 1 << 16,
       .max = int64_t{1} << 32},
      {.name = "limits.max_pubsub_output_bytes",
       .doc = "pub/sub messages (or HTTP event-stream bytes) one subscriber may leave unread; more "
              "disconnects it (Redis's "
              "client-output-buffer-limit pubsub)",
       .field = &Config::limits_max_pubsub_output_bytes,
       .min = 1 << 12,
       .max = int64_t{1} << 32},
      {.name = "replication.replicaof",
       .doc = "host:port (RESP) of the primary to follow; empty: this node is the primary "
              "(REPLICAOF changes it at run time)",
       .field = &Config::replication_replicaof},
      {.name = "replication.announce",
       .doc = "the host other nodes and clients reach this node at (CLUSTER SLOTS, MOVED, "
              "HTTP 307); its ports are resp.port and http.port",
       .field = &Config::replication_announce},
      {.name = "replication.node_id",
       .doc = "this node's id in the shard (40 hex characters); empty: made once and kept in "
              "store.dir/NODE_ID",
       .field = &Config::replication_node_id},
      {.name = "replication.min_replicas_ack",
       .doc = "replicas that must hold a write before it is acknowledged; a write that cannot "
              "get them fails with -NOREPLICAS / 503, never silently downgraded (0: "
              "asynchronous replication)",
       .field = &Config::replication_min_replicas_ack,
       .min = 0,
       .max = 4},
      {.name = "replication.ack_timeout_ms",
       .doc = "how long a write waits for its replicas; then -NOREPLICAS (its outcome is "
              "unknown: it may still take effect) and writes pause until they catch up",
       .field = &Config::replication_ack_timeout_ms,
       .min = 1,
       .max = 3600000},
      {.name = "replication.wal_retention_mb",
       .doc = "journal log kept after it is flushed, so a replica behind catches up from it "
              "instead of a full copy",
       .field = &Config::replication_wal_retention_mb,
       .min = 0,
       .max = 1 << 20},
      {.name = "replication.wal_retention_s",
       .doc = "how long the flushed log is kept (with replication.wal_retention_mb)",
       .field = &Config::replication_wal_retention_s,
       .min = 0,
       .max = 31536000},
      {.name = "replication.user",
       .doc = "ACL user a replica authenticates as to its primary (it needs +psync); empty: "
              "the default user",
       .field = &Config::replication_user},
      {.name = "replication.password",
       .doc = "that user's password; prefer replication.password_file or "
              "$DEVSTATE_REPLICATION_PASSWORD",
       .field = &Config::replication_password},
      {.name = "replication.password_file",
       .doc = "file whose first line is the replication password",
       .field = &Config::replication_password_file},
      {.name = "replication.tls",
       .doc = "a replica reaches its primary's RESP port over TLS (tls.ca verifies it; "
              "tls.cert and tls.key, if set, are presented)",
       .field = &Config::replication_tls},
      {.name = "replication.replica_reads",
       .doc = "which connections a replica serves reads to: clients (those that sent READONLY, "
              "and those that never asked for the cluster's layout) or readonly (only after "
              "READONLY, as Redis Cluster: others get -MOVED)",
       .field = &Config::replication_replica_reads,
       .choices = {"clients", "readonly"}},
      {.name = "replication.etcd",
       .doc = "etcd endpoints (http://host:port or https://host:port, comma-separated) that "
              "decide the shard's roles: leader lease, synchronous set, failover; empty: roles "
              "are set by hand (replicaof, REPLICAOF, FAILOVER)",
       .field = &Config::replication_etcd},
      {.name = "replication.shard",
       .doc = "the shard's name: its keys in etcd live under /devstate/<shard>/",
       .field = &Config::replication_shard},
      {.name = "replication.lease_ms",
       .doc = "the primary's lease in etcd (rounded up to whole seconds, at least 2 s); a "
              "primary that cannot renew it stops serving before it could lapse, and a replica "
              "of the synchronous set takes over after it lapsed",
       .field = &Config::replication_lease_ms,
       .min = 2000,
       .max = 60000},
      {.name = "replication.etcd_user",
       .doc = "etcd user (etcd authentication); empty: none",
       .field = &Config::replication_etcd_user},
      {.name = "replication.etcd_password_file",
       .doc = "file whose first line is the etcd user's password (or $DEVSTATE_ETCD_PASSWORD)",
       .field = &Config::replication_etcd_password_file},
      {.name = "replication.etcd_tls",
       .doc = "verify https:// etcd endpoints against tls.ca (tls.cert and tls.key, if set, "
              "are presented)",
       .field = &Config::replication_etcd_tls},
      {.name = "deadletters.max_entries",
       .doc = "dead letters kept (newest); the file is compacted at twice this",
       .field = &Config::deadletters_max_entries,
       .min = 1,
       .max = 1000000},
      {.name = "deadletters.payload_bytes",
       .doc = "bytes of a bad payload kept in its dead letter",
       .field = &Config::deadletters_payload_bytes,
       .min = 0,
       .max = 65536},
      {.name = "log.level",
       .doc = "log verbosity",
       .field = &Config::log_level,
       .choices = {"trace", "debug", "info", "warn", "error", "off"}},
  };
  return keys;
}

const ConfigKey* FindConfigKey(std::string_view name) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
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
      return Status::InvalidArgument(
          fmt::format("{} must be an integer, not '{}'", key.name, text));
    }
    return CheckInteger(key, v, config);
  }
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    config->*std::get<bool Config::*>(key.field) = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    config->*std::get<bool Config::*>(key.field) = false;
  } else {
    return Status::InvalidArgument(
        fmt::format("{} must be true or false, not '{}'", key.name, text));
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
      const ConfigKey* key = FindConfigKey(full);
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

StoreOptions StoreOptionsFrom(const Config& config) {
  StoreOptions o;
  o.dir = config.store_dir;
  o.min_replicas_ack = static_cast<size_t>(config.replication_min_replicas_ack);
  o.ack_timeout = std::chrono::milliseconds(config.replication_ack_timeout_ms);
  o.wal_retention_mb = static_cast<uint64_t>(config.replication_wal_retention_mb);
  o.wal_retention_s = static_cast<uint64_t>(config.replication_wal_retention_s);
  o.max_group_mutations = static_cast<size_t>(config.store_max_group_mutations);
  o.max_inline_mutations = static_cast<size_t>(config.store_max_inline_mutations);
  o.write_buffer_mb = static_cast<uint64_t>(config.store_write_buffer_mb);
  return o;
}

EventLimits EventLimitsFrom(const Config& config) {
  EventLimits limits;
  limits.max_bytes = static_cast<size_t>(config.limits_max_event_bytes);
  return limits;
}

SweepOptions SweepOptionsFrom(const Config& config) {
  return SweepOptions{std::chrono::milliseconds(config.expiry_sweep_interval_ms),
                      static_cast<size_t>(config.expiry_sweep_keys)};
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
    // The default goes in the text, not default_str: CLI11 would substitute it for an
    // explicitly empty value (`--mqtt.broker=` must mean empty).
    app.add_option(fmt::format("--{}", key.name), overrides[i],
                   fmt::format("{} [default: {}]", key.doc, ConfigValueText(defaults, key)))
        ->type_name(TypeName(key))
        ->expected(0, 1)
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
    if (!in)
      return Status::InvalidArgument(fmt::format("cannot read config file '{}'", config_file));
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
