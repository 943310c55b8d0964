// Stream: a connection's bytes, over plain TCP or TLS, with the three operations the
// protocol sessions need (handshake, read some, write all). Header-only; used by http/ and
// resp/.
//
// Plain TCP waits until the socket is readable and then reads without blocking: cheaper
// than async_read_some, which tries a read at once that finds nothing while the client is
// still waiting for our last reply. TLS reads through Asio's ssl::stream, which may
// already hold decrypted bytes, so it cannot wait on the socket.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <utility>

namespace devstate::api {

class Stream {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  // `tls` null: plain TCP. The context must outlive the stream (sessions share it).
  Stream(tcp::socket socket, boost::asio::ssl::context* tls) : socket_(std::move(socket)) {
    if (tls != nullptr) {
      tls_.emplace(socket_, *tls);
    } else {
      error_code ignored;
      socket_.non_blocking(true, ignored);
    }
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  tcp::socket& socket() { return socket_; }
  auto get_executor() { return socket_.get_executor(); }
  bool tls() const { return tls_.has_value(); }

  // TLS: the server handshake. Plain: completes at once (inline).
  template <class Handler>
  void AsyncHandshake(Handler&& handler) {
    if (!tls_) return handler(error_code());
    tls_->async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(handler));
  }

  // Reads at least one byte into `buffer`, or fails (end of stream is net::error::eof).
  // The caller keeps the stream alive until the handler runs.
  template <class Handler>
  void AsyncReadSome(boost::asio::mutable_buffer buffer, Handler&& handler) {
    if (tls_) return tls_->async_read_some(buffer, std::forward<Handler>(handler));
    socket_.async_wait(
        tcp::socket::wait_read,
        [this, buffer, handler = std::forward<Handler>(handler)](error_code ec) mutable {
          size_t n = 0;
          if (!ec) {
            n = socket_.read_some(buffer, ec);
            if (ec == boost::asio::error::would_block) {
              return AsyncReadSome(buffer, std::move(handler));
            }
            if (!ec && n == 0) ec = boost::asio::error::eof;
          }
          handler(ec, n);
        });
  }

  // Writes all of `buffer`; it must stay valid until the handler runs.
  template <class Handler>
  void AsyncWrite(boost::asio::const_buffer buffer, Handler&& handler) {
    if (tls_) return boost::asio::async_write(*tls_, buffer, std::forward<Handler>(handler));
    boost::asio::async_write(socket_, buffer, std::forward<Handler>(handler));
  }

  // Ends the connection without a TLS close_notify: a client that is gone or misbehaving
  // gets no more of our time.
  void Close(tcp::socket::shutdown_type how) {
    error_code ignored;
    socket_.shutdown(how, ignored);
    socket_.cancel(ignored);
  }

 private:
  tcp::socket socket_;
  std::optional<boost::asio::ssl::stream<tcp::socket&>> tls_;
};

}  // namespace devstate::api
