#include "loadgen/pubsub_load.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "loadgen/closed_loop.h"  // brings Asio
#include "loadgen/resp_stream.h"

namespace devstate::loadgen {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Connection : public RespStream<Connection> {
 public:
  Connection(net::io_context& ioc, const PubSubLoadOptions& options, int id, Clock::time_point end,
             LoadResult* result)
      : RespStream(ioc),
        timer_(ioc),
        options_(options),
        publisher_(id == 0),
        end_(end),
        result_(result) {}

  void Start(const tcp::endpoint& endpoint) {
    socket_.async_connect(endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->result_->Error();
      self->socket_.set_option(tcp::no_delay(true));
      self->Read();
      if (self->publisher_) return self->AskSubscribers();
      self->Send(fmt::format("*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{}\r\n",
                             self->options_.channel.size(), self->options_.channel));
      self->timer_.expires_at(self->end_);
      self->timer_.async_wait([self](boost::system::error_code ec) {
        if (!ec) self->Stop();
      });
    });
  }

 private:
  friend class RespStream<Connection>;

  // Publisher: until every subscriber is subscribed, PUBSUB NUMSUB every 5 ms.
  void AskSubscribers() {
    if (Clock::now() >= end_) return Fail();
    Send(fmt::format("*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n${}\r\n{}\r\n", options_.channel.size(),
                     options_.channel));
  }

  void SendBatch() {
    const auto now = Clock::now();
    if (now >= end_) return Stop();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
    std::string message = fmt::format("{:016x}", static_cast<uint64_t>(ns.count()));
    message.resize(std::max(message.size(), options_.value_bytes), 'x');
    std::string batch;
    for (int i = 0; i < options_.pipeline; ++i) {
      fmt::format_to(std::back_inserter(batch), "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{}\r\n${}\r\n{}\r\n",
                     options_.channel.size(), options_.channel, message.size(), message);
    }
    outstanding_ = options_.pipeline;
    Send(batch);
  }

  void OnData() {
    const auto now = Clock::now();
    size_t at = 0;
    for (size_t n; (n = ReplyLength(in_, at, &parts_)) > 0; at += n) {
      if (in_[at] == '-') {
        result_->Error();
      } else if (publisher_) {
        OnPublisherReply(at);
      } else if (parts_.size() == 3 && parts_[0] == "message" && parts_[2].size() >= 16) {
        uint64_t sent_ns = 0;
        std::from_chars(parts_[2].data(), parts_[2].data() + 16, sent_ns, 16);
        const Clock::time_point sent{
            std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(sent_ns))};
        result_->Ok(now, now - sent);
      }
    }
    in_.erase(0, at);
  }

  void OnPublisherReply(size_t at) {
    if (!publishing_) {  // PUBSUB NUMSUB: [channel, count]
      long count = 0;
      if (parts_.size() == 2)
        std::from_chars(parts_[1].data(), parts_[1].data() + parts_[1].size(), count);
      if (count >= options_.subscribers) {
        publishing_ = true;
        return SendBatch();
      }
      timer_.expires_after(std::chrono::milliseconds(5));
      timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->AskSubscribers();
      });
      return;
    }
    if (--outstanding_ == 0) SendBatch();
  }

  void Stop() {
    if (stopped_) return;
    boost::system::error_code ignored;
    timer_.cancel(ignored);
    CloseStream();
  }

  // A connection lost (or, for the publisher, subscribers missing) before the deadline.
  void Fail() {
    if (stopped_) return;
    if (Clock::now() < end_) result_->Error();
    Stop();
  }

  net::steady_timer timer_;
  const PubSubLoadOptions& options_;
  const bool publisher_;
  const Clock::time_point end_;
  LoadResult* result_;
  std::vector<std::string_view> parts_;
  int outstanding_ = 0;
  bool publishing_ = false;
};

}  // namespace

LoadResult RunPubSubLoad(PubSubLoadOptions options, std::string* error) {
  options.connections = options.subscribers + 1;
  options.threads = 1;
  return RunClosedLoop<Connection>(options, error);
}

}  // namespace devstate::loadgen
