#include "service/mqtt/rejected_publisher.h"

#include <fmt/format.h>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include "service/json.h"
#include "service/mqtt_ingest.h"

namespace devstate {

MqttRejectedPublisher::MqttRejectedPublisher(const MqttOptions& options) {
  mqtt::create_options create(MQTTVERSION_3_1_1);
  create.set_send_while_disconnected(true);
  create.set_max_buffered_messages(1000);
  create.set_delete_oldest_messages(true);
  client_ =
      std::make_unique<mqtt::async_client>(options.broker, options.client_id + "-rejected", create);
  mqtt::connect_options connect;
  connect.set_clean_session(true);
  connect.set_keep_alive_interval(static_cast<int>(options.keepalive_s));
  connect.set_automatic_reconnect(static_cast<int>((options.reconnect_min_ms + 999) / 1000),
                                  static_cast<int>((options.reconnect_max_ms + 999) / 1000));
  if (!options.username.empty()) connect.set_user_name(options.username);
  if (!options.password.empty()) connect.set_password(options.password);
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  if (ParseBrokerUri(options.broker, &host, &port, &tls) && tls) {
    mqtt::ssl_options ssl;
    if (!options.ca.empty()) ssl.set_trust_store(options.ca);
    if (!options.cert.empty()) ssl.set_key_store(options.cert);
    if (!options.key.empty()) ssl.set_private_key(options.key);
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);
    connect.set_ssl(std::move(ssl));
  }
  try {
    client_->connect(connect);  // not waited for: automatic reconnect keeps trying
  } catch (const mqtt::exception& e) {
    spdlog::warn("mqtt: the publisher of rejections cannot start: {}", e.what());
  }
}

MqttRejectedPublisher::~MqttRejectedPublisher() {
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(1));
  } catch (const mqtt::exception&) {
  }
}

void MqttRejectedPublisher::Publish(std::string_view topic, std::string_view reason,
                                    std::string_view payload) {
  const std::string body = fmt::format("{{\"error\":{},\"topic\":{},\"payload\":{}}}",
                                       JsonString(reason), JsonString(topic), JsonString(payload));
  try {
    client_->publish(std::string(topic) + "/rejected", body.data(), body.size(), 1, false);
  } catch (const mqtt::exception& e) {
    spdlog::debug("mqtt: cannot publish a rejection for '{}': {}", topic, e.what());
  }
}

}  // namespace devstate
