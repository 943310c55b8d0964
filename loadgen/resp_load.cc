#include "loadgen/resp_load.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <random>
#include <vector>

#include "loadgen/closed_loop.h"  // brings Asio

namespace devstate::loadgen {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(net::io_context& ioc, const RespLoadOptions& options, int id, Clock::time_point end,
             LoadResult* result)
      : socket_(ioc), options_(options), end_(end), result_(result), rng_(static_cast<uint64_t>(id) * 7919 + 1),
        value_(options.value_bytes, 'v') {}

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
  void Send() {
    if (Clock::now() >= end_) return;
    out_.clear();
    kinds_.clear();
    for (int i = 0; i < options_.pipeline; ++i) {
      const std::string key = fmt::format("key:{:012}", rng_() % options_.keys);
      bool get = options_.scenario == RespLoadOptions::Scenario::kGet;
      if (options_.scenario == RespLoadOptions::Scenario::kMixed) {
        get = static_cast<int>(rng_() % 100) < options_.read_percent;
        kinds_.push_back(get ? OpKind::kRead : OpKind::kWrite);
      } else {
        kinds_.push_back(OpKind::kOther);
      }
      if (get) {
        fmt::format_to(std::back_inserter(out_), "*2\r\n$3\r\nGET\r\n${}\r\n{}\r\n", key.size(), key);
      } else {
        fmt::format_to(std::back_inserter(out_), "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n", key.size(), key,
                       value_.size(), value_);
      }
    }
    awaiting_ = options_.pipeline;
    sent_ = Clock::now();
    net::async_write(socket_, net::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, size_t) {
      if (ec) return self->Fail();
      self->Read();
    });
  }

  void Read() {
    // Take every complete reply already buffered, then read more.
    while (awaiting_ > 0) {
      const size_t n = ReplyLength();
      if (n == 0) break;
      if (in_[0] == '-') {
        result_->Error();
      } else {
        const auto now = Clock::now();
        result_->Ok(now, now - sent_, 1, kinds_[kinds_.size() - awaiting_]);
      }
      in_.erase(0, n);
      --awaiting_;
    }
    if (awaiting_ == 0) return Send();
    const size_t old = in_.size();
    in_.resize(old + 16384);
    socket_.async_read_some(net::buffer(in_.data() + old, 16384),
                            [self = shared_from_this(), old](boost::system::error_code ec, size_t n) {
                              self->in_.resize(old + n);
                              if (ec) return self->Fail();
                              self->Read();
                            });
  }

  // Bytes of the first complete reply in in_ (simple, integer, error, bulk or nil), 0 if
  // incomplete. Replies to GET and SET are never arrays.
  size_t ReplyLength() const {
    const size_t crlf = in_.find("\r\n");
    if (crlf == std::string::npos) return 0;
    if (in_[0] != '$') return crlf + 2;
    const long len = std::strtol(in_.c_str() + 1, nullptr, 10);
    if (len < 0) return crlf + 2;
    const size_t total = crlf + 2 + static_cast<size_t>(len) + 2;
    return in_.size() >= total ? total : 0;
  }

  void Fail() {
    if (Clock::now() < end_) result_->Error();
  }

  tcp::socket socket_;
  const RespLoadOptions& options_;
  const Clock::time_point end_;
  LoadResult* result_;
  std::mt19937_64 rng_;
  const std::string value_;
  std::string out_, in_;
  std::vector<OpKind> kinds_;  // of the batch in flight, in order
  int awaiting_ = 0;
  Clock::time_point sent_;
};

}  // namespace

LoadResult RunRespLoad(const RespLoadOptions& options, std::string* error) {
  return RunClosedLoop<Connection>(options, error);
}

}  // namespace devstate::loadgen
