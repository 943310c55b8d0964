#include "api/resp/transport.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <optional>

#include "api/event_loop.h"
#include "api/stream.h"

namespace devstate::resp {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

std::string Format(const tcp::endpoint& e) {
  return fmt::format("{}:{}", e.address().to_string(), e.port());
}

// ---- Asio (TLS) ----

class AsioTimer final : public Timer {
 public:
  explicit AsioTimer(net::any_io_executor executor) : timer_(std::move(executor)) {}
  void Start(std::chrono::milliseconds delay, Task fire) override {
    timer_.expires_after(delay);
    timer_.async_wait([fire = std::move(fire)](error_code ec) {
      if (!ec) fire();
    });
  }
  void Cancel() override {
    error_code ignored;
    timer_.cancel(ignored);
  }

 private:
  net::steady_timer timer_;
};

class AsioTransport final : public Transport {
 public:
  AsioTransport(tcp::socket socket, net::ssl::context* tls) : stream_(std::move(socket), tls) {}

  bool tls() const override { return stream_.tls(); }
  std::string RemoteAddress() const override {
    error_code ec;
    auto e = stream_.socket().remote_endpoint(ec);
    return ec ? std::string() : Format(e);
  }
  std::string LocalAddress() const override {
    error_code ec;
    auto e = stream_.socket().local_endpoint(ec);
    return ec ? std::string() : Format(e);
  }
  void Handshake(std::function<void(std::string_view)> done) override {
    stream_.AsyncHandshake(
        [done = std::move(done)](error_code ec) { done(ec ? ec.message() : std::string()); });
  }
  void ReadSome(char* data, size_t size, IoHandler done) override {
    stream_.AsyncReadSome(net::buffer(data, size),
                          [done = std::move(done)](error_code ec, size_t n) { done(!ec, n); });
  }
  void Write(const char* data, size_t size, IoHandler done) override {
    stream_.AsyncWrite(net::buffer(data, size),
                       [done = std::move(done)](error_code ec, size_t n) { done(!ec, n); });
  }
  void Close() override { stream_.Close(tcp::socket::shutdown_both); }
  void Post(Task task) override { net::post(stream_.get_executor(), std::move(task)); }
  void Dispatch(Task task) override { net::dispatch(stream_.get_executor(), std::move(task)); }
  std::function<void(Task)> Poster() const override {
    return [executor = stream_.get_executor()](Task task) { net::post(executor, std::move(task)); };
  }
  std::unique_ptr<Timer> NewTimer() override {
    return std::make_unique<AsioTimer>(stream_.get_executor());
  }

 private:
  mutable api::Stream stream_;
};

// ---- plain TCP on an EventLoop ----

class LoopTimer final : public Timer {
 public:
  explicit LoopTimer(api::EventLoop* loop) : loop_(loop) {}
  ~LoopTimer() override { Cancel(); }
  void Start(std::chrono::milliseconds delay, Task fire) override {
    Cancel();
    id_ = loop_->RunAfter(delay, [this, fire = std::move(fire)] {
      id_.reset();
      fire();  // may destroy this timer: nothing after it
    });
  }
  void Cancel() override {
    if (id_) loop_->Cancel(*id_);
    id_.reset();
  }

 private:
  api::EventLoop* const loop_;
  std::optional<api::EventLoop::TimerId> id_;
};

// The socket is registered once for both directions, edge-triggered. It is known to be
// readable from an EPOLLIN edge until a recv comes back short (the kernel queue was
// emptied, so the next byte to arrive brings a new edge) or finds nothing; so a request
// costs one recv, and a read that waits costs no system call at all. Once the peer has
// hung up it stays readable: the end of the stream comes with no edge of its own. A read
// that could go ahead at once waits for the next turn: each connection reads once per
// turn, as in Redis, so a client that streams cannot hold the others back.
class LoopTransport final : public Transport, public api::EventLoop::Watcher {
 public:
  LoopTransport(api::EventLoop* loop, int fd) : loop_(loop), fd_(fd) {}
  ~LoopTransport() override { CloseFd(); }

  bool Register() {
    watch_ = loop_->Add(fd_, this);
    return watch_ != nullptr;
  }

  bool tls() const override { return false; }
  std::string RemoteAddress() const override { return Address(::getpeername); }
  std::string LocalAddress() const override { return Address(::getsockname); }
  void Handshake(std::function<void(std::string_view)> done) override { done(""); }

  void ReadSome(char* data, size_t size, IoHandler done) override {
    read_ = {data, size, std::move(done)};
    if (fd_ < 0) return Defer(Fail(read_.done));
    // Data waiting: read it in the next turn, so each connection reads once per turn.
    if (readable_) loop_->NextTurn(watch_);
  }

  void Write(const char* data, size_t size, IoHandler done) override {
    write_ = {data, size, std::move(done)};
    if (fd_ < 0) return Defer(Fail(write_.done));
    Defer(TryWrite());
  }

  void Close() override {
    CloseFd();
    if (read_.done) Defer(Fail(read_.done));
    if (write_.done) Defer(Fail(write_.done));
  }

  void Post(Task task) override { loop_->Post(std::move(task)); }
  void Dispatch(Task task) override {
    if (loop_->InLoopThread()) return task();
    loop_->Post(std::move(task));
  }
  std::function<void(Task)> Poster() const override {
    return [loop = loop_](Task task) { loop->Post(std::move(task)); };
  }
  std::unique_ptr<Timer> NewTimer() override { return std::make_unique<LoopTimer>(loop_); }

  void OnEvents(uint32_t events) override {
    const bool read_edge = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    if (read_edge) readable_ = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) hung_up_ = true;
    Completion wrote, read;
    if (write_.done && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) wrote = TryWrite();
    // A read waiting with data known to be there is read by the next turn's EPOLLIN, not
    // by a send's EPOLLOUT in this one.
    if (read_.done && readable_ && read_edge) read = TryRead();
    // Either handler may end the connection, and this transport with it: run them last.
    if (wrote.done) wrote.Run();
    if (read.done) read.Run();
  }

  void Abandon() override {
    watch_ = nullptr;  // the loop has dropped the registration
    // Dropping the handlers may destroy the session and this transport: do it last.
    IoHandler read = std::move(read_.done);
    IoHandler write = std::move(write_.done);
  }

 private:
  struct Op {
    char* data = nullptr;
    size_t size = 0;
    IoHandler done;
  };
  struct WriteOp {
    const char* data = nullptr;
    size_t size = 0;
    IoHandler done;
    size_t sent = 0;
  };
  // A finished operation's handler, with its result.
  struct Completion {
    IoHandler done;
    bool ok = false;
    size_t n = 0;
    void Run() { done(ok, n); }
  };

  static Completion Fail(IoHandler& done) { return {std::exchange(done, nullptr), false, 0}; }

  // Runs a completion later in this turn, not inside the call that started it.
  void Defer(Completion c) {
    if (!c.done) return;
    loop_->Defer([c = std::move(c)]() mutable { c.Run(); });
  }

  Completion TryRead() {
    ssize_t n;
    do {
      n = ::recv(fd_, read_.data, read_.size, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      readable_ = false;
      return {};
    }
    // Short: the queue is empty, unless the peer has closed (its FIN came with the data's
    // edge, and the end of the stream is still to be read; no edge will announce it).
    if (n > 0 && static_cast<size_t>(n) < read_.size && !hung_up_) readable_ = false;
    if (n <= 0) return Fail(read_.done);  // end of stream or an error
    return {std::exchange(read_.done, nullptr), true, static_cast<size_t>(n)};
  }

  Completion TryWrite() {
    while (write_.sent < write_.size) {
      const ssize_t n =
          ::send(fd_, write_.data + write_.sent, write_.size - write_.sent, MSG_NOSIGNAL);
      if (n >= 0) {
        write_.sent += static_cast<size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return {};  // the EPOLLOUT edge resumes it
      } else if (errno != EINTR) {
        return Fail(write_.done);
      }
    }
    return {std::exchange(write_.done, nullptr), true, write_.size};
  }

  void CloseFd() {
    if (fd_ < 0) return;
    if (watch_ != nullptr) loop_->Remove(watch_);
    watch_ = nullptr;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
  }

  std::string Address(int (*get)(int, sockaddr*, socklen_t*)) const {
    if (fd_ < 0) return {};
    tcp::endpoint e;
    socklen_t len = static_cast<socklen_t>(e.capacity());
    if (get(fd_, e.data(), &len) != 0) return {};
    e.resize(len);
    return Format(e);
  }

  api::EventLoop* const loop_;
  int fd_;
  api::EventLoop::Watch* watch_ = nullptr;
  bool readable_ = false;  // until an edge says otherwise (one comes at once if data waits)
  bool hung_up_ = false;   // the peer closed or reset: reads never wait again
  Op read_;
  WriteOp write_;
};

}  // namespace

std::unique_ptr<Transport> NewAsioTransport(tcp::socket socket, net::ssl::context* tls) {
  return std::make_unique<AsioTransport>(std::move(socket), tls);
}

std::unique_ptr<Transport> NewLoopTransport(api::EventLoop* loop, int fd) {
  auto transport = std::make_unique<LoopTransport>(loop, fd);
  if (!transport->Register()) return nullptr;  // the destructor closes fd
  return transport;
}

}  // namespace devstate::resp
