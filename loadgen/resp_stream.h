// RespStream: what every RESP load connection shares: the socket, a write queue (one write
// in flight; what is queued meanwhile goes in the next one) and a read buffer the replies
// accumulate in, and ReplyLength, which finds where a reply ends.
//
// `Derived` (CRTP) provides OnData(), called after each read with the new bytes appended
// to in_ (it consumes what it can), and Fail(), called when the socket breaks. Reading
// goes on until stopped_.
#pragma once

#include <boost/asio.hpp>
#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace devstate::loadgen {

// The length of the RESP2 reply at in[at] (a simple string, error, integer, bulk or nil,
// or an array of those), 0 if it is not complete yet; an array's elements go to `parts`.
inline size_t ReplyLength(std::string_view in, size_t at, std::vector<std::string_view>* parts) {
  parts->clear();
  auto scalar = [&](size_t from, std::string_view* value) -> size_t {
    const size_t crlf = in.find("\r\n", from);
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
  const size_t crlf = in.find("\r\n", at);
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

template <typename Derived>
class RespStream : public std::enable_shared_from_this<Derived> {
 protected:
  explicit RespStream(boost::asio::io_context& ioc) : socket_(ioc) {}

  // Queues `data` and writes it as soon as the write in flight (if any) is done.
  void Send(const std::string& data) {
    pending_ += data;
    Flush();
  }

  void Flush() {
    if (writing_ || pending_.empty() || stopped_) return;
    writing_ = true;
    out_.swap(pending_);
    pending_.clear();
    boost::asio::async_write(
        socket_, boost::asio::buffer(out_),
        [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
          self->writing_ = false;
          if (ec) return self->Fail();
          self->Flush();
        });
  }

  void Read() {
    const size_t old = in_.size();
    in_.resize(old + kReadBytes);
    socket_.async_read_some(
        boost::asio::buffer(in_.data() + old, kReadBytes),
        [self = this->shared_from_this(), old](boost::system::error_code ec, size_t n) {
          self->in_.resize(old + n);
          if (self->stopped_) return;
          if (ec) return self->Fail();
          self->OnData();
          if (!self->stopped_) self->Read();
        });
  }

  // Stops reading and writing for good and closes the socket.
  void CloseStream() {
    stopped_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  static constexpr size_t kReadBytes = 65536;
  boost::asio::ip::tcp::socket socket_;
  std::string pending_, out_, in_;
  bool writing_ = false;
  bool stopped_ = false;
};

}  // namespace devstate::loadgen
