#include "loadgen/resp_load.h"

#include <fmt/format.h>

#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "loadgen/closed_loop.h"  // brings Asio
#include "loadgen/open_loop.h"
#include "loadgen/resp_stream.h"

namespace devstate::loadgen {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Connection : public RespStream<Connection> {
 public:
  Connection(net::io_context& ioc, const RespLoadOptions& options, int id, Clock::time_point end,
             LoadResult* result)
      : RespStream(ioc),
        timer_(ioc),
        options_(options),
        end_(end),
        result_(result),
        rng_(static_cast<uint64_t>(id) * 7919 + 1),
        value_(options.value_bytes, 'v'),
        schedule_(Clock::now(), options.rate > 0 ? options.rate : 1, options.connections, id) {}

  void Start(const tcp::endpoint& endpoint) {
    socket_.async_connect(endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        self->result_->Error();
        return;
      }
      self->socket_.set_option(tcp::no_delay(true));
      self->Read();
      if (self->open_loop()) {
        self->Tick();
      } else {
        self->SendBatch();
      }
    });
  }

 private:
  friend class RespStream<Connection>;

  bool open_loop() const { return options_.rate > 0; }

  // Closed loop: `pipeline` commands at once; the next batch when all are answered.
  void SendBatch() {
    const auto now = Clock::now();
    if (now >= end_) return Stop();
    for (int i = 0; i < options_.pipeline; ++i) Append(now);
    Flush();
  }

  // Open loop: every command due by now is sent, each timed from its intended send time,
  // whether or not earlier ones were answered; then wait for the next one's turn.
  void Tick() {
    const auto now = Clock::now();
    if (next_ == Clock::time_point{}) next_ = schedule_.Next();
    while (next_ <= now && next_ < end_) {
      Append(next_);
      next_ = schedule_.Next();
    }
    Flush();
    if (next_ >= end_) {
      // Nothing more to send; what is still unanswered 5 s after the end is an error.
      timer_.expires_at(end_ + std::chrono::seconds(5));
      timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->Fail();
      });
      sending_done_ = true;
      if (outstanding_.empty()) Stop();
      return;
    }
    timer_.expires_at(next_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped_) self->Tick();
    });
  }

  void Append(Clock::time_point sent) {
    const std::string key = fmt::format("key:{:012}", rng_() % options_.keys);
    bool get = options_.scenario == RespLoadOptions::Scenario::kGet;
    OpKind kind = OpKind::kOther;
    if (options_.scenario == RespLoadOptions::Scenario::kMixed) {
      get = static_cast<int>(rng_() % 100) < options_.read_percent;
      kind = get ? OpKind::kRead : OpKind::kWrite;
    }
    if (get) {
      fmt::format_to(std::back_inserter(pending_), "*2\r\n$3\r\nGET\r\n${}\r\n{}\r\n", key.size(),
                     key);
    } else {
      fmt::format_to(std::back_inserter(pending_), "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
                     key.size(), key, value_.size(), value_);
    }
    outstanding_.push_back({sent, kind});
  }

  // Every complete reply answers the oldest outstanding command.
  void OnData() {
    const auto now = Clock::now();
    size_t at = 0;
    for (size_t n; !outstanding_.empty() && (n = ReplyLength(in_, at, &parts_)) > 0; at += n) {
      const Sent sent = outstanding_.front();
      outstanding_.pop_front();
      if (in_[at] == '-') {
        const std::string_view reply = std::string_view(in_).substr(at + 1, n - 1);
        result_->ErrorReply(reply.substr(0, std::min<size_t>(reply.find('\r'), 200)));
      } else {
        result_->Ok(now, now - sent.at, 1, sent.kind);
      }
    }
    in_.erase(0, at);
    if (outstanding_.empty()) {
      if (!open_loop()) {
        SendBatch();
      } else if (sending_done_) {
        Stop();
      }
    }
  }

  // The run is over for this connection: close without counting anything more.
  void Stop() {
    if (stopped_) return;
    boost::system::error_code ignored;
    timer_.cancel(ignored);
    CloseStream();
  }

  // A broken connection or an answer that never came: its unanswered commands are errors
  // (a closed-loop batch cut off by the end of the run is not).
  void Fail() {
    if (stopped_) return;
    if (open_loop() || Clock::now() < end_)
      result_->Error(std::max<size_t>(1, outstanding_.size()));
    Stop();
  }

  struct Sent {
    Clock::time_point at;  // closed loop: when it was written; open loop: when it was due
    OpKind kind;
  };

  net::steady_timer timer_;  // open loop: the next send, then the grace period
  const RespLoadOptions& options_;
  const Clock::time_point end_;
  LoadResult* result_;  // owned by this connection's thread
  std::mt19937_64 rng_;
  const std::string value_;
  OpenLoopSchedule schedule_;
  Clock::time_point next_{};
  std::vector<std::string_view> parts_;  // ReplyLength's (GET and SET replies have none)
  std::deque<Sent> outstanding_;         // sent and not answered, oldest first
  bool sending_done_ = false;
};

}  // namespace

LoadResult RunRespLoad(const RespLoadOptions& options, std::string* error) {
  return RunClosedLoop<Connection>(options, error);
}

}  // namespace devstate::loadgen
