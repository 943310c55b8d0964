#include "service/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>

namespace devstate {
namespace {

// The broker password: mqtt.password_file's first line, else $DEVSTATE_MQTT_PASSWORD, else
// mqtt.password.
Status MqttPassword(const Config& config, std::string* password) {
  if (!config.mqtt_password_file.empty()) {
    std::ifstream in(config.mqtt_password_file);
    if (!in)
      return Status::InvalidArgument(
          fmt::format("cannot read mqtt.password_file '{}'", config.mqtt_password_file));
    std::getline(in, *password);
    if (!password->empty() && password->back() == '\r') password->pop_back();
    return Status::OK();
  }
  if (const char* env = std::getenv("DEVSTATE_MQTT_PASSWORD"); env != nullptr && *env != '\0') {
    *password = env;
    return Status::OK();
  }
  *password = config.mqtt_password;
  return Status::OK();
}

}  // namespace

Status Service::Open(const Config& config, std::unique_ptr<Service>* service) {
  std::unique_ptr<Service> svc(new Service(config));
  StoreOptions store_options = StoreOptionsFrom(config);
  store_options.log = [](LogLevel level, std::string_view line) {
    switch (level) {
      case LogLevel::kError:
        return spdlog::error("{}", line);
      case LogLevel::kWarn:
        return spdlog::warn("{}", line);
      case LogLevel::kInfo:
        return spdlog::info("{}", line);
      case LogLevel::kDebug:
        return spdlog::debug("{}", line);
    }
  };
  Metrics* metrics = svc->metrics_.get();
  store_options.on_group = [metrics](size_t mutations, int64_t micros) {
    metrics->ObserveGroup(mutations, micros);
  };
  Status s = Store::Open(store_options, &svc->store_);
  if (!s.ok()) return s;
  s = DeadLetterLog::Open(config.store_dir + "/deadletters.log",
                          static_cast<size_t>(config.deadletters_max_entries), &svc->dead_letters_);
  if (!s.ok()) return s;
  svc->ingest_ = std::make_unique<devstate::Ingest>(svc->store_.get());
  if (!config.mqtt_broker.empty()) {
    MqttOptions mqtt;
    mqtt.broker = config.mqtt_broker;
    mqtt.topic = config.mqtt_topic;
    mqtt.client_id = config.mqtt_client_id;
    mqtt.ack_after_commit = config.mqtt_ack == "after_commit";
    mqtt.keepalive_s = config.mqtt_keepalive_s;
    mqtt.reconnect_min_ms = config.mqtt_reconnect_min_ms;
    mqtt.reconnect_max_ms = config.mqtt_reconnect_max_ms;
    mqtt.username = config.mqtt_username;
    s = MqttPassword(config, &mqtt.password);
    if (!s.ok()) return s;
    mqtt.ca = config.mqtt_ca;
    mqtt.cert = config.mqtt_cert;
    mqtt.key = config.mqtt_key;
    mqtt.limits = svc->event_limits();
    mqtt.dead_letter_payload_bytes = static_cast<size_t>(config.deadletters_payload_bytes);
    Store* store = svc->store_.get();
    svc->mqtt_ = std::make_unique<MqttIngest>(mqtt, svc->ingest_.get(), svc->dead_letters_.get(),
                                              [store] { return store->NowMs(); });
  }
  *service = std::move(svc);
  return Status::OK();
}

Service::~Service() {
  if (!stopped_) (void)Stop();
}

EventLimits Service::event_limits() const { return EventLimitsFrom(config_); }

void Service::Start() {
  sweeper_ = std::make_unique<ExpirySweeper>(store_.get(), SweepOptionsFrom(config_));
  sweeper_->Start();
  if (mqtt_) mqtt_->Start();
}

bool Service::Stop() {
  stopped_ = true;
  const bool clean = mqtt_ ? mqtt_->Stop() : true;
  if (sweeper_) sweeper_->Stop();
  if (store_) store_->Close();  // null when Open failed before the store opened
  return clean;
}

void Service::Ingest(std::vector<Event> events, Ingest::Done done) {
  ingest_->Submit(std::move(events), std::move(done));
}

void Service::CountRejected(uint64_t n) {
  ingest_->counters().rejected.fetch_add(n, std::memory_order_relaxed);
}

MqttState Service::mqtt_state() const { return mqtt_ ? mqtt_->state() : MqttState::kDisabled; }

std::vector<DeadLetter> Service::DeadLetters(size_t limit) const {
  return dead_letters_->Recent(limit);
}

uint64_t Service::DeadLetterTotal() const { return dead_letters_->total(); }

std::string Service::MetricsText() const {
  std::string out;
  const IngestCounters& c = ingest_->counters();
  out +=
      "# HELP devstate_ingest_events_total Device events by outcome: changed, stale (no change), "
      "rejected (invalid), conflict (key holds a non-device value), failed (store refused).\n"
      "# TYPE devstate_ingest_events_total counter\n";
  fmt::format_to(std::back_inserter(out),
                 "devstate_ingest_events_total{{outcome=\"changed\"}} {}\n"
                 "devstate_ingest_events_total{{outcome=\"stale\"}} {}\n"
                 "devstate_ingest_events_total{{outcome=\"rejected\"}} {}\n"
                 "devstate_ingest_events_total{{outcome=\"conflict\"}} {}\n"
                 "devstate_ingest_events_total{{outcome=\"failed\"}} {}\n",
                 c.changed.load(), c.stale.load(), c.rejected.load(), c.conflict.load(),
                 c.failed.load());
  RenderMetric("devstate_dead_letters_total", "counter",
               "Payloads recorded in the dead-letter log.",
               static_cast<double>(dead_letters_->total()), &out);
  RenderMetric("devstate_mqtt_messages_total", "counter", "MQTT messages received.",
               static_cast<double>(mqtt_ ? mqtt_->messages() : 0), &out);
  RenderMetric("devstate_mqtt_connected", "gauge", "1 while subscribed to the broker.",
               mqtt_state() == MqttState::kConnected ? 1 : 0, &out);
  RenderMetric("devstate_store_writable", "gauge", "1 while the store accepts writes.",
               store_->WriteStatus().ok() ? 1 : 0, &out);
  RenderMetric("devstate_keyspace_keys", "gauge",
               "Keys in memory (expired keys not yet removed included).",
               static_cast<double>(store_->keyspace().Size()), &out);
  RenderMetric("devstate_expired_keys_total", "counter", "Expired keys removed by the sweeper.",
               static_cast<double>(ExpiredKeys()), &out);
  RenderMetric("devstate_journal_position", "gauge",
               "RocksDB sequence number of the last commit group.",
               static_cast<double>(store_->LastSequence()), &out);
  RenderMetric(
      "devstate_store_background_jobs", "gauge",
      "RocksDB flushes and compactions running or pending (upkeep of the store's tables, off the "
      "commit path).",
      static_cast<double>(store_->BackgroundJobs()), &out);
  const PipelineStats stats = store_->stats();
  RenderMetric("devstate_commit_writes_total", "counter",
               "Writes completed by the commit pipeline.", static_cast<double>(stats.writes), &out);
  RenderMetric("devstate_commit_groups_total", "counter",
               "Commit groups written and fsync'd to the journal.",
               static_cast<double>(stats.groups), &out);
  metrics_->commit_group_mutations.Render("devstate_commit_group_mutations",
                                          "Mutations carried by one commit group (one fsync).",
                                          &out);
  metrics_->commit_seconds.Render("devstate_commit_seconds",
                                  "Journal write and fsync time per commit group.", &out);
  out +=
      "# HELP devstate_http_responses_total HTTP responses by status code.\n"
      "# TYPE devstate_http_responses_total counter\n";
  for (size_t code = 100; code < metrics_->http_responses.size(); ++code) {
    const uint64_t n = metrics_->http_responses[code].load(std::memory_order_relaxed);
    if (n > 0)
      fmt::format_to(std::back_inserter(out), "devstate_http_responses_total{{code=\"{}\"}} {}\n",
                     code, n);
  }
  RenderMetric("devstate_http_connections", "gauge", "Open HTTP connections.",
               static_cast<double>(metrics_->http_connections.load()), &out);
  RenderMetric("devstate_resp_connections", "gauge", "Open RESP connections.",
               static_cast<double>(metrics_->resp_connections.load()), &out);
  RenderMetric("devstate_resp_commands_total", "counter", "RESP commands processed.",
               static_cast<double>(metrics_->resp_commands.load()), &out);
  RenderMetric("devstate_auth_throttled_total", "counter",
               "Authentication answers delayed because their address or user spent its failure "
               "budget (acl.auth_failure_budget).",
               static_cast<double>(metrics_->auth_throttled.load()), &out);
  RenderMetric("devstate_auth_failures_total", "counter",
               "Failed authentications (RESP AUTH and HELLO, HTTP credentials).",
               static_cast<double>(metrics_->auth_failures.load()), &out);
  RenderMetric("devstate_tls_handshake_failures_total", "counter",
               "TLS handshakes that failed (plaintext clients, untrusted certificates).",
               static_cast<double>(metrics_->tls_handshake_failures.load()), &out);
  return out;
}

}  // namespace devstate
