#include "service/service.h"

#include <spdlog/spdlog.h>

namespace devstate {

Status Service::Open(const Config& config, std::unique_ptr<Service>* service) {
  std::unique_ptr<Service> svc(new Service(config));
  StoreOptions store_options;
  store_options.dir = config.store_dir;
  store_options.max_group_mutations = static_cast<size_t>(config.store_max_group_mutations);
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

EventLimits Service::event_limits() const {
  EventLimits limits;
  limits.max_bytes = static_cast<size_t>(config_.limits_max_event_bytes);
  return limits;
}

void Service::Start() {
  if (mqtt_) mqtt_->Start();
}

bool Service::Stop() {
  stopped_ = true;
  const bool clean = mqtt_ ? mqtt_->Stop() : true;
  store_->Close();
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

}  // namespace devstate
