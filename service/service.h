// Service: the running devstate process minus its listeners. Owns the store, the ingest
// path, the dead-letter log and the MQTT ingester, and is the DeviceService the protocol
// servers use.
//
// Open recovers the store (refusing writes at once when it starts as a replica); Start
// takes this node's first role (Roles::Begin): a primary begins MQTT intake and expiry
// sweeping, a replica follows its primary. With replication.etcd the node starts undecided
// and its controller (service/control/) decides. Stop ends intake and the replica link and
// closes the store (finishing the commit in flight). Thread-safe after Open.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "service/config.h"
#include "service/control/controller.h"
#include "service/dead_letters.h"
#include "service/device_service.h"
#include "service/expiry_sweeper.h"
#include "service/ingest.h"
#include "service/mqtt_ingest.h"
#include "service/replication/roles.h"
#include "store/store.h"

namespace devstate {

class Service final : public DeviceService {
 public:
  static Status Open(const Config& config, std::unique_ptr<Service>* service);
  ~Service() override;

  // The listeners' ports (for the node's announce address), then the first role.
  Status Start(uint16_t resp_port, uint16_t http_port);
  // Stops intake, the replica link and the sweeper, then closes the store. MQTT messages
  // not acknowledged stay with the broker, which sends them to the next session.
  void Stop();

  void Ingest(std::vector<Event> events, Ingest::Done done) override;
  void CountRejected(uint64_t n) override;
  RecordPtr Get(std::string_view key) const override { return store_->Get(key); }
  void Prefetch(std::span<const std::string_view> keys) const override { store_->Prefetch(keys); }
  ReadWaiters* read_waiters() const override { return &store_->keyspace().read_waiters(); }
  void SetKeyObserver(KeyObserver* observer) override { store_->keyspace().SetObserver(observer); }
  Status WriteStatus() const override { return store_->WriteStatus(); }
  MqttState mqtt_state() const override;
  std::string mqtt_error() const override;
  std::vector<DeadLetter> DeadLetters(size_t limit) const override;
  uint64_t DeadLetterTotal() const override;
  int64_t NowMs() const override { return store_->NowMs(); }
  void Write(std::vector<Mutation> mutations, CommitCallback done) override {
    store_->Write(std::move(mutations), std::move(done));
  }
  void QueueWrite(std::vector<Mutation> mutations, CommitCallback done) override {
    store_->Queue(std::move(mutations), std::move(done));
  }
  void CommitQueued() override { store_->CommitQueued(); }
  size_t KeyCount() const override { return store_->keyspace().Size(); }
  size_t KeysWithExpiry() const override { return store_->keyspace().WithExpiry(); }
  uint64_t Scan(uint64_t cursor, size_t count, const Keyspace::ScanFn& fn) const override {
    return store_->keyspace().Scan(cursor, count, fn);
  }
  uint64_t JournalPosition() const override { return store_->LastSequence(); }
  uint64_t ChangesWritten() const override { return store_->stats().changes; }
  bool IsPrimary() const override { return roles_->primary(); }
  bool Loading() const override { return store_->loading(); }
  RoleView Role() const override;
  Status ServingStatus() const override;
  void ChangeRole(RoleChange change, std::function<void(Status)> done) override {
    roles_->Change(std::move(change), std::move(done));
  }
  Status AttachReplica(const replication::ReplicaHello& hello, std::string* reply,
                       std::shared_ptr<replication::Feed>* feed) override;
  void WaitForReplicas(uint64_t seq, size_t replicas, std::chrono::milliseconds timeout,
                       std::function<void(size_t)> done) override {
    roles_->WaitForReplicas(seq, replicas, timeout, std::move(done));
  }
  Metrics& metrics() override { return *metrics_; }
  std::string MetricsText() const override;

  Store& store() { return *store_; }
  const IngestCounters& counters() const { return ingest_->counters(); }
  EventLimits event_limits() const;
  uint64_t ExpiredKeys() const override;
  const std::string& node_id() const { return node_id_; }

 private:
  explicit Service(const Config& config) : config_(config) {}
  // The primary's work: MQTT intake and expiry sweeping (Roles starts and stops it).
  void StartPrimaryWork();
  void StopPrimaryWork();
  uint64_t MqttMessages() const;
  void RenderReplicationMetrics(std::string* out) const;

  const Config config_;
  std::unique_ptr<Metrics> metrics_ = std::make_unique<Metrics>();  // outlives the store
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeadLetterLog> dead_letters_;
  std::unique_ptr<devstate::Ingest> ingest_;
  std::string node_id_;
  std::optional<MqttOptions> mqtt_options_;  // mqtt.broker is set
  std::unique_ptr<Roles> roles_;
  std::unique_ptr<control::Controller> controller_;  // replication.etcd is set
  std::optional<control::ControllerOptions> control_options_;
  mutable std::mutex work_mu_;  // guards mqtt_ and sweeper_, which come and go with the role
  std::shared_ptr<MqttIngest> mqtt_;
  std::shared_ptr<ExpirySweeper> sweeper_;
  uint64_t expired_before_ = 0;        // by sweepers of earlier terms as primary
  uint64_t mqtt_messages_before_ = 0;  // by MQTT clients of earlier terms
  bool stopped_ = false;
};

}  // namespace devstate
