#include "api/options.h"

namespace devstate::api {

http::ServerOptions HttpServerOptions(const Config& config) {
  http::ServerOptions o;
  o.bind = config.http_bind;
  o.port = static_cast<uint16_t>(config.http_port);
  o.threads = static_cast<int>(config.http_threads);
  o.max_body_bytes = static_cast<size_t>(config.http_max_body_bytes);
  o.max_header_bytes = static_cast<size_t>(config.http_max_header_bytes);
  o.header_timeout = std::chrono::milliseconds(config.http_header_timeout_ms);
  o.body_timeout = std::chrono::milliseconds(config.http_body_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(config.http_idle_timeout_ms);
  o.max_connections = static_cast<size_t>(config.http_max_connections);
  o.max_pipeline = static_cast<size_t>(config.http_max_pipeline);
  o.max_stream_backlog = static_cast<size_t>(config.limits_max_pubsub_output_bytes);
  return o;
}

http::HandlerOptions HttpHandlerOptions(const Config& config) {
  http::HandlerOptions o;
  o.limits = EventLimitsFrom(config);
  o.max_batch_events = static_cast<size_t>(config.limits_max_batch_events);
  return o;
}

resp::ServerOptions RespServerOptions(const Config& config) {
  resp::ServerOptions o;
  o.bind = config.resp_bind;
  o.port = static_cast<uint16_t>(config.resp_port);
  o.threads = static_cast<int>(config.resp_threads);
  o.busy_poll = std::chrono::microseconds(config.resp_busy_poll_us);
  resp::ServerLimits& l = o.limits;
  l.parser.max_bulk_bytes = static_cast<size_t>(config.limits_max_bulk_bytes);
  l.parser.max_multibulk = static_cast<size_t>(config.limits_max_multibulk);
  l.max_query_buffer = static_cast<size_t>(config.limits_max_query_buffer_bytes);
  l.max_output_buffer = static_cast<size_t>(config.limits_max_output_buffer_bytes);
  l.max_pubsub_output = static_cast<size_t>(config.limits_max_pubsub_output_bytes);
  l.hash_max_listpack_entries = static_cast<size_t>(config.resp_hash_max_listpack_entries);
  l.hash_max_listpack_value = static_cast<size_t>(config.resp_hash_max_listpack_value);
  l.zset_max_listpack_entries = static_cast<size_t>(config.resp_zset_max_listpack_entries);
  l.zset_max_listpack_value = static_cast<size_t>(config.resp_zset_max_listpack_value);
  l.set_max_intset_entries = static_cast<size_t>(config.resp_set_max_intset_entries);
  l.slowlog_slower_than_us = config.resp_slowlog_log_slower_than_us;
  l.slowlog_max_len = config.resp_slowlog_max_len;
  l.max_clients = static_cast<size_t>(config.resp_max_clients);
  l.idle_timeout_ms = config.resp_idle_timeout_s * 1000;
  l.max_pipeline = static_cast<size_t>(config.resp_max_pipeline);
  o.announce_host = config.replication_announce;
  o.replica_reads_need_readonly = config.replication_replica_reads == "readonly";
  return o;
}

acl::AuthThrottle::Options AuthThrottleOptions(const Config& config) {
  acl::AuthThrottle::Options o;
  o.base_delay = std::chrono::milliseconds(config.acl_auth_failure_delay_ms);
  o.address_budget = static_cast<double>(config.acl_auth_failure_budget);
  o.max_delay = std::chrono::milliseconds(config.acl_auth_max_delay_ms);
  return o;
}

}  // namespace devstate::api
