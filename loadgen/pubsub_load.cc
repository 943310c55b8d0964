#include "loadgen/pubsub_load.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "loadgen/closed_loop.h"  // brings Asio

namespace devstate::loadgen {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// The length of the RESP2 reply at in[at] (a simple, error, integer, bulk, or an array of
// those), 0 if it is not complete yet; an array's elements go to `parts`.
size_t ReplyLength(std::string_view in, size_t at, std::vector<std::string_view>* parts) {
  parts->clear();
  auto line_end = [&](size_t from) { return in.find("\r\n", from); };
  auto scalar = [&](size_t from, std::string_view* value) -> size_t {
    const size_t crlf = line_end(from);
    if (crlf == std::string_view::npos) return 0;
    if (in[from] != '$') {
      *value = in.substr(from + 1, crlf - from - 1);
      return crlf + 2 - from;
    }
    long len = 0;
    std::from_chars(in.data() + from + 1, in.data() + crlf, len);
    if (len < 0) return crlf + 2 - from;
    const size_t total = crlf + 2 - from + static_cast<size_t>(len) + 2;
    if (in.size() - from < total) return 0;
    *value = in.substr(crlf + 2, static_cast<size_t>(len));
    return total;
  };
  if (at >= in.size()) return 0;
  std::string_view value;
  if (in[at] != '*') return scalar(at, &value);
  const size_t crlf = line_end(at);
  if (crlf == std::string_view::npos) return 0;
  long count = 0;
  std::from_chars(in.data() + at + 1, in.data() + crlf, count);
  size_t pos = crlf + 2;
  for (long i = 0; i < count; ++i) {
    if (pos >= in.size()) return 0;
    const size_t n = scalar(pos, &value);
    if (n == 0) return 0;
    parts->push_back(value);
    pos += n;
  }
  return pos - at;
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(net::io_context& ioc, const PubSubLoadOptions& options, int id, Clock::time_point end,
             LoadResult* result)
      : socket_(ioc),
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
    Send(std::move(batch));
  }

  void Send(std::string data) {
    pending_ += data;
    Flush();
  }

  void Flush() {
    if (writing_ || pending_.empty() || stopped_) return;
    writing_ = true;
    out_.swap(pending_);
    pending_.clear();
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       self->writing_ = false;
                       if (ec) return self->Fail();
                       self->Flush();
                     });
  }

  void Read() {
    const size_t old = in_.size();
    in_.resize(old + 65536);
    socket_.async_read_some(
        net::buffer(in_.data() + old, 65536),
        [self = shared_from_this(), old](boost::system::error_code ec, size_t n) {
          self->in_.resize(old + n);
          if (self->stopped_) return;
          if (ec) return self->Fail();
          self->OnData();
          if (!self->stopped_) self->Read();
        });
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
    stopped_ = true;
    boost::system::error_code ignored;
    timer_.cancel(ignored);
    socket_.close(ignored);
  }

  // A connection lost (or, for the publisher, subscribers missing) before the deadline.
  void Fail() {
    if (stopped_) return;
    if (Clock::now() < end_) result_->Error();
    Stop();
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  const PubSubLoadOptions& options_;
  const bool publisher_;
  const Clock::time_point end_;
  LoadResult* result_;
  std::string pending_, out_, in_;
  std::vector<std::string_view> parts_;
  int outstanding_ = 0;
  bool publishing_ = false;
  bool writing_ = false;
  bool stopped_ = false;
};

}  // namespace

LoadResult RunPubSubLoad(PubSubLoadOptions options, std::string* error) {
  options.connections = options.subscribers + 1;
  options.threads = 1;
  return RunClosedLoop<Connection>(options, error);
}

}  // namespace devstate::loadgen
