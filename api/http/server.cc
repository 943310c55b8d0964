#include "api/http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <deque>
#include <optional>

#include "api/listener.h"
#include "api/stream.h"
#include "store/thread_name.h"

namespace devstate::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using beast_http::status;

struct ServerShared {
  const Handler* handler;
  Metrics* metrics = nullptr;
  ServerOptions options;
  std::atomic<size_t> connections{0};
};

namespace {

class Session;
// The session whose Handle call is running on this thread, so an inline reply skips the post.
thread_local const Session* tls_dispatching = nullptr;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<ServerShared> shared)
      : stream_(std::move(socket), shared->options.tls.get()),
        timer_(stream_.get_executor()),
        shared_(std::move(shared)) {
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = remote.address().to_string();
    shared_->connections.fetch_add(1, std::memory_order_relaxed);
    if (shared_->metrics)
      shared_->metrics->http_connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() {
    if (watch_ != 0) shared_->handler->Unwatch(watch_);
    shared_->connections.fetch_sub(1, std::memory_order_relaxed);
    if (shared_->metrics)
      shared_->metrics->http_connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void Run(bool over_capacity) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), over_capacity] {
      if (!self->stream_.tls()) return self->Start(over_capacity);
      // The handshake must finish within the header timeout.
      self->read_deadline_ = Clock::now() + self->options().header_timeout;
      self->Arm(/*strict=*/true);
      self->stream_.AsyncHandshake([self, over_capacity](beast::error_code ec) {
        self->read_deadline_ = Clock::time_point::max();
        if (ec) {
          spdlog::debug("http: TLS handshake failed: {}", ec.message());
          if (self->shared_->metrics) {
            self->shared_->metrics->tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
          }
          return self->Close();
        }
        self->Start(over_capacity);
      });
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
    std::shared_ptr<Handler::EventStream> stream;  // the response opens an event stream
  };

  const ServerOptions& options() const { return shared_->options; }

  void Start(bool over_capacity) {
    if (over_capacity) return Refuse(status::service_unavailable, "too many connections");
    ReadNext();
  }

  // Parses requests out of what is buffered and hands each on; reads more bytes only when
  // the parser needs them. Parsing in place (rather than with async_read per request)
  // costs no extra trips through the scheduler, and pipelined requests that arrive in one
  // segment are all taken from it. Stops while the pipeline is full or the connection closes.
  void ReadNext() {
    while (!reading_ && !closing_ && pending_.size() < options().max_pipeline) {
      if (!parser_) {
        if (buffer_.size() == 0) return ReadMore(Phase::kIdle);
        StartRequest();
      }
      beast::error_code ec;
      const bool in_header = !parser_->is_header_done();
      if (in_header) {
        // Beast applies its header limit to the bytes of each put(), counting from where
        // that call starts: fields taken in earlier calls are not counted, so a header
        // block of twice the limit passed in two reads. The budget is the request's.
        parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes - header_bytes_));
      }
      // The body is handed over at most max_header_bytes at a time: data chunks stream
      // through in slices, but a chunk header or the trailer fields, which Beast must see
      // whole, cannot be larger than that and still complete.
      const auto data = buffer_.data();
      const size_t window =
          in_header ? data.size() : std::min(data.size(), options().max_header_bytes);
      const size_t used = window == 0 ? 0 : parser_->put(net::buffer(data.data(), window), ec);
      buffer_.consume(used);
      if (in_header) header_bytes_ += used;  // not eager until the header is done: all header
      if (ec && ec != beast_http::error::need_more) return OnReadError(ec);
      // What Beast waits on without consuming (the rest of the header, a chunk header, a
      // chunked body's trailer fields) is bounded by the same limit.
      if (ec == beast_http::error::need_more &&
          (in_header ? header_bytes_ : 0) + buffer_.size() > options().max_header_bytes) {
        return OnReadError(beast_http::error::header_limit);
      }
      if (in_header && parser_->is_header_done()) parser_->eager(true);
      if (parser_->is_header_done() && !header_checked_) {
        header_checked_ = true;
        if (!CheckHeader()) return;
        if (!parser_->is_done()) body_deadline_ = Clock::now() + options().body_timeout;
      }
      if (parser_->is_done()) {
        OnRequest();
        continue;
      }
      if (used == 0 || buffer_.size() == 0) {
        return ReadMore(parser_->is_header_done() ? Phase::kBody : Phase::kHeader);
      }
    }
  }

  enum class Phase { kIdle, kHeader, kBody };
  using Clock = std::chrono::steady_clock;

  void StartRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    parser_->eager(false);  // the first put()s stop at the header's end: its bytes are counted
    header_checked_ = false;
    header_bytes_ = 0;
    // The header timeout runs from the request's first byte, however it trickles in.
    header_deadline_ = Clock::now() + options().header_timeout;
  }

  // Waits until the socket is readable, then reads what is there without blocking. Waiting
  // first (rather than async_read_some, which tries a read at once) saves the read that
  // would find nothing while the client is still waiting for our previous response.
  void ReadMore(Phase phase) {
    reading_ = true;
    switch (phase) {
      case Phase::kIdle:
        read_deadline_ = Clock::now() + options().idle_timeout;
        break;
      case Phase::kHeader:
        read_deadline_ = header_deadline_;
        break;
      case Phase::kBody:
        read_deadline_ = body_deadline_;
        break;
    }
    Arm(/*strict=*/phase != Phase::kIdle);
    stream_.AsyncReadSome(buffer_.prepare(kReadSize),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->buffer_.commit(n);
                            self->reading_ = false;
                            self->read_deadline_ = Clock::time_point::max();
                            if (ec) return self->OnReadError(ec);
                            self->ReadNext();
                          });
  }

  // Makes sure the timer fires by the earliest deadline. Idle and write deadlines are lax
  // (strict=false): if the timer is already set, they are checked when it fires, so a
  // quiet connection costs no timer operation per request; a stalled write is caught
  // within the longer of the body and idle timeouts.
  void Arm(bool strict) {
    if (closed_) return;
    const Clock::time_point due = std::min(read_deadline_, write_deadline_);
    if (due >= armed_ || (!strict && armed_ != Clock::time_point::max())) return;
    armed_ = due;
    timer_.expires_at(due);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec == net::error::operation_aborted || self->closed_) return;
      self->armed_ = Clock::time_point::max();
      if (std::min(self->read_deadline_, self->write_deadline_) <= Clock::now())
        return self->Close();
      self->Arm(/*strict=*/true);
    });
  }

  // Checks a complete header before its body is read; false if the request was refused.
  bool CheckHeader() {
    const auto length = parser_->content_length();
    if (length && *length > options().max_body_bytes) {
      Refuse(status::payload_too_large,
             fmt::format("body is {} bytes, more than the limit of {} bytes", *length,
                         options().max_body_bytes));
      return false;
    }
    const auto& req = parser_->get();
    if (!parser_->is_done() && buffer_.size() == 0 && !writing_ && pending_.empty() &&
        beast::iequals(req[beast_http::field::expect], "100-continue")) {
      writing_ = true;
      stream_.AsyncWrite(net::buffer(kContinue),
                         [self = shared_from_this()](beast::error_code ec, size_t) {
                           self->writing_ = false;
                           if (ec) return self->Close();
                           self->WriteNext();
                         });
    }
    return true;
  }

  void OnReadError(beast::error_code ec) {
    reading_ = false;
    if (ec == beast_http::error::body_limit) {
      return Refuse(
          status::payload_too_large,
          fmt::format("body is larger than the limit of {} bytes", options().max_body_bytes));
    }
    if (ec == beast_http::error::header_limit) {
      return Refuse(
          status::request_header_fields_too_large,
          fmt::format("headers (or chunked trailers) are larger than the limit of {} bytes",
                      options().max_header_bytes));
    }
    if (ec == beast::error::timeout || ec == beast_http::error::end_of_stream ||
        ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted || ec == beast_http::error::partial_message) {
      return Close();  // nobody left to answer, or a client too slow to wait for
    }
    Refuse(status::bad_request, fmt::format("malformed request: {}", ec.message()));
  }

  void OnRequest() {
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
  }

  void Dispatch(const std::shared_ptr<Slot>& slot, const Request& request) {
    // A reply made inside Handle (reads, errors) is on this session's strand already and
    // is stored directly; one from the committer thread is posted back to the strand.
    tls_dispatching = this;
    Handler::Exchange exchange;
    exchange.peer = peer_;
    shared_->handler->Handle(request, &exchange,
                             [self = shared_from_this(), slot, &exchange](Response response) {
                               if (tls_dispatching == self.get()) {
                                 slot->response = std::move(response);
                                 if (exchange.answer_delay.count() > 0) {
                                   return self->Delay(slot, exchange.answer_delay);
                                 }
                                 slot->ready = true;
                                 return;
                               }
                               net::post(self->stream_.get_executor(),
                                         [self, slot, response = std::move(response)]() mutable {
                                           slot->response = std::move(response);
                                           slot->ready = true;
                                           self->DispatchDeferred();
                                           self->WriteNext();
                                         });
                             });
    tls_dispatching = nullptr;
    if (exchange.stream) {
      slot->stream = std::move(exchange.stream);
      closing_ = true;  // the connection is the stream's now: no further request
    }
    if (slot->ready) WriteNext();
  }

  // Wrong credentials, or an address that spent its failure budget: the answer (and so
  // everything after it on this connection) waits as acl::AuthThrottle says.
  void Delay(const std::shared_ptr<Slot>& slot, std::chrono::milliseconds delay) {
    auto timer = std::make_shared<net::steady_timer>(stream_.get_executor(), delay);
    timer->async_wait([self = shared_from_this(), slot, timer](beast::error_code) {
      slot->ready = true;
      self->WriteNext();
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

  // Writes every response that is ready at the front of the pipeline in one write.
  void WriteNext() {
    if (writing_ || pending_.empty() || !pending_.front()->ready) return;
    writing_ = true;
    out_.clear();
    in_write_ = 0;
    last_in_write_ = false;
    for (const auto& slot : pending_) {
      if (!slot->ready) break;
      AppendResponse(slot->response, &out_);
      ++in_write_;
      const unsigned code = slot->response.result_int();
      if (shared_->metrics && code < shared_->metrics->http_responses.size()) {
        shared_->metrics->http_responses[code].fetch_add(1, std::memory_order_relaxed);
      }
      if (slot->stream) {
        events_ = slot->stream;  // its head and first events: the stream starts once written
        last_in_write_ = true;
        break;
      }
      if (slot->response.need_eof()) {
        last_in_write_ = true;
        break;
      }
    }
    write_deadline_ = Clock::now() + options().body_timeout;
    Arm(/*strict=*/false);
    stream_.AsyncWrite(net::buffer(out_),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->write_deadline_ = Clock::time_point::max();
                         self->OnWrite(ec);
                       });
  }

  // HTTP/1.x serialisation of a response with a complete body: cheaper than Beast's
  // generic serializer, and lets responses share a write.
  static void AppendResponse(const Response& res, std::string* out) {
    fmt::format_to(std::back_inserter(*out), "HTTP/1.{} {} {}\r\n", res.version() == 10 ? 0 : 1,
                   res.result_int(), res.reason());
    for (const auto& field : res) {
      out->append(field.name_string());
      out->append(": ");
      out->append(field.value());
      out->append("\r\n");
    }
    out->append("\r\n");
    out->append(res.body());
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    if (ec) return Close();
    for (size_t i = 0; i < in_write_; ++i) pending_.pop_front();
    if (events_ && watch_ == 0 && last_in_write_) return StartStream();
    if (last_in_write_ || (closing_ && pending_.empty() && !reading_)) return Close();
    WriteNext();
    ReadNext();
  }

  // ---- Event streams (handler_events.cc): after the head, the connection carries events
  // as the handler's watch hands them over, until the client leaves or falls behind.

  void StartStream() {
    std::weak_ptr<Session> weak = shared_from_this();
    const net::any_io_executor executor = stream_.get_executor();
    watch_ = shared_->handler->Watch(events_, [weak, executor](std::string frame) {
      net::post(executor, [weak, frame = std::move(frame)]() mutable {
        if (auto self = weak.lock()) self->SendEvent(std::move(frame));
      });
    });
    SendEvent(shared_->handler->CatchUp(*events_));
    DrainUntilClosed();
    Heartbeat();
  }

  void SendEvent(std::string frame) {
    if (closed_ || frame.empty()) return;
    if (backlog_.size() + frame.size() > options().max_stream_backlog) {
      spdlog::info("http: an event stream of {} fell {} bytes behind; closing it", peer_,
                   backlog_.size());
      if (shared_->metrics) {
        shared_->metrics->http_streams_dropped.fetch_add(1, std::memory_order_relaxed);
      }
      return Close();
    }
    backlog_ += frame;
    FlushStream();
  }

  void FlushStream() {
    if (writing_ || backlog_.empty() || closed_) return;
    writing_ = true;
    out_ = std::move(backlog_);
    backlog_.clear();
    write_deadline_ = Clock::now() + options().body_timeout;
    Arm(/*strict=*/true);
    stream_.AsyncWrite(net::buffer(out_),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         self->write_deadline_ = Clock::time_point::max();
                         if (ec) return self->Close();
                         self->FlushStream();
                       });
  }

  // The client sends nothing more; a read completes when it closes (or errs).
  void DrainUntilClosed() {
    stream_.AsyncReadSome(buffer_.prepare(kReadSize),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->buffer_.commit(n);
                            self->buffer_.consume(self->buffer_.size());
                            if (ec || self->closed_) return self->Close();
                            self->DrainUntilClosed();
                          });
  }

  // A comment line on a quiet stream: a client that went away without closing is found
  // by the write failing.
  void Heartbeat() {
    if (closed_) return;
    heartbeat_ =
        std::make_shared<net::steady_timer>(stream_.get_executor(), options().stream_heartbeat);
    heartbeat_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      if (self->backlog_.empty() && !self->writing_) self->SendEvent(": keepalive\n\n");
      self->Heartbeat();
    });
  }

  void Close() {
    closing_ = true;
    beast::error_code ignored;
    if (closed_) return;
    closed_ = true;
    if (watch_ != 0) {
      shared_->handler->Unwatch(watch_);
      watch_ = 0;
    }
    if (heartbeat_) heartbeat_->cancel(ignored);
    stream_.Close(tcp::socket::shutdown_send);
    timer_.cancel(ignored);
  }

  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  static constexpr size_t kReadSize = 16 * 1024;

  api::Stream stream_;
  net::steady_timer timer_;  // enforces the deadlines below
  std::shared_ptr<ServerShared> shared_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::deque<std::shared_ptr<Slot>> pending_;  // responses in request order
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;  // no more requests will be read
  bool header_checked_ = false;
  std::string peer_;            // the client's address, for the authentication failure budget
  size_t header_bytes_ = 0;     // of the request being read, start line and fields
  std::string out_;             // the bytes of the write in progress
  size_t in_write_ = 0;         // responses in it
  bool last_in_write_ = false;  // it ends with a response that closes the connection
  Clock::time_point header_deadline_;
  Clock::time_point body_deadline_;
  Clock::time_point read_deadline_ = Clock::time_point::max();   // while a read is pending
  Clock::time_point write_deadline_ = Clock::time_point::max();  // while a write is pending
  Clock::time_point armed_ = Clock::time_point::max();           // when the timer fires
  bool closed_ = false;
  std::shared_ptr<Handler::EventStream> events_;  // set once the response opened one
  uint64_t watch_ = 0;                            // its watch, while it runs
  std::string backlog_;                           // events not yet in a write
  std::shared_ptr<net::steady_timer> heartbeat_;
};

}  // namespace

Server::Server(const Handler* handler, ServerOptions options, Metrics* metrics)
    : acceptor_(ioc_), shared_(std::make_shared<ServerShared>()) {
  shared_->handler = handler;
  shared_->metrics = metrics;
  shared_->options = std::move(options);
}

Server::~Server() { Stop(); }

size_t Server::connections() const { return shared_->connections.load(std::memory_order_relaxed); }

Status Server::Start() {
  Status s = api::Listen(&acceptor_, shared_->options.bind, shared_->options.port, "HTTP", "http");
  if (!s.ok()) return s;
  port_ = acceptor_.local_endpoint().port();
  Accept();
  for (int i = 0; i < shared_->options.threads; ++i) {
    threads_.emplace_back([this] {
      SetThreadName("ds-http");
      ioc_.run();
    });
  }
  return Status::OK();
}

void Server::Accept() {
  const net::any_io_executor executor = api::SessionExecutor(ioc_, shared_->options.threads);
  acceptor_.async_accept(executor, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      const bool over =
          shared_->connections.load(std::memory_order_relaxed) >= shared_->options.max_connections;
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
