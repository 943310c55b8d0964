#include "loadgen/mqtt_load.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <memory>
#include <vector>

#include "loadgen/closed_loop.h"  // brings Asio
#include "loadgen/open_loop.h"

// A minimal MQTT 3.1.1 publisher written on Asio: CONNECT, PUBLISH at QoS 0 or 1, PUBACK.
// Paho C 1.3's asynchronous client hands publishes to a send thread that can sleep up to a
// second between batches (eclipse-paho/paho.mqtt.c#1252, #1404), which caps and distorts
// exactly what a load generator must measure; devstate itself keeps Paho for subscribing.
namespace devstate::loadgen {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

void AppendRemainingLength(std::string* out, size_t n) {
  do {
    uint8_t byte = n % 128;
    n /= 128;
    if (n > 0) byte |= 0x80;
    out->push_back(static_cast<char>(byte));
  } while (n > 0);
}

void AppendString(std::string* out, std::string_view s) {
  out->push_back(static_cast<char>(s.size() >> 8));
  out->push_back(static_cast<char>(s.size() & 0xff));
  out->append(s);
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(net::io_context& ioc, const MqttLoadOptions& options, int id, Clock::time_point end,
             LoadResult* result)
      : socket_(ioc),
        timer_(ioc),
        deadline_(ioc),
        options_(options),
        id_(id),
        end_(end),
        result_(result),
        schedule_(Clock::now(), options.rate > 0 ? options.rate : 1, options.connections, id),
        sent_at_(65536),
        probe_socket_(ioc) {}

  void Start(const tcp::endpoint& endpoint) {
    if (options_.visible_port != 0) {
      boost::system::error_code ec;
      probe_socket_.connect(tcp::endpoint(endpoint.address(), options_.visible_port), ec);
      if (ec) return Fail();
      probe_socket_.set_option(tcp::no_delay(true));
    }
    socket_.async_connect(endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->Fail();
      self->socket_.set_option(tcp::no_delay(true));
      self->SendConnect();
    });
  }

 private:
  void SendConnect() {
    std::string body;
    AppendString(&body, "MQTT");
    body.push_back(4);     // protocol level 3.1.1
    body.push_back(0x02);  // clean session
    body.push_back(0);
    body.push_back(60);  // keep-alive seconds
    AppendString(&body, fmt::format("devstate-loadgen-{}-{}", getpid(), id_));
    out_.push_back(0x10);
    AppendRemainingLength(&out_, body.size());
    out_ += body;
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec) return self->Fail();
                       self->out_.clear();
                       self->in_.resize(4);
                       net::async_read(
                           self->socket_, net::buffer(self->in_),
                           [self](boost::system::error_code ec, size_t) {
                             // CONNACK: 0x20 0x02 flags return-code
                             if (ec || self->in_[0] != 0x20 || self->in_[3] != 0)
                               return self->Fail();
                             self->in_.clear();
                             // Whatever is still unacknowledged 5 s after the end counts as an
                             // error.
                             self->deadline_.expires_at(self->end_ + std::chrono::seconds(5));
                             self->deadline_.async_wait([self](boost::system::error_code ec) {
                               if (!ec) self->Fail();
                             });
                             self->Read();
                             self->Pump();
                           });
                     });
  }

  // Queues publishes while the window and the schedule allow, then writes them.
  void Pump() {
    while (!waiting_ && in_flight_ < static_cast<size_t>(options_.inflight)) {
      Clock::time_point sent = Clock::now();
      if (options_.rate > 0) {
        if (next_ == Clock::time_point{}) next_ = schedule_.Next();
        if (next_ >= end_ && sent >= end_) break;
        if (next_ > sent) {  // wait for the next send, or for the end of the run
          waiting_ = true;
          timer_.expires_at(std::min(next_, end_));
          timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            self->waiting_ = false;
            if (!ec) self->Pump();
          });
          break;
        }
        sent = next_;
        next_ = Clock::time_point{};
      } else if (sent >= end_) {
        break;
      }
      AppendPublish(sent);
    }
    Flush();
    if (Clock::now() >= end_ && in_flight_ == 0 && !writing_ && !failed_ && probes_.empty())
      Finish();
  }

  // The run is over and everything sent was acknowledged: DISCONNECT and close.
  void Finish() {
    failed_ = true;  // nothing more is counted
    writing_ = true;
    out_.assign("\xe0\x00", 2);
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this()](boost::system::error_code, size_t) {
                       boost::system::error_code ignored;
                       self->socket_.close(ignored);
                       self->probe_socket_.close(ignored);
                       self->timer_.cancel(ignored);
                       self->deadline_.cancel(ignored);
                     });
  }

  void AppendPublish(Clock::time_point sent) {
    ++n_;
    const uint64_t device =
        (n_ * static_cast<uint64_t>(options_.connections) + static_cast<uint64_t>(id_)) %
        options_.devices;
    const std::string topic =
        fmt::format(fmt::runtime(options_.topic), fmt::format("dev-{}", device));
    std::string payload = Payload(device);
    if (options_.visible_port != 0 && n_ % static_cast<uint64_t>(options_.probe_every) == 0) {
      const uint64_t probe = n_ * 1000 + static_cast<uint64_t>(id_);  // unique per run
      payload.insert(payload.size() - 1, fmt::format(",\"probe\":{}", probe));
      probes_.push_back(Probe{device, probe, sent});
      if (probes_.size() == 1) Look();
    }
    const bool qos1 = options_.qos == 1;
    pending_.push_back(static_cast<char>(qos1 ? 0x32 : 0x30));
    AppendRemainingLength(&pending_, 2 + topic.size() + (qos1 ? 2 : 0) + payload.size());
    AppendString(&pending_, topic);
    if (qos1) {
      packet_id_ = packet_id_ == 65535 ? 1 : packet_id_ + 1;
      pending_.push_back(static_cast<char>(packet_id_ >> 8));
      pending_.push_back(static_cast<char>(packet_id_ & 0xff));
      sent_at_[packet_id_] = sent;
    } else {
      pending_sent_.push_back(sent);
    }
    pending_ += payload;
    ++in_flight_;
  }

  void Flush() {
    if (writing_ || pending_.empty()) return;
    writing_ = true;
    out_.swap(pending_);
    pending_.clear();
    out_sent_.swap(pending_sent_);
    pending_sent_.clear();
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       self->writing_ = false;
                       if (ec) return self->Fail();
                       const auto now = Clock::now();
                       for (Clock::time_point sent : self->out_sent_)
                         self->Done(now, sent);  // QoS 0: sent is done
                       self->out_sent_.clear();
                       self->Pump();
                     });
  }

  void Read() {
    const size_t old = in_.size();
    in_.resize(old + 4096);
    socket_.async_read_some(
        net::buffer(in_.data() + old, 4096),
        [self = shared_from_this(), old](boost::system::error_code ec, size_t n) {
          self->in_.resize(old + n);
          if (self->failed_) return;
          if (ec) return self->Fail();
          self->Parse();
          self->Read();
        });
  }

  // PUBACKs (0x40 0x02 id): each completes its publish. Other packets are skipped.
  void Parse() {
    const auto now = Clock::now();
    size_t at = 0;
    while (in_.size() - at >= 2) {
      size_t length = 0, shift = 0, i = at + 1;
      bool complete = false;
      for (; i < in_.size() && shift <= 21; ++i, shift += 7) {
        length |= static_cast<size_t>(static_cast<uint8_t>(in_[i]) & 0x7f) << shift;
        if ((static_cast<uint8_t>(in_[i]) & 0x80) == 0) {
          complete = true;
          ++i;
          break;
        }
      }
      if (!complete || in_.size() - i < length) break;
      if ((static_cast<uint8_t>(in_[at]) & 0xf0) == 0x40 && length == 2) {
        const uint16_t id = static_cast<uint16_t>((static_cast<uint8_t>(in_[i]) << 8) |
                                                  static_cast<uint8_t>(in_[i + 1]));
        Done(now, sent_at_[id]);
      }
      at = i + length;
    }
    in_.erase(0, at);
    Pump();
  }

  void Done(Clock::time_point now, Clock::time_point sent) {
    --in_flight_;
    if (options_.visible_port != 0) return result_->Count(now);  // probes give the latency
    result_->Ok(now, now - sent);
  }

  // Probes, one at a time: GET the device until its record holds the probe number.
  struct Probe {
    uint64_t device;
    uint64_t number;
    Clock::time_point sent;
  };

  void Look() {
    if (failed_ || probes_.empty()) return;
    const std::string key = fmt::format("device:dev-{}:latest", probes_.front().device);
    probe_out_ = fmt::format("*2\r\n$3\r\nGET\r\n${}\r\n{}\r\n", key.size(), key);
    net::async_write(probe_socket_, net::buffer(probe_out_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec) return self->Fail();
                       self->probe_in_.clear();
                       self->ReadReply();
                     });
  }

  void ReadReply() {
    const size_t old = probe_in_.size();
    probe_in_.resize(old + 4096);
    probe_socket_.async_read_some(
        net::buffer(probe_in_.data() + old, 4096),
        [self = shared_from_this(), old](boost::system::error_code ec, size_t n) {
          self->probe_in_.resize(old + n);
          if (ec) return self->Fail();
          // A bulk string ($len\r\n...\r\n) or a null ($-1\r\n).
          const size_t eol = self->probe_in_.find("\r\n");
          if (eol == std::string::npos) return self->ReadReply();
          if (self->probe_in_[0] != '$') return self->Fail();
          const long len = std::strtol(self->probe_in_.c_str() + 1, nullptr, 10);
          if (len >= 0 && self->probe_in_.size() < eol + 2 + static_cast<size_t>(len) + 2)
            return self->ReadReply();
          const Probe& p = self->probes_.front();
          const auto now = Clock::now();
          const std::string want = fmt::format("\"probe\":{}", p.number);
          const size_t at = len > 0 ? self->probe_in_.find(want, eol) : std::string::npos;
          const bool seen =
              at != std::string::npos &&
              !std::isdigit(static_cast<unsigned char>(self->probe_in_[at + want.size()]));
          if (seen) {
            self->result_->Sample(now - p.sent);
          } else if (now - p.sent < std::chrono::seconds(5)) {
            return self->Look();  // not yet visible: ask again
          } else {
            self->result_->Error();  // never seen (or overwritten by a later probe)
          }
          self->probes_.pop_front();
          if (self->probes_.empty()) return self->Pump();  // the run may be over
          self->Look();
        });
  }

  void Fail() {
    if (failed_) return;
    failed_ = true;
    if (Clock::now() < end_ || in_flight_ > 0) result_->Error(std::max<size_t>(1, in_flight_));
    boost::system::error_code ignored;
    probe_socket_.close(ignored);
    socket_.close(ignored);
    timer_.cancel(ignored);
    deadline_.cancel(ignored);
  }

  std::string Payload(uint64_t device) const {
    const auto now = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
    gmtime_r(&secs, &utc);
    return fmt::format(
        "{{\"deviceId\":\"dev-{}\",\"status\":\"{}\",\"temperature\":{:.1f},\"batteryLevel\":{},"
        "\"latitude\":{:.4f},\"longitude\":{:.4f},\"lastSeenAt\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:"
        "02}.{:03}Z\"}}",
        device, n_ % 50 == 0 ? "idle" : "active",
        -5.0 + static_cast<double>((n_ * 37 + device) % 300) / 10.0,
        100 - (n_ / 100 + device) % 100, 52.52 + static_cast<double>(device % 100) / 1000.0,
        13.40 + static_cast<double>(device % 77) / 1000.0, utc.tm_year + 1900, utc.tm_mon + 1,
        utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms);
  }

  tcp::socket socket_;
  net::steady_timer timer_;     // open loop: the next intended send time
  net::steady_timer deadline_;  // the run's end plus a grace period
  const MqttLoadOptions& options_;
  const int id_;
  const Clock::time_point end_;
  LoadResult* result_;  // owned by this connection's thread
  OpenLoopSchedule schedule_;
  Clock::time_point next_{};                // open loop: the next intended send time, once drawn
  std::vector<Clock::time_point> sent_at_;  // QoS 1: by packet id
  std::vector<Clock::time_point> pending_sent_, out_sent_;  // QoS 0: per message in a write
  std::string pending_, out_, in_;
  tcp::socket probe_socket_;
  std::deque<Probe> probes_;
  std::string probe_out_, probe_in_;
  size_t in_flight_ = 0;
  uint64_t n_ = 0;
  uint16_t packet_id_ = 0;
  bool writing_ = false;
  bool waiting_ = false;
  bool failed_ = false;
};

}  // namespace

LoadResult RunMqttLoad(const MqttLoadOptions& options, std::string* error) {
  return RunClosedLoop<Connection>(options, error);
}

}  // namespace devstate::loadgen
