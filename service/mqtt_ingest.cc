#include "service/mqtt_ingest.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <mutex>
#include <optional>

#include "service/mqtt/rejected_publisher.h"
#include "service/mqtt/session.h"
#include "store/thread_name.h"

namespace devstate {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

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

bool TopicMatches(std::string_view filter, std::string_view topic) {
  for (;;) {
    const size_t f_end = filter.find('/');
    const std::string_view f = filter.substr(0, f_end);
    if (f == "#") return true;
    const size_t t_end = topic.find('/');
    const std::string_view t = topic.substr(0, t_end);
    if (f != "+" && f != t) return false;
    const bool f_last = f_end == std::string_view::npos;
    const bool t_last = t_end == std::string_view::npos;
    if (f_last || t_last) {
      // "a/#" also matches "a" (MQTT 3.1.1 §4.7.1.2).
      return f_last == t_last || (t_last && filter.substr(f_end + 1) == "#");
    }
    filter.remove_prefix(f_end + 1);
    topic.remove_prefix(t_end + 1);
  }
}

bool ParseBrokerUri(std::string_view uri, std::string* host, uint16_t* port, bool* tls) {
  const size_t scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view scheme = uri.substr(0, scheme_end);
  if (scheme == "tcp" || scheme == "mqtt") {
    *tls = false;
  } else if (scheme == "ssl" || scheme == "mqtts") {
    *tls = true;
  } else {
    return false;
  }
  std::string_view rest = uri.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  int p = *tls ? 8883 : 1883;
  if (colon != std::string_view::npos && rest.find(']', colon) == std::string_view::npos) {
    const std::string_view digits = rest.substr(colon + 1);
    if (digits.empty() || digits.size() > 5) return false;
    p = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      p = p * 10 + (c - '0');
    }
    rest = rest.substr(0, colon);
  }
  if (rest.size() >= 2 && rest.front() == '[' && rest.back() == ']')
    rest = rest.substr(1, rest.size() - 2);
  if (rest.empty() || p <= 0 || p > 65535) return false;
  host->assign(rest);
  *port = static_cast<uint16_t>(p);
  return true;
}

class Connection;

// Everything of MqttIngest that runs on its thread, shared with the store's callbacks.
class MqttIngest::Core : public std::enable_shared_from_this<Core> {
 public:
  Core(MqttOptions options, Ingest* ingest, DeadLetterLog* dead_letters,
       std::function<int64_t()> now_ms)
      : options_(std::move(options)),
        ingest_(ingest),
        dead_letters_(dead_letters),
        now_ms_(std::move(now_ms)),
        parser_(options_.limits),
        backoff_timer_(io) {}

  net::io_context io;
  std::atomic<MqttState> state{MqttState::kConnecting};
  std::atomic<uint64_t> messages{0};

  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

  Status Prepare();  // on the caller's thread, before the io thread runs
  void Begin() {
    work_.emplace(io.get_executor());  // run() goes on between connections until End
    net::post(io, [self = shared_from_this()] { self->Connect(); });
  }
  void End();

  // Called by a Connection on the io thread.
  void OnBurst(const std::shared_ptr<Connection>& conn, std::vector<mqtt::Message> burst);
  void Subscribed(const Connection* conn);
  void Ended(const Connection* conn, const std::string& why, bool was_subscribed);

  const MqttOptions& options() const { return options_; }
  net::ssl::context* tls() { return tls_ ? &*tls_ : nullptr; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  mqtt::SessionOptions session_options() const;

 private:
  // The messages of one read burst, until each is acknowledged or its connection ends.
  struct Batch {
    std::weak_ptr<Connection> conn;
    std::vector<mqtt::Message> messages;
    std::vector<bool> settled;  // dead-lettered or committed
  };

  void Connect();
  void Submit(const std::shared_ptr<Batch>& batch);
  void Committed(const std::shared_ptr<Batch>& batch, const std::vector<size_t>& index,
                 const Status& s, const std::vector<IngestResult>& results);
  void Acknowledge(const std::shared_ptr<Batch>& batch, std::vector<uint64_t> tickets);
  void DeadLetter(const mqtt::Message& m, const std::string& reason);
  void SetState(MqttState s, std::string error);

  const MqttOptions options_;
  Ingest* const ingest_;
  DeadLetterLog* const dead_letters_;
  const std::function<int64_t()> now_ms_;
  EventParser parser_;  // io thread only
  std::optional<net::ssl::context> tls_;
  std::unique_ptr<MqttRejectedPublisher> rejected_;
  std::string host_;
  uint16_t port_ = 0;
  bool warned_loop_ = false;  // io thread only

  // io thread only
  std::shared_ptr<Connection> conn_;
  uint64_t held_ = 0;  // batches the store refused, waiting to be tried again or held
  bool stopping_ = false;
  bool refused_for_good_ = false;
  int64_t backoff_ms_ = 0;
  net::steady_timer backoff_timer_;  // also bounds the goodbye at Stop
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;

  mutable std::mutex mu_;
  std::string last_error_;  // guarded by mu_
};

// One connection to the broker, from connect to its end (io thread only).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Core = MqttIngest::Core;

  explicit Connection(const std::shared_ptr<Core>& core)
      : core_(core),
        resolver_(core->io),
        socket_(core->io),
        tick_(core->io),
        session_(core->session_options(),
                 [this](std::vector<mqtt::Message> burst) { OnBurst(std::move(burst)); }) {}

  void Start() {
    started_ = last_in_ = last_out_ = Clock::now();
    Tick();
    resolver_.async_resolve(
        core_->host(), std::to_string(core_->port()),
        [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
          if (ec) return self->Close("cannot resolve the broker: " + ec.message());
          net::async_connect(self->socket_, r, [self](error_code ec, const tcp::endpoint&) {
            if (ec) return self->Close("cannot connect to the broker: " + ec.message());
            error_code ignored;
            self->socket_.set_option(tcp::no_delay(true), ignored);
            self->Handshake();
          });
        });
  }

  // Ends the connection (once); the core reconnects unless it is stopping.
  void Close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    tick_.cancel();
    resolver_.cancel();
    core_->Ended(this, why, subscribed_);
  }

  // Stop: a DISCONNECT (the session stays with the broker), then close.
  void Leave() {
    if (closed_) return;
    if (session_.phase() == mqtt::Session::Phase::kConnecting || writing_) {
      return Close("stopping");
    }
    out_ += mqtt::EncodeDisconnect(core_->session_options().version);
    leaving_ = true;
    Flush();
  }

  void Acknowledge(const std::vector<uint64_t>& tickets) {
    if (closed_) return;
    for (uint64_t t : tickets) {
      if (!session_.Done(t, &out_)) return Fail();
    }
    Flush();
    Read();  // back-pressure may have paused reading
  }

  size_t waiting() const { return session_.waiting(); }

 private:
  void Handshake() {
    net::ssl::context* ctx = core_->tls();
    if (ctx == nullptr) return Begin();
    tls_.emplace(socket_, *ctx);
    SSL_set_tlsext_host_name(tls_->native_handle(), core_->host().c_str());
    tls_->set_verify_mode(net::ssl::verify_peer);
    // The chain must lead to mqtt.ca and the certificate must name the host dialled.
    tls_->set_verify_callback(net::ssl::host_name_verification(core_->host()));
    tls_->async_handshake(
        net::ssl::stream_base::client, [self = shared_from_this()](error_code ec) {
          if (ec) return self->Close("TLS handshake with the broker failed: " + ec.message());
          self->Begin();
        });
  }

  void Begin() {
    session_.Begin(&out_);
    Flush();
    Read();
  }

  void Fail() {
    Flush();  // what the session answered before the failure (PUBACKs due)
    Close(session_.error());
  }

  void Read() {
    if (closed_ || reading_ || !session_.WantsInput()) return;
    reading_ = true;
    read_since_ = Clock::now();
    auto done = [self = shared_from_this()](error_code ec, size_t n) {
      self->reading_ = false;
      if (self->closed_) return;
      if (ec) {
        return self->Close(ec == net::error::eof ? "the broker closed the connection"
                                                 : "reading from the broker: " + ec.message());
      }
      self->last_in_ = Clock::now();
      if (!self->session_.Receive(std::string_view(self->buf_.data(), n), &self->out_))
        return self->Fail();
      if (!self->subscribed_ && self->session_.phase() == mqtt::Session::Phase::kSubscribed) {
        self->subscribed_ = true;
        self->core_->Subscribed(self.get());
      }
      self->Flush();
      self->Read();
    };
    if (tls_) {
      tls_->async_read_some(net::buffer(buf_), std::move(done));
    } else {
      socket_.async_read_some(net::buffer(buf_), std::move(done));
    }
  }

  void Flush() {
    if (closed_ || writing_ || out_.empty()) return;
    writing_ = true;
    sending_.swap(out_);
    out_.clear();
    auto done = [self = shared_from_this()](error_code ec, size_t) {
      self->writing_ = false;
      self->sending_.clear();
      if (self->closed_) return;
      if (ec) return self->Close("writing to the broker: " + ec.message());
      self->last_out_ = Clock::now();
      if (self->leaving_ && self->out_.empty()) return self->Close("stopping");
      self->Flush();
    };
    if (tls_) {
      net::async_write(*tls_, net::buffer(sending_), std::move(done));
    } else {
      net::async_write(socket_, net::buffer(sending_), std::move(done));
    }
  }

  // Once a second: the connect deadline, keep-alive pings, and a broker gone silent.
  void Tick() {
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->closed_) return;
      const auto now = Clock::now();
      const auto keepalive = std::chrono::seconds(self->core_->options().keepalive_s);
      if (!self->subscribed_ && now - self->started_ > std::chrono::seconds(10)) {
        return self->Close("no CONNACK and SUBACK from the broker within 10 s");
      }
      if (self->session_.phase() != mqtt::Session::Phase::kConnecting &&
          now - self->last_out_ >= keepalive) {
        self->session_.Ping(&self->out_);
        self->last_out_ = now;  // one ping per interval, even while a write is pending
        self->Flush();
      }
      // Silent for 1.5 keep-alive intervals while we were reading: the broker is gone.
      // While back-pressure holds reading, its pings wait in the socket: not silence.
      if (self->reading_ && now - std::max(self->last_in_, self->read_since_) > keepalive * 3 / 2) {
        return self->Close("the broker has been silent for 1.5 keep-alive intervals");
      }
      self->Tick();
    });
  }

  void OnBurst(std::vector<mqtt::Message> burst) {
    core_->OnBurst(shared_from_this(), std::move(burst));
  }

  std::shared_ptr<Core> core_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  std::optional<net::ssl::stream<tcp::socket&>> tls_;
  net::steady_timer tick_;
  mqtt::Session session_;
  std::array<char, 64 * 1024> buf_{};
  std::string out_;
  std::string sending_;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool leaving_ = false;
  bool subscribed_ = false;
  Clock::time_point started_, last_in_, last_out_, read_since_;
};

mqtt::SessionOptions MqttIngest::Core::session_options() const {
  mqtt::SessionOptions s;
  s.version = options_.v5 ? mqtt::Version::k5 : mqtt::Version::k311;
  s.topic = options_.topic;
  s.max_packet_bytes = static_cast<size_t>(options_.max_packet_bytes);
  s.max_inflight = static_cast<size_t>(options_.max_inflight);
  s.max_inflight_bytes = static_cast<size_t>(options_.max_inflight_bytes);
  s.connect.client_id = options_.client_id;
  s.connect.username = options_.username;
  s.connect.password = options_.password;
  s.connect.keepalive_s = static_cast<uint16_t>(options_.keepalive_s);
  s.connect.clean_start = false;
  s.connect.session_expiry_s = static_cast<uint32_t>(options_.session_expiry_s);
  s.connect.receive_maximum = static_cast<uint16_t>(options_.max_inflight);
  s.connect.maximum_packet_bytes = static_cast<uint32_t>(options_.max_packet_bytes);
  return s;
}

Status MqttIngest::Core::Prepare() {
  bool use_tls = false;
  if (!ParseBrokerUri(options_.broker, &host_, &port_, &use_tls)) {
    return Status::InvalidArgument("mqtt.broker: not a tcp:// or ssl:// URI: " + options_.broker);
  }
  if (use_tls) {
    namespace ssl = net::ssl;
    tls_.emplace(ssl::context::tls_client);
    error_code ec;
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1,
                      ec);
    if (options_.ca.empty()) {
      tls_->set_default_verify_paths(ec);
    } else {
      tls_->load_verify_file(options_.ca, ec);
    }
    if (ec) return Status::InvalidArgument("mqtt.ca: " + ec.message());
    if (!options_.cert.empty()) {
      tls_->use_certificate_chain_file(options_.cert, ec);
      if (!ec) tls_->use_private_key_file(options_.key, ssl::context::pem, ec);
      if (ec) return Status::InvalidArgument("mqtt.cert/mqtt.key: " + ec.message());
    }
  }
  if (options_.publish_rejected) rejected_ = std::make_unique<MqttRejectedPublisher>(options_);

  backoff_ms_ = options_.reconnect_min_ms;
  return Status::OK();
}

void MqttIngest::Core::SetState(MqttState s, std::string error) {
  state = s;
  std::lock_guard lock(mu_);
  last_error_ = std::move(error);
}

void MqttIngest::Core::Connect() {
  if (stopping_) return;
  conn_ = std::make_shared<Connection>(shared_from_this());
  conn_->Start();
}

void MqttIngest::Core::Subscribed(const Connection* conn) {
  if (conn != conn_.get()) return;
  backoff_ms_ = options_.reconnect_min_ms;
  SetState(held_ > 0 ? MqttState::kStalled : MqttState::kConnected, {});
  spdlog::info(
      "mqtt: connected to {} as '{}' (MQTT {}), subscribed to '{}' (QoS 1, persistent session)",
      options_.broker, options_.client_id, options_.v5 ? "5" : "3.1.1", options_.topic);
}

void MqttIngest::Core::Ended(const Connection* conn, const std::string& why, bool was_subscribed) {
  if (conn != conn_.get()) return;
  conn_.reset();
  if (stopping_) {
    backoff_timer_.cancel();
    return;
  }
  if (held_ == 0) state = MqttState::kConnecting;
  {
    std::lock_guard lock(mu_);
    last_error_ = why;
  }
  spdlog::warn("mqtt: {} {}: {}; reconnecting in {} ms",
               was_subscribed ? "lost the connection to" : "cannot reach", options_.broker, why,
               backoff_ms_);
  backoff_timer_.expires_after(std::chrono::milliseconds(backoff_ms_));
  backoff_ms_ = std::min(backoff_ms_ * 2, options_.reconnect_max_ms);
  backoff_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->Connect();
  });
}

void MqttIngest::Core::End() {
  net::post(io, [self = shared_from_this()] {
    self->stopping_ = true;
    self->work_.reset();
    self->backoff_timer_.cancel();
    if (!self->conn_) return;
    self->backoff_timer_.expires_after(std::chrono::seconds(2));
    self->backoff_timer_.async_wait([self](error_code ec) {
      if (!ec && self->conn_) self->conn_->Close("stopping: the broker did not take DISCONNECT");
    });
    self->conn_->Leave();
  });
}

void MqttIngest::Core::DeadLetter(const mqtt::Message& m, const std::string& reason) {
  ingest_->counters().rejected.fetch_add(1, std::memory_order_relaxed);
  // A filter that takes the rejections' own topics (devices/#) would feed each rejection
  // back in as an event and reject it again, without end: those are not published.
  const bool loops = TopicMatches(options_.topic, m.topic + "/rejected");
  if (loops && rejected_ && !warned_loop_) {
    warned_loop_ = true;
    spdlog::warn("mqtt: rejections are not published on topics mqtt.topic '{}' subscribes to",
                 options_.topic);
  }
  if (rejected_ && !loops)
    rejected_->Publish(m.topic, reason,
                       std::string_view(m.payload).substr(0, options_.dead_letter_payload_bytes));
  devstate::DeadLetter letter;
  letter.time_ms = now_ms_();
  letter.source = fmt::format("mqtt:{}", m.topic);
  letter.reason = reason;
  letter.payload_head.assign(
      std::string_view(m.payload).substr(0, options_.dead_letter_payload_bytes));
  letter.payload_bytes = m.payload.size();
  Status s = dead_letters_->Append(std::move(letter));
  if (!s.ok()) {
    // Still not silent: the log line carries what the dead letter would have.
    spdlog::error("mqtt: cannot record a dead letter ({}): topic '{}', reason '{}'", s.ToString(),
                  m.topic, reason);
    return;
  }
  ingest_->counters().dead_lettered.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("mqtt: dead letter from '{}': {}", m.topic, reason);
}

void MqttIngest::Core::OnBurst(const std::shared_ptr<Connection>& conn,
                               std::vector<mqtt::Message> burst) {
  messages.fetch_add(burst.size(), std::memory_order_relaxed);
  auto batch = std::make_shared<Batch>();
  batch->conn = conn;
  batch->settled.assign(burst.size(), false);
  batch->messages = std::move(burst);
  Submit(batch);
}

void MqttIngest::Core::Acknowledge(const std::shared_ptr<Batch>& batch,
                                   std::vector<uint64_t> tickets) {
  if (tickets.empty()) return;
  // Posted, never called in place: a Connection may be inside its session's Receive.
  net::post(io, [batch, tickets = std::move(tickets)] {
    if (auto conn = batch->conn.lock()) conn->Acknowledge(tickets);
  });
}

void MqttIngest::Core::Submit(const std::shared_ptr<Batch>& batch) {
  std::vector<Event> events;
  std::vector<size_t> index;  // events[j] is batch->messages[index[j]]
  std::vector<uint64_t> settled_now;
  const int64_t receive_ms = now_ms_();
  for (size_t i = 0; i < batch->messages.size(); ++i) {
    if (batch->settled[i]) continue;
    const mqtt::Message& m = batch->messages[i];
    Event event;
    Status s =
        parser_.Parse(m.payload, DeviceIdFromTopic(options_.topic, m.topic), receive_ms, &event);
    if (!s.ok()) {
      DeadLetter(m, s.message());
      batch->settled[i] = true;
      if (m.ticket != 0) settled_now.push_back(m.ticket);
      continue;
    }
    events.push_back(std::move(event));
    index.push_back(i);
  }
  if (!options_.ack_after_commit) {
    for (size_t i : index) {
      batch->settled[i] = true;
      if (batch->messages[i].ticket != 0) settled_now.push_back(batch->messages[i].ticket);
    }
  }
  Acknowledge(batch, std::move(settled_now));
  if (events.empty()) return;
  if (!options_.ack_after_commit) {
    ingest_->Submit(std::move(events), [](const Status& s, std::vector<IngestResult>) {
      if (!s.ok())
        spdlog::error("mqtt: events acknowledged on receipt were lost: {}", s.ToString());
    });
    return;
  }
  // The callback runs on the thread that completed the commit: hand over to ours.
  ingest_->Submit(std::move(events), [self = shared_from_this(), batch, index = std::move(index)](
                                         const Status& s,
                                         std::vector<IngestResult> results) mutable {
    net::post(self->io, [self, batch, index = std::move(index), s, results = std::move(results)] {
      self->Committed(batch, index, s, results);
    });
  });
}

void MqttIngest::Core::Committed(const std::shared_ptr<Batch>& batch,
                                 const std::vector<size_t>& index, const Status& s,
                                 const std::vector<IngestResult>& results) {
  if (s.ok()) {
    std::vector<uint64_t> tickets;
    for (size_t j = 0; j < index.size(); ++j) {
      const mqtt::Message& m = batch->messages[index[j]];
      if (!results[j].status.ok()) DeadLetter(m, results[j].status.message());
      batch->settled[index[j]] = true;
      if (m.ticket != 0) tickets.push_back(m.ticket);
    }
    Acknowledge(batch, std::move(tickets));
    return;
  }
  // Refused: nothing of the batch is acknowledged. A connection that has ended takes its
  // messages with it (the broker sends them again); otherwise try again or hold them.
  const bool passes = s.code() == Status::Code::kNoSpace || s.code() == Status::Code::kNoReplicas ||
                      s.code() == Status::Code::kFenced;
  if (held_ == 0) {
    spdlog::error(
        "mqtt: the store refused events ({}); MQTT intake {}, the messages stay "
        "unacknowledged at the broker",
        s.ToString(), passes ? "paused until it takes writes" : "stalled");
  }
  if (!passes) refused_for_good_ = true;
  if (batch->conn.expired() || stopping_) return;
  ++held_;
  SetState(MqttState::kStalled, s.ToString());
  if (refused_for_good_) return;  // held until the process ends
  auto timer = std::make_shared<net::steady_timer>(io, std::chrono::milliseconds(200));
  timer->async_wait([self = shared_from_this(), batch, timer](error_code ec) {
    --self->held_;
    if (ec || self->stopping_ || batch->conn.expired()) return;
    if (self->held_ == 0) {
      self->SetState(self->conn_ ? MqttState::kConnected : MqttState::kConnecting, {});
    }
    self->Submit(batch);
  });
}

MqttIngest::MqttIngest(MqttOptions options, Ingest* ingest, DeadLetterLog* dead_letters,
                       std::function<int64_t()> now_ms)
    : core_(std::make_shared<Core>(std::move(options), ingest, dead_letters, std::move(now_ms))) {}

MqttIngest::~MqttIngest() { Stop(); }

MqttState MqttIngest::state() const { return core_->state.load(); }
std::string MqttIngest::last_error() const { return core_->last_error(); }
uint64_t MqttIngest::messages() const { return core_->messages.load(std::memory_order_relaxed); }

void MqttIngest::Start() {
  Status s = core_->Prepare();
  if (!s.ok()) {
    spdlog::error("mqtt: {}", s.ToString());
    core_->state = MqttState::kStalled;
    return;
  }
  core_->Begin();
  thread_ = std::thread([core = core_] {
    SetThreadName("ds-mqtt");
    core->io.run();
  });
}

void MqttIngest::Stop() {
  if (!thread_.joinable()) return;
  // The io thread ends once the connection is closed (within 2 s) and nothing else is
  // pending; a store callback posted after that never runs.
  core_->End();
  thread_.join();
  core_->state = MqttState::kDisabled;
}

}  // namespace devstate
