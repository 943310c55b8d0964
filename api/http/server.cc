#include "api/http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <deque>
#include <optional>

namespace devstate::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using beast_http::status;

struct ServerShared {
  const Handler* handler;
  ServerOptions options;
  std::atomic<size_t> connections{0};
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ServerShared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    shared_->connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() { shared_->connections.fetch_sub(1, std::memory_order_relaxed); }

  void Run(bool over_capacity) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), over_capacity] {
      if (over_capacity) {
        return self->Refuse(status::service_unavailable, "too many connections");
      }
      self->ReadNext();
    });
  }

 private:
  // One request in flight. A request that reads must see every write the connection sent
  // before it, so it waits (deferred) until the responses ahead of it are ready; a write
  // is handed on at once unless something ahead of it is still deferred (commits keep
  // submission order, so pipelined writes share commit groups).
  struct Slot {
    std::optional<Request> deferred;
    bool ready = false;
    Response response;
  };

  const ServerOptions& options() const { return shared_->options; }

  // Reads the next request unless one is being read, the pipeline is full, or the
  // connection is closing.
  void ReadNext() {
    if (reading_ || closing_ || pending_.size() >= options().max_pipeline) return;
    reading_ = true;
    if (buffer_.size() > 0) return ReadHeader();
    // Idle between requests: wait for the first byte under the idle timeout.
    stream_.expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->Close();
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    stream_.expires_after(options().header_timeout);
    beast_http::async_read_header(stream_, buffer_, *parser_,
                                  [self = shared_from_this()](beast::error_code ec, size_t) {
                                    self->OnHeader(ec);
                                  });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto length = parser_->content_length();
    if (length && *length > options().max_body_bytes) {
      reading_ = false;
      return Refuse(status::payload_too_large,
                    fmt::format("body is {} bytes, more than the limit of {}", *length,
                                options().max_body_bytes));
    }
    stream_.expires_after(options().body_timeout);
    const auto& req = parser_->get();
    if (beast::iequals(req[beast_http::field::expect], "100-continue") && !writing_ &&
        pending_.empty()) {
      writing_ = true;
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    beast_http::async_read(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, size_t) {
                             self->OnRequest(ec);
                           });
  }

  void OnReadError(beast::error_code ec) {
    reading_ = false;
    if (ec == beast_http::error::body_limit) {
      return Refuse(status::payload_too_large,
                    fmt::format("body is larger than the limit of {} bytes", options().max_body_bytes));
    }
    if (ec == beast_http::error::header_limit) {
      return Refuse(status::request_header_fields_too_large,
                    fmt::format("headers are larger than the limit of {} bytes",
                                options().max_header_bytes));
    }
    if (ec == beast::error::timeout || ec == beast_http::error::end_of_stream ||
        ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted || ec == beast_http::error::partial_message) {
      return Close();  // nobody left to answer, or a client too slow to wait for
    }
    Refuse(status::bad_request, fmt::format("malformed request: {}", ec.message()));
  }

  void OnRequest(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    reading_ = false;
    Request request = parser_->release();
    parser_.reset();
    auto slot = std::make_shared<Slot>();
    if (!request.keep_alive()) closing_ = true;
    bool blocked = false;  // something ahead is deferred, or (for a read) not answered yet
    for (const auto& ahead : pending_) {
      blocked = blocked || ahead->deferred.has_value() ||
                (request.method() != beast_http::verb::post && !ahead->ready);
    }
    pending_.push_back(slot);
    if (blocked) {
      slot->deferred = std::move(request);
    } else {
      Dispatch(slot, request);
    }
    ReadNext();
  }

  void Dispatch(const std::shared_ptr<Slot>& slot, const Request& request) {
    shared_->handler->Handle(request, [self = shared_from_this(), slot](Response response) {
      net::post(self->stream_.get_executor(),
                [self, slot, response = std::move(response)]() mutable {
                  slot->response = std::move(response);
                  slot->ready = true;
                  self->DispatchDeferred();
                  self->WriteNext();
                });
    });
  }

  // Hands on deferred requests whose turn has come, in order.
  void DispatchDeferred() {
    bool all_ready = true;
    for (const auto& slot : pending_) {
      if (slot->deferred) {
        const bool is_write = slot->deferred->method() == beast_http::verb::post;
        if (!all_ready && !is_write) return;
        Request request = std::move(*slot->deferred);
        slot->deferred.reset();
        Dispatch(slot, request);
      }
      all_ready = all_ready && slot->ready;
    }
  }

  // Answers with an error and closes: the rest of the stream cannot be trusted.
  void Refuse(status code, std::string_view message) {
    closing_ = true;
    auto slot = std::make_shared<Slot>();
    slot->response = Handler::Error(code, message, 11, false);
    slot->ready = true;
    pending_.push_back(std::move(slot));
    WriteNext();
  }

  void WriteNext() {
    if (writing_ || pending_.empty() || !pending_.front()->ready) return;
    writing_ = true;
    stream_.expires_after(options().body_timeout);
    beast_http::async_write(stream_, pending_.front()->response,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->OnWrite(ec);
                            });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    if (ec) return Close();
    const bool last = pending_.front()->response.need_eof();
    pending_.pop_front();
    if (last || (closing_ && pending_.empty() && !reading_)) return Close();
    WriteNext();
    ReadNext();
  }

  void Close() {
    closing_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.cancel();
  }

  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

  beast::tcp_stream stream_;
  std::shared_ptr<ServerShared> shared_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::deque<std::shared_ptr<Slot>> pending_;  // responses in request order
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;  // no more requests will be read
};

}  // namespace

Server::Server(const Handler* handler, ServerOptions options)
    : acceptor_(ioc_), shared_(std::make_shared<ServerShared>()) {
  shared_->handler = handler;
  shared_->options = std::move(options);
}

Server::~Server() {
  Stop();
}

size_t Server::connections() const { return shared_->connections.load(std::memory_order_relaxed); }

Status Server::Start() {
  beast::error_code ec;
  const auto address = net::ip::make_address(shared_->options.bind, ec);
  if (ec) return Status::InvalidArgument(fmt::format("http.bind '{}': {}", shared_->options.bind, ec.message()));
  const tcp::endpoint endpoint(address, shared_->options.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError(fmt::format("cannot listen for HTTP on {}:{}: {}", shared_->options.bind,
                                       shared_->options.port, ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  for (int i = 0; i < shared_->options.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  return Status::OK();
}

void Server::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      const bool over = shared_->connections.load(std::memory_order_relaxed) >=
                        shared_->options.max_connections;
      std::make_shared<Session>(std::move(socket), shared_)->Run(over);
    }
    Accept();
  });
}

void Server::Stop() {
  if (threads_.empty()) return;
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  beast::error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace devstate::http
