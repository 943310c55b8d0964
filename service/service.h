// Service: the running devstate process minus its listeners. Owns the store, the ingest
// path, the dead-letter log and the MQTT ingester, and is the DeviceService the protocol
// servers use.
//
// Open recovers the store; Start begins MQTT intake; Stop ends intake and closes the store
// (finishing the commit in flight). Thread-safe after Open.
#pragma once

#include <memory>

#include "service/config.h"
#include "service/dead_letters.h"
#include "service/device_service.h"
#include "service/expiry_sweeper.h"
#include "service/ingest.h"
#include "service/mqtt_ingest.h"
#include "store/store.h"

namespace devstate {

class Service final : public DeviceService {
 public:
  static Status Open(const Config& config, std::unique_ptr<Service>* service);
  ~Service() override;

  void Start();
  // Returns false if MQTT intake holds a message the store refused (see MqttIngest::Stop):
  // the process must then exit without unwinding.
  bool Stop();

  void Ingest(std::vector<Event> events, Ingest::Done done) override;
  void CountRejected(uint64_t n) override;
  RecordPtr Get(std::string_view key) const override { return store_->Get(key); }
  void Prefetch(std::span<const std::string_view> keys) const override { store_->Prefetch(keys); }
  Status WriteStatus() const override { return store_->WriteStatus(); }
  MqttState mqtt_state() const override;
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
  Metrics& metrics() override { return *metrics_; }
  std::string MetricsText() const override;

  Store& store() { return *store_; }
  const IngestCounters& counters() const { return ingest_->counters(); }
  EventLimits event_limits() const;
  uint64_t ExpiredKeys() const override { return sweeper_ ? sweeper_->expired() : 0; }

 private:
  explicit Service(const Config& config) : config_(config) {}

  const Config config_;
  std::unique_ptr<Metrics> metrics_ = std::make_unique<Metrics>();  // outlives the store
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeadLetterLog> dead_letters_;
  std::unique_ptr<devstate::Ingest> ingest_;
  std::unique_ptr<MqttIngest> mqtt_;
  std::unique_ptr<ExpirySweeper> sweeper_;
  bool stopped_ = false;
};

}  // namespace devstate
