// Transport: what a RESP session needs from its connection and from the thread it runs
// on. Two kinds: plain TCP on an api::EventLoop (registered once, edge-triggered: a
// request costs one recv and one send), and Asio for TLS (api::Stream on an io_context).
//
// Handlers never run inline from the call that starts an operation; each runs on the
// connection's thread. Operations other than Post are called on that thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace devstate::api {
class EventLoop;
}

namespace devstate::resp {

using Task = std::function<void()>;
// ok: n bytes were read or written; !ok: the end of the stream, an error, or Close.
using IoHandler = std::function<void(bool ok, size_t n)>;

// One timer on the connection's thread.
class Timer {
 public:
  virtual ~Timer() = default;  // cancels
  // Runs `fire` once after `delay`, unless cancelled or started again before.
  virtual void Start(std::chrono::milliseconds delay, Task fire) = 0;
  virtual void Cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual bool tls() const = 0;
  virtual std::string RemoteAddress() const = 0;  // "ip:port"; empty if unknown
  virtual std::string LocalAddress() const = 0;

  // TLS: the server handshake, then done(error), an empty error on success. Plain TCP:
  // done("") at once, inline.
  virtual void Handshake(std::function<void(std::string_view error)> done) = 0;
  // Reads at least one byte into [data, data + size), which stays valid until done runs.
  virtual void ReadSome(char* data, size_t size, IoHandler done) = 0;
  // Writes all of [data, data + size), which stays valid until done runs.
  virtual void Write(const char* data, size_t size, IoHandler done) = 0;
  // Ends the connection at once; a pending read or write completes with ok false.
  virtual void Close() = 0;

  // Thread-safe: runs `task` on the connection's thread, later.
  virtual void Post(Task task) = 0;
  // Runs `task` on the connection's thread: inline if already there.
  virtual void Dispatch(Task task) = 0;
  // A copyable Post that does not need this transport to stay alive (it may be called
  // after the connection is gone, from any thread).
  virtual std::function<void(Task)> Poster() const = 0;

  virtual std::unique_ptr<Timer> NewTimer() = 0;
};

// TLS when `tls` is set (which must outlive the transport), else plain TCP, on the
// socket's executor.
std::unique_ptr<Transport> NewAsioTransport(boost::asio::ip::tcp::socket socket,
                                            boost::asio::ssl::context* tls);

// Plain TCP on `loop`, called on the loop's thread. Takes `fd`, a connected non-blocking
// socket; null (the fd closed, errno set) if the loop cannot watch it.
std::unique_ptr<Transport> NewLoopTransport(api::EventLoop* loop, int fd);

}  // namespace devstate::resp
