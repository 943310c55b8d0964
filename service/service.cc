#include "service/service.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace devstate {
namespace {

// The first line of `file`, else $`env`, else `value` (a password).
Status Secret(const std::string& file, const char* env, const std::string& value, const char* key,
              std::string* secret) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return Status::InvalidArgument(fmt::format("cannot read {} '{}'", key, file));
    std::getline(in, *secret);
    if (!secret->empty() && secret->back() == '\r') secret->pop_back();
    return Status::OK();
  }
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') {
    *secret = v;
    return Status::OK();
  }
  *secret = value;
  return Status::OK();
}

bool IsNodeId(const std::string& id) {
  return id.size() == 40 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// replication.node_id, else the id kept in store.dir/NODE_ID, made at the first start.
Status NodeId(const Config& config, std::string* id) {
  if (!config.replication_node_id.empty()) {
    if (!IsNodeId(config.replication_node_id))
      return Status::InvalidArgument("replication.node_id must be 40 lower-case hex characters");
    *id = config.replication_node_id;
    return Status::OK();
  }
  const std::string path = config.store_dir + "/NODE_ID";
  if (std::ifstream in(path); in) {
    std::getline(in, *id);
    if (IsNodeId(*id)) return Status::OK();
    return Status::Corruption(fmt::format("{} does not hold a node id", path));
  }
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Status::IOError("no random bytes for a node id");
  id->clear();
  for (unsigned char b : bytes) fmt::format_to(std::back_inserter(*id), "{:02x}", b);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << *id << "\n";
    out.flush();
    if (!out) return Status::IOError(fmt::format("cannot write {}", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError(fmt::format("cannot write {}: {}", path, ec.message()));
  return Status::OK();
}

// store.dir/STORE_ID: made with the store and kept with it, so a node whose disk was wiped
// is told apart from the node that held it (the control plane trusts stores, not ids).
Status StoreId(const std::string& dir, std::string* id) {
  const std::string path = dir + "/STORE_ID";
  if (std::ifstream in(path); in) {
    std::getline(in, *id);
    if (IsNodeId(*id)) return Status::OK();
    return Status::Corruption(fmt::format("{} does not hold a store id", path));
  }
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return Status::IOError("no random bytes for a store id");
  id->clear();
  for (unsigned char b : bytes) fmt::format_to(std::back_inserter(*id), "{:02x}", b);
  std::ofstream out(path, std::ios::trunc);
  out << *id << "\n";
  out.flush();
  if (!out) return Status::IOError(fmt::format("cannot write {}", path));
  return Status::OK();
}

// A replica's TLS to its primary: TLS 1.2+, the primary verified against tls.ca, and
// tls.cert/tls.key presented when set (a primary that verifies clients).
Status ReplicationTls(const Config& config, std::shared_ptr<boost::asio::ssl::context>* out) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (config.tls_ca.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(config.tls_ca, ec);
  }
  if (ec) return Status::InvalidArgument("replication.tls: cannot load tls.ca: " + ec.message());
  if (!config.tls_cert.empty() && !config.tls_key.empty()) {
    ctx->use_certificate_chain_file(config.tls_cert, ec);
    if (!ec) ctx->use_private_key_file(config.tls_key, ssl::context::pem, ec);
    if (ec)
      return Status::InvalidArgument("replication.tls: cannot load tls.cert/key: " + ec.message());
  }
  ctx->set_verify_mode(ssl::verify_peer);
  *out = std::move(ctx);
  return Status::OK();
}

}  // namespace

Status Service::Open(const Config& config, std::unique_ptr<Service>* service) {
  std::unique_ptr<Service> svc(new Service(config));
  uint32_t notify = 0;
  if (!Notifier::Parse(config.resp_notify_keyspace_events, &notify)) {
    return Status::InvalidArgument("resp.notify_keyspace_events: an unknown event class in '" +
                                   config.resp_notify_keyspace_events +
                                   "' (use the letters of Ag$lshzxetdKEmn)");
  }
  svc->notifier().SetFlags(notify);
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
  Service* self = svc.get();
  store_options.on_newer_epoch = [self](uint64_t term) {
    if (self->roles_) self->roles_->NewerEpochSeen(term);
  };
  store_options.on_quorum = [metrics](int64_t micros) {
    metrics->replica_ack_seconds.Observe(static_cast<double>(micros) / 1e6);
  };
  // A store that starts empty after an interrupted copy is not the store etcd may trust.
  const bool copy_interrupted = Journal::CopyInterrupted(config.store_dir);
  Status s = Store::Open(store_options, &svc->store_);
  if (!s.ok()) return s;
  if (copy_interrupted) {
    std::error_code ignored;
    std::filesystem::remove(config.store_dir + "/STORE_ID", ignored);
  }
  s = NodeId(config, &svc->node_id_);  // kept in the store's directory, which now exists
  if (!s.ok()) return s;
  if (!config.replication_etcd.empty()) {
    if (!config.replication_replicaof.empty())
      return Status::InvalidArgument(
          "replication.replicaof and replication.etcd exclude each other: with etcd, the control "
          "plane decides whom a node follows");
    control::ControllerOptions c;
    std::string error;
    if (!control::ParseEndpoints(config.replication_etcd, &c.etcd.endpoints, &error))
      return Status::InvalidArgument("replication.etcd: " + error);
    c.etcd.user = config.replication_etcd_user;
    s = Secret(config.replication_etcd_password_file, "DEVSTATE_ETCD_PASSWORD", "",
               "replication.etcd_password_file", &c.etcd.password);
    if (!s.ok()) return s;
    if (config.replication_etcd_tls) {
      s = ReplicationTls(config, &c.etcd.tls);
      if (!s.ok()) return s;
    }
    c.shard = config.replication_shard;
    c.node_id = svc->node_id_;
    s = StoreId(config.store_dir, &c.store_id);
    if (!s.ok()) return s;
    c.lease = std::chrono::milliseconds(config.replication_lease_ms);
    c.on_renewal = [metrics](double seconds) { metrics->lease_renew_seconds.Observe(seconds); };
    svc->control_options_ = std::move(c);
    // Before any listener serves: only the control plane makes this node primary.
    svc->store_->BecomeReplica(
        Status::NotPrimary("waiting for the control plane (etcd) to decide this node's role"));
  }
  if (!config.replication_replicaof.empty()) {
    // Before any listener serves: a replica never takes a write of its own.
    svc->store_->BecomeReplica(
        Status::NotPrimary("this node starts as a replica of " + config.replication_replicaof));
  }
  s = DeadLetterLog::Open(config.store_dir + "/deadletters.log",
                          static_cast<size_t>(config.deadletters_max_entries), &svc->dead_letters_);
  if (!s.ok()) return s;
  svc->ingest_ = std::make_unique<devstate::Ingest>(svc->store_.get(), &svc->notifier());
  svc->store_->OnAppliedPuts(
      [ingest = svc->ingest_.get()](const std::vector<std::pair<std::string, RecordPtr>>& puts) {
        ingest->NotifyReplicated(puts);
      });
  if (!config.mqtt_broker.empty()) {
    MqttOptions mqtt;
    mqtt.broker = config.mqtt_broker;
    mqtt.topic = config.mqtt_topic;
    mqtt.client_id = config.mqtt_client_id;
    mqtt.ack_after_commit = config.mqtt_ack == "after_commit";
    mqtt.v5 = config.mqtt_version == "5";
    mqtt.max_inflight = config.mqtt_max_inflight;
    mqtt.max_inflight_bytes = config.mqtt_max_inflight_bytes;
    mqtt.session_expiry_s = config.mqtt_session_expiry_s;
    mqtt.max_packet_bytes = config.mqtt_max_packet_bytes;
    mqtt.publish_rejected = config.mqtt_publish_rejected;
    std::string host;
    uint16_t port = 0;
    bool tls = false;
    if (!ParseBrokerUri(mqtt.broker, &host, &port, &tls)) {
      return Status::InvalidArgument("mqtt.broker: not a tcp://host:port or ssl://host:port URI: " +
                                     mqtt.broker);
    }
    mqtt.keepalive_s = config.mqtt_keepalive_s;
    mqtt.reconnect_min_ms = config.mqtt_reconnect_min_ms;
    mqtt.reconnect_max_ms = config.mqtt_reconnect_max_ms;
    mqtt.username = config.mqtt_username;
    s = Secret(config.mqtt_password_file, "DEVSTATE_MQTT_PASSWORD", config.mqtt_password,
               "mqtt.password_file", &mqtt.password);
    if (!s.ok()) return s;
    mqtt.ca = config.mqtt_ca;
    mqtt.cert = config.mqtt_cert;
    mqtt.key = config.mqtt_key;
    mqtt.limits = svc->event_limits();
    mqtt.dead_letter_payload_bytes = static_cast<size_t>(config.deadletters_payload_bytes);
    svc->mqtt_options_ = std::move(mqtt);
  }
  RolesOptions roles;
  roles.node_id = svc->node_id_;
  roles.announce_host = config.replication_announce;
  roles.user = config.replication_user;
  s = Secret(config.replication_password_file, "DEVSTATE_REPLICATION_PASSWORD",
             config.replication_password, "replication.password_file", &roles.password);
  if (!s.ok()) return s;
  if (config.replication_tls) {
    s = ReplicationTls(config, &roles.tls);
    if (!s.ok()) return s;
  }
  roles.start_primary_work = [self] { self->StartPrimaryWork(); };
  roles.stop_primary_work = [self] { self->StopPrimaryWork(); };
  roles.controlled = svc->control_options_.has_value();
  svc->roles_ = std::make_unique<Roles>(svc->store_.get(), std::move(roles));
  *service = std::move(svc);
  return Status::OK();
}

Service::~Service() {
  if (!stopped_) (void)Stop();
}

EventLimits Service::event_limits() const { return EventLimitsFrom(config_); }

Status Service::Start(uint16_t resp_port, uint16_t http_port) {
  roles_->SetPorts(resp_port, http_port);
  if (!control_options_) return roles_->Begin(config_.replication_replicaof);
  roles_->BeginUndecided("waiting for the control plane (etcd) to decide this node's role");
  control::ControllerOptions c = *control_options_;
  c.announce = fmt::format("{}:{}:{}", config_.replication_announce, resp_port, http_port);
  controller_ = std::make_unique<control::Controller>(store_.get(), roles_.get(), std::move(c));
  controller_->Start();
  return Status::OK();
}

RoleView Service::Role() const {
  RoleView v = roles_->View();
  if (controller_) v.control = controller_->View();
  return v;
}

Status Service::ServingStatus() const {
  // A primary under a lease serves nothing once it cannot be sure the lease is its own: a
  // newer primary may exist, and its reads would be stale.
  if (controller_ && roles_->primary() && !store_->hub()->lease().Open()) {
    return Status::Fenced(
        "this primary could not renew its lease in etcd in time; it serves again once it "
        "does, or follows the new primary");
  }
  return Status::OK();
}

void Service::StartPrimaryWork() {
  auto sweeper =
      std::make_shared<ExpirySweeper>(store_.get(), SweepOptionsFrom(config_), &notifier());
  std::shared_ptr<MqttIngest> mqtt;
  if (mqtt_options_) {
    Store* store = store_.get();
    mqtt = std::make_shared<MqttIngest>(*mqtt_options_, ingest_.get(), dead_letters_.get(),
                                        [store] { return store->NowMs(); });
  }
  {
    std::lock_guard lock(work_mu_);
    sweeper_ = sweeper;
    mqtt_ = mqtt;
  }
  sweeper->Start();
  if (mqtt) mqtt->Start();
}

void Service::StopPrimaryWork() {
  std::shared_ptr<MqttIngest> mqtt;
  std::shared_ptr<ExpirySweeper> sweeper;
  {
    std::lock_guard lock(work_mu_);
    mqtt.swap(mqtt_);
    sweeper.swap(sweeper_);
  }
  if (mqtt) {
    std::lock_guard lock(work_mu_);
    mqtt_messages_before_ += mqtt->messages();
  }
  if (mqtt) mqtt->Stop();  // what it did not acknowledge stays with the broker
  if (sweeper) {
    sweeper->Stop();
    std::lock_guard lock(work_mu_);
    expired_before_ += sweeper->expired();
  }
}

uint64_t Service::MqttMessages() const {
  std::lock_guard lock(work_mu_);
  return mqtt_messages_before_ + (mqtt_ ? mqtt_->messages() : 0);
}

uint64_t Service::ExpiredKeys() const {
  std::lock_guard lock(work_mu_);
  return expired_before_ + (sweeper_ ? sweeper_->expired() : 0);
}

Status Service::AttachReplica(const replication::ReplicaHello& hello, std::string* reply,
                              std::shared_ptr<replication::Feed>* feed) {
  if (!roles_->primary() || store_->hub() == nullptr)
    return Status::NotPrimary("this node is not a primary; replicas follow the primary");
  Status s = store_->hub()->Attach(hello, reply, feed);
  if (!s.ok()) return s;
  const RoleView v = roles_->View();
  // The replica learns whom it follows, and how its clients reach the primary.
  *reply += fmt::format(" {} {}:{}:{}", node_id_, v.host, v.resp_port, v.http_port);
  return Status::OK();
}

void Service::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (controller_) controller_->Stop();  // a primary hands its lease back first
  if (roles_) roles_->Stop();            // the replica link, MQTT intake, the sweeper
  if (store_) store_->Close();           // null when Open failed before the store opened
}

void Service::Ingest(std::vector<Event> events, Ingest::Done done) {
  ingest_->Submit(std::move(events), std::move(done));
}

void Service::CountRejected(uint64_t n) {
  ingest_->counters().rejected.fetch_add(n, std::memory_order_relaxed);
}

std::string Service::mqtt_error() const {
  std::lock_guard lock(work_mu_);
  return mqtt_ && mqtt_->state() != MqttState::kConnected ? mqtt_->last_error() : std::string();
}

MqttState Service::mqtt_state() const {
  std::lock_guard lock(work_mu_);
  if (mqtt_) return mqtt_->state();
  // Configured, and this node is (or is about to start as) the primary: not subscribed yet.
  return mqtt_options_ && roles_->primary() ? MqttState::kConnecting : MqttState::kDisabled;
}

std::vector<DeadLetter> Service::DeadLetters(size_t limit) const {
  return dead_letters_->Recent(limit);
}

uint64_t Service::DeadLetterTotal() const { return dead_letters_->total(); }

void Service::RenderReplicationMetrics(std::string* out) const {
  const RoleView v = roles_->View();
  RenderMetric("devstate_replication_primary", "gauge", "1 on the shard's primary, 0 on a replica.",
               v.primary ? 1 : 0, out);
  RenderMetric("devstate_replication_epoch", "gauge", "The epoch of this node's last write.",
               static_cast<double>(v.epoch), out);
  RenderMetric("devstate_replication_connected_replicas", "gauge",
               "Replicas attached to this primary.", static_cast<double>(v.replicas.size()), out);
  RenderMetric("devstate_replication_bytes_streamed_total", "counter",
               "Bytes of groups and copies sent to replicas.",
               static_cast<double>(v.hub.bytes_streamed), out);
  RenderMetric("devstate_replication_full_copies_total", "counter",
               "Full copies sent to replicas (new, too far behind, or diverged).",
               static_cast<double>(v.hub.full_copies), out);
  *out +=
      "# HELP devstate_replication_lag_sequences How far each replica's durable position is "
      "behind this primary's journal.\n"
      "# TYPE devstate_replication_lag_sequences gauge\n";
  for (const auto& r : v.replicas) {
    fmt::format_to(std::back_inserter(*out),
                   "devstate_replication_lag_sequences{{replica=\"{}\"}} {}\n", r.node_id,
                   v.last_seq > r.acked_seq ? v.last_seq - r.acked_seq : 0);
  }
  *out +=
      "# HELP devstate_replication_ack_age_seconds Time since each replica's last "
      "acknowledgement (its lag in time while writes flow).\n"
      "# TYPE devstate_replication_ack_age_seconds gauge\n";
  const auto now = std::chrono::steady_clock::now();
  for (const auto& r : v.replicas) {
    fmt::format_to(std::back_inserter(*out),
                   "devstate_replication_ack_age_seconds{{replica=\"{}\"}} {}\n", r.node_id,
                   std::chrono::duration<double>(now - r.last_ack).count());
  }
  if (!v.primary) {
    RenderMetric("devstate_replication_link_up", "gauge",
                 "1 while this replica streams from its primary.", v.link.up ? 1 : 0, out);
    RenderMetric(
        "devstate_replication_primary_lag_sequences", "gauge",
        "How far this replica is behind its primary's position as last heard.",
        static_cast<double>(v.link.primary_seq > v.last_seq ? v.link.primary_seq - v.last_seq : 0),
        out);
    RenderMetric("devstate_replication_full_copies_received_total", "counter",
                 "Full copies this replica installed since it started.",
                 static_cast<double>(v.link.full_copies), out);
  }
  metrics_->replica_ack_seconds.Render(
      "devstate_replication_ack_seconds",
      "From a group's journal append to the acknowledgement of the replicas it waits for.", out);
  if (!controller_) return;
  const ControlView c = controller_->View();
  RenderMetric("devstate_control_promotions_total", "counter",
               "Times this node took the leader key and became primary (failovers it won).",
               static_cast<double>(c.promotions), out);
  RenderMetric("devstate_control_step_downs_total", "counter",
               "Times this node stopped being primary (lease lost, another leader).",
               static_cast<double>(c.step_downs), out);
  RenderMetric("devstate_control_lease_renewals_total", "counter",
               "Successful renewals (or grants) of this node's etcd lease.",
               static_cast<double>(c.lease_renewals), out);
  RenderMetric("devstate_control_lease_failures_total", "counter",
               "Lease renewals that failed (etcd unreachable, lease lapsed).",
               static_cast<double>(c.lease_failures), out);
  RenderMetric("devstate_control_sync_set_changes_total", "counter",
               "Compare-and-swap changes this primary made to the synchronous set.",
               static_cast<double>(c.sync_changes), out);
  RenderMetric("devstate_control_sync_set_members", "gauge",
               "Members of the synchronous set in etcd.",
               static_cast<double>(c.sync_members.size()), out);
  RenderMetric("devstate_control_lease_remaining_seconds", "gauge",
               "Until this primary's fence closes unless the lease is renewed (0 on replicas).",
               static_cast<double>(c.lease_remaining_ms) / 1000.0, out);
  RenderMetric("devstate_control_etcd_up", "gauge", "1 while the last etcd call succeeded.",
               c.etcd_error.empty() ? 1 : 0, out);
  metrics_->lease_renew_seconds.Render("devstate_control_lease_renew_seconds",
                                       "Latency of one etcd lease renewal.", out);
}

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
               static_cast<double>(MqttMessages()), &out);
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
  RenderReplicationMetrics(&out);
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
  RenderMetric("devstate_http_streams_dropped_total", "counter",
               "Event streams (SSE) closed because the client fell behind.",
               static_cast<double>(metrics_->http_streams_dropped.load()), &out);
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
