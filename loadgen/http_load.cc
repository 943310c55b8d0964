#include "loadgen/http_load.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <random>

#include "loadgen/closed_loop.h"  // brings Asio
#include "loadgen/open_loop.h"

namespace devstate::loadgen {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(net::io_context& ioc, const HttpLoadOptions& options, int id, Clock::time_point end,
             LoadResult* result)
      : socket_(ioc),
        timer_(ioc),
        options_(options),
        id_(id),
        end_(end),
        result_(result),
        rng_(static_cast<uint64_t>(id) * 7919 + 1),
        schedule_(Clock::now(), options.rate > 0 ? options.rate : 1, options.connections, id) {}

  void Start(const tcp::endpoint& endpoint) {
    socket_.async_connect(endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        self->result_->Error();
        return;
      }
      self->socket_.set_option(tcp::no_delay(true));
      self->Send();
    });
  }

 private:
  // Events carry a time that grows per connection, so each one changes its device.
  void AppendEvent(std::string* out, bool with_id) {
    ++n_;
    const uint64_t device = (static_cast<uint64_t>(id_) * 7919 + n_) % options_.devices;
    last_device_ = options_.ledger != nullptr ? LedgerDevice() : fmt::format("dev-{}", device);
    fmt::format_to(std::back_inserter(*out),
                   "{{{}\"status\":\"active\",\"temperature\":{}.{},\"batteryLevel\":{},"
                   "\"latitude\":52.52,\"longitude\":13.40,\"seq\":{},\"ts\":{}}}",
                   with_id ? fmt::format("\"deviceId\":\"{}\",", last_device_) : std::string(),
                   n_ % 40, n_ % 10, n_ % 100, n_, 1700000000000 + n_ * 64 + id_ % 64);
  }

  // Ledger mode: this connection's own devices, so each device's seq only grows.
  std::string LedgerDevice() const {
    const uint64_t per_connection =
        std::max<uint64_t>(1, options_.devices / std::max(1, options_.connections));
    return fmt::format("ldg-{}-{}", id_, n_ % per_connection);
  }

  void BuildRequest() {
    request_.clear();
    body_.clear();
    kind_ = OpKind::kOther;
    bool get = options_.scenario == HttpLoadOptions::Scenario::kGet;
    if (options_.scenario == HttpLoadOptions::Scenario::kMixed) {
      get = static_cast<int>(rng_() % 100) < options_.read_percent;
      kind_ = get ? OpKind::kRead : OpKind::kWrite;
    }
    if (get) {
      const uint64_t device = (static_cast<uint64_t>(id_) * 7919 + ++n_) % options_.devices;
      fmt::format_to(std::back_inserter(request_),
                     "GET /devices/dev-{} HTTP/1.1\r\nHost: {}\r\n\r\n", device, options_.host);
      return;
    }
    std::string target;
    if (options_.batch <= 1) {
      AppendEvent(&body_, false);
      target = fmt::format("/devices/{}", last_device_);
    } else {
      for (int i = 0; i < options_.batch; ++i) {
        if (i > 0) body_.push_back('\n');
        AppendEvent(&body_, true);
      }
      target = "/events";
    }
    fmt::format_to(std::back_inserter(request_),
                   "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                   target, options_.host,
                   options_.batch <= 1 ? "application/json" : "application/x-ndjson", body_.size());
    request_ += body_;
  }

  void Send() {
    if (options_.rate > 0) {  // open loop: wait for this request's turn, time it from then
      intended_ = schedule_.Next();
      if (intended_ >= end_) return;
      if (intended_ > Clock::now()) {
        timer_.expires_at(intended_);
        return timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
          if (!ec) self->Write(self->intended_);
        });
      }
      return Write(intended_);
    }
    if (Clock::now() >= end_) return;
    Write(Clock::now());
  }

  void Write(Clock::time_point sent) {
    BuildRequest();
    sent_ = sent;
    net::async_write(socket_, net::buffer(request_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec) return self->Fail();
                       self->ReadHeader();
                     });
  }

  void ReadHeader() {
    net::async_read_until(socket_, net::dynamic_buffer(in_), "\r\n\r\n",
                          [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                            if (ec) return self->Fail();
                            self->OnHeader(n);
                          });
  }

  void OnHeader(size_t header_bytes) {
    // "HTTP/1.1 200 OK\r\n...Content-Length: N\r\n..."
    status_ = in_.size() >= 12 ? std::atoi(in_.c_str() + 9) : 0;
    size_t length = 0;
    std::string_view header(in_.data(), header_bytes);
    for (size_t pos = 0; (pos = header.find("\r\n", pos)) != std::string_view::npos;) {
      pos += 2;
      if (header.size() - pos > 15 &&
          strncasecmp(header.data() + pos, "content-length:", 15) == 0) {
        length = std::strtoull(header.data() + pos + 15, nullptr, 10);
        break;
      }
    }
    in_.erase(0, header_bytes);
    if (in_.size() >= length) return OnResponse(length);
    net::async_read(socket_, net::dynamic_buffer(in_), net::transfer_exactly(length - in_.size()),
                    [self = shared_from_this(), length](boost::system::error_code ec, size_t) {
                      if (ec) return self->Fail();
                      self->OnResponse(length);
                    });
  }

  void OnResponse(size_t length) {
    if (options_.ledger != nullptr && status_ == 200 && options_.batch <= 1) {
      // {"version":N,"stale":false}
      const size_t at = in_.find("\"version\":");
      if (at < length)
        options_.ledger->Append(
            {last_device_, n_, std::strtoull(in_.c_str() + at + 10, nullptr, 10)});
    }
    in_.erase(0, length);
    const auto now = Clock::now();
    // A mixed run's read of a device no write has reached yet is a correct answer, as a
    // Redis GET of a missing key is.
    const bool ok = (status_ >= 200 && status_ < 300) || (kind_ == OpKind::kRead && status_ == 404);
    if (ok) {
      const bool batch =
          options_.batch > 1 && options_.scenario == HttpLoadOptions::Scenario::kIngest;
      result_->Ok(now, now - sent_, batch ? static_cast<uint64_t>(options_.batch) : 1, kind_);
    } else {
      result_->Error();
    }
    Send();
  }

  void Fail() {
    if (Clock::now() < end_) result_->Error();
  }

  tcp::socket socket_;
  net::steady_timer timer_;  // open loop: waits for the next intended send time
  const HttpLoadOptions& options_;
  const int id_;
  const Clock::time_point end_;
  LoadResult* result_;  // owned by this connection's thread
  std::string request_, body_, in_;
  uint64_t n_ = 0;
  std::mt19937_64 rng_;
  OpKind kind_ = OpKind::kOther;
  std::string last_device_;
  int status_ = 0;
  Clock::time_point sent_;
  OpenLoopSchedule schedule_;
  Clock::time_point intended_;
};

}  // namespace

LoadResult RunHttpLoad(const HttpLoadOptions& options, std::string* error) {
  return RunClosedLoop<Connection>(options, error);
}

}  // namespace devstate::loadgen
