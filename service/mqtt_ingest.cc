#include "service/mqtt_ingest.h"

#include <fmt/format.h>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "store/thread_name.h"

namespace devstate {

const char* MqttStateName(MqttState state) {
  switch (state) {
    case MqttState::kDisabled:
      return "disabled";
    case MqttState::kConnecting:
      return "connecting";
    case MqttState::kConnected:
      return "connected";
    case MqttState::kStalled:
      return "stalled";
  }
  return "unknown";
}

std::string_view DeviceIdFromTopic(std::string_view filter, std::string_view topic) {
  size_t level = 0;
  bool found = false;
  for (size_t start = 0;;) {
    const size_t end = filter.find('/', start);
    if (filter.substr(start, end - start) == "+") {
      found = true;
      break;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
    ++level;
  }
  if (!found) return {};
  size_t start = 0;
  for (size_t i = 0; i < level; ++i) {
    const size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
  const size_t end = topic.find('/', start);
  return topic.substr(start, end == std::string_view::npos ? end : end - start);
}

MqttIngest::MqttIngest(MqttOptions options, Ingest* ingest, DeadLetterLog* dead_letters,
                       std::function<int64_t()> now_ms)
    : options_(std::move(options)),
      ingest_(ingest),
      dead_letters_(dead_letters),
      now_ms_(std::move(now_ms)),
      parser_(options_.limits) {}

MqttIngest::~MqttIngest() {
  if (supervisor_.joinable()) (void)Stop();
}

void MqttIngest::Start() {
  // No client persistence: devstate only receives, and QoS 1 state for inbound messages
  // lives in the broker's session.
  client_ = std::make_unique<mqtt::async_client>(options_.broker, options_.client_id);
  client_->set_message_callback([this](mqtt::const_message_ptr msg) {
    OnMessage(msg->get_topic(), msg->get_payload_ref().to_string());
  });
  client_->set_connection_lost_handler([this](const std::string& cause) {
    std::lock_guard lock(mu_);
    lost_ = true;
    cv_.notify_all();
  });
  supervisor_ = std::thread([this] {
    SetThreadName("ds-mqtt");
    Supervise();
  });
}

void MqttIngest::SetError(std::string error) {
  std::lock_guard lock(mu_);
  last_error_ = std::move(error);
}

std::string MqttIngest::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void MqttIngest::Supervise() {
  mqtt::connect_options connect;
  connect.set_clean_session(false);  // the broker keeps our subscription and queues events
  connect.set_keep_alive_interval(static_cast<int>(options_.keepalive_s));
  connect.set_connect_timeout(5);
  connect.set_mqtt_version(MQTTVERSION_3_1_1);
  if (!options_.username.empty()) connect.set_user_name(options_.username);
  if (!options_.password.empty()) connect.set_password(options_.password);
  if (options_.broker.rfind("ssl://", 0) == 0 || options_.broker.rfind("mqtts://", 0) == 0) {
    mqtt::ssl_options ssl;
    if (!options_.ca.empty()) ssl.set_trust_store(options_.ca);
    if (!options_.cert.empty()) ssl.set_key_store(options_.cert);
    if (!options_.key.empty()) ssl.set_private_key(options_.key);
    ssl.set_enable_server_cert_auth(true);  // the broker's chain must reach the CA
    ssl.set_verify(true);                   // and its certificate must name the host we dialled
    connect.set_ssl(std::move(ssl));
  }

  int64_t backoff_ms = options_.reconnect_min_ms;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lost_ = false;
    lock.unlock();
    std::string error;
    try {
      client_->connect(connect)->wait();
      auto token = client_->subscribe(options_.topic, 1);
      token->wait();
      const mqtt::subscribe_response response = token->get_subscribe_response();
      for (auto code : response.get_reason_codes()) {
        if (code > 1)
          error = fmt::format("broker refused the subscription to '{}'", options_.topic);
      }
    } catch (const mqtt::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (stopping_) break;
    if (error.empty()) {
      if (!stalled_) state_ = MqttState::kConnected;
      last_error_.clear();
      spdlog::info("mqtt: connected to {} as '{}', subscribed to '{}' (QoS 1, persistent session)",
                   options_.broker, options_.client_id, options_.topic);
      backoff_ms = options_.reconnect_min_ms;
      cv_.wait(lock, [&] { return stopping_ || lost_; });
      if (stopping_) break;
      if (!stalled_) state_ = MqttState::kConnecting;
      spdlog::warn("mqtt: lost the connection to {}; reconnecting", options_.broker);
      continue;
    }
    if (!stalled_) state_ = MqttState::kConnecting;
    last_error_ = error;
    spdlog::warn("mqtt: cannot reach {}: {}; retrying in {} ms", options_.broker, error,
                 backoff_ms);
    lock.unlock();
    try {
      // Connected but not subscribed: drop the session's connection and start over.
      if (client_->is_connected()) client_->disconnect()->wait();
    } catch (const mqtt::exception&) {
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
    backoff_ms = std::min(backoff_ms * 2, options_.reconnect_max_ms);
  }
}

void MqttIngest::DeadLetter(std::string_view topic, std::string_view payload,
                            const std::string& reason) {
  ingest_->counters().rejected.fetch_add(1, std::memory_order_relaxed);
  devstate::DeadLetter letter;
  letter.time_ms = now_ms_();
  letter.source = fmt::format("mqtt:{}", topic);
  letter.reason = reason;
  letter.payload_head.assign(payload.substr(0, options_.dead_letter_payload_bytes));
  letter.payload_bytes = payload.size();
  Status s = dead_letters_->Append(std::move(letter));
  if (!s.ok()) {
    // Still not silent: the log line carries what the dead letter would have.
    spdlog::error("mqtt: cannot record a dead letter ({}): topic '{}', reason '{}'", s.ToString(),
                  topic, reason);
    return;
  }
  ingest_->counters().dead_lettered.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("mqtt: dead letter from '{}': {}", topic, reason);
}

void MqttIngest::OnMessage(std::string_view topic, std::string_view payload) {
  messages_.fetch_add(1, std::memory_order_relaxed);
  const int64_t receive_ms = now_ms_();
  const std::string_view path_id = DeviceIdFromTopic(options_.topic, topic);
  Event event;
  Status s = parser_.Parse(payload, path_id, receive_ms, &event);
  if (!s.ok()) {
    DeadLetter(topic, payload, s.message());
    return;
  }
  std::vector<Event> events;
  events.push_back(std::move(event));
  if (!options_.ack_after_commit) {
    const std::string where(topic);
    ingest_->Submit(std::move(events), [where](const Status& s, std::vector<IngestResult> r) {
      if (!s.ok())
        spdlog::error("mqtt: event from '{}' acknowledged but lost: {}", where, s.ToString());
    });
    return;
  }
  // A full disk, or too few replicas, refuses writes for a while: hold the message (no
  // PUBACK) and try it again once the store takes writes, so intake pauses and resumes by
  // itself. A failed fsync refuses for good: then the message is held until the end.
  for (;;) {
    std::vector<IngestResult> results;
    s = ingest_->SubmitAndWait(events, &results);
    if (s.ok()) {
      if (!results[0].status.ok()) DeadLetter(topic, payload, results[0].status.message());
      std::lock_guard lock(mu_);
      if (stalled_ && !stopping_) {
        stalled_ = false;
        state_ = lost_ ? MqttState::kConnecting : MqttState::kConnected;
        spdlog::info("mqtt: the store takes writes again; intake resumed");
      }
      return;
    }
    const bool transient =
        s.code() == Status::Code::kNoSpace || s.code() == Status::Code::kNoReplicas;
    std::unique_lock lock(mu_);
    if (!stalled_) {
      spdlog::error(
          "mqtt: store refused an event from '{}' ({}); MQTT intake {}, the message "
          "stays unacknowledged at the broker",
          topic, s.ToString(), transient ? "paused until it takes writes" : "stalled");
    }
    stalled_ = true;
    state_ = MqttState::kStalled;
    last_error_ = s.ToString();
    cv_.notify_all();
    if (!transient) {
      cv_.wait(lock, [&] { return false; });  // released only by the end of the process
    }
    // Released by Stop (the message stays unacknowledged: returning from the callback
    // during Stop would send its PUBACK, so wait for the process to end instead).
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stopping_) cv_.wait(lock, [&] { return false; });
  }
}

bool MqttIngest::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return !stalled_;
    stopping_ = true;
    cv_.notify_all();
  }
  if (supervisor_.joinable()) supervisor_.join();
  {
    std::lock_guard lock(mu_);
    if (stalled_) {
      (void)client_.release();  // Paho's thread is parked in our callback; never unwind it
      return false;
    }
  }
  try {
    if (client_ && client_->is_connected())
      client_->disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception& e) {
    spdlog::warn("mqtt: disconnect: {}", e.what());
  }
  state_ = MqttState::kDisabled;
  return true;
}

}  // namespace devstate
