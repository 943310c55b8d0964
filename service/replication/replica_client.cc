#include "service/replication/replica_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "store/replication/applier.h"
#include "store/thread_name.h"

namespace devstate {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Command(std::initializer_list<std::string_view> args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (std::string_view a : args)
    fmt::format_to(std::back_inserter(out), "${}\r\n{}\r\n", a.size(), a);
  return out;
}

}  // namespace

// One connection to the primary, from connect to its end.
class ReplicaClient::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ReplicaClient* client, net::io_context& ioc)
      : client_(client), resolver_(ioc), socket_(ioc), timer_(ioc), applier_(client->store_) {
    applier_.on_promote = client->on_promote_;
  }

  void Start() {
    Arm();
    const auto& o = client_->options_;
    resolver_.async_resolve(
        o.host, std::to_string(o.port),
        [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
          if (ec) return self->Fail("cannot resolve the primary: " + ec.message());
          net::async_connect(self->socket_, r, [self](error_code ec, const tcp::endpoint&) {
            if (ec) return self->Fail("cannot connect to the primary: " + ec.message());
            error_code ignored;
            self->socket_.set_option(tcp::no_delay(true), ignored);
            self->Handshake();
          });
        });
  }

  void Close() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
    resolver_.cancel();
  }

  std::string error() const { return error_; }

 private:
  void Handshake() {
    if (!client_->options_.tls) return SendHello();
    tls_.emplace(socket_, *client_->options_.tls);
    SSL_set_tlsext_host_name(tls_->native_handle(), client_->options_.host.c_str());
    tls_->set_verify_mode(net::ssl::verify_peer);
    // The chain must lead to tls.ca and the certificate must name the host dialled.
    tls_->set_verify_callback(net::ssl::host_name_verification(client_->options_.host));
    tls_->async_handshake(
        net::ssl::stream_base::client, [self = shared_from_this()](error_code ec) {
          if (ec) return self->Fail("TLS handshake with the primary failed: " + ec.message());
          self->SendHello();
        });
  }

  void SendHello() {
    const auto& o = client_->options_;
    Store& store = *client_->store_;
    const uint64_t seq = store.LastSequence();
    std::string out;
    if (!o.user.empty()) {
      out += Command({"AUTH", o.user, o.password});
      expect_auth_ = true;
    }
    out += Command({"PSYNC", "devstate", o.node_id, std::to_string(store.epochs().EpochOf(seq)),
                    std::to_string(seq), std::to_string(store.Term()), o.announce});
    out_ = std::move(out);
    Write();
    Read();
  }

  // Before the stream: the replies to AUTH and PSYNC, one line each.
  bool TakeHandshakeReplies() {
    for (;;) {
      const size_t eol = in_.find("\r\n");
      if (eol == std::string::npos) {
        if (in_.size() > 4096) Fail("the primary's answer to PSYNC is too long");
        return false;
      }
      const std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      if (expect_auth_) {
        expect_auth_ = false;
        if (line != "+OK") {
          Fail("the primary refused replication.user: " + line);
          return false;
        }
        continue;
      }
      // -NOTPRIMARY host:port: the primary moved.
      if (line.rfind("-NOTPRIMARY ", 0) == 0) {
        std::string host;
        uint16_t port = 0;
        if (SplitHostPort(line.substr(12), &host, &port) && client_->on_redirect_) {
          client_->on_redirect_(host, port);
        }
        Fail("the node followed is no longer primary: " + line.substr(1));
        return false;
      }
      // +CONTINUE <epoch> <node id> <announce> or +FULLSYNC ...
      if (line.rfind("+CONTINUE ", 0) != 0 && line.rfind("+FULLSYNC ", 0) != 0) {
        Fail("the primary refused to be followed: " + line);
        return false;
      }
      std::vector<std::string> words;
      for (size_t at = 1; at < line.size();) {
        const size_t space = line.find(' ', at);
        words.push_back(line.substr(at, space - at));
        at = space == std::string::npos ? line.size() : space + 1;
      }
      {
        absl::MutexLock lock(&client_->mu_);
        LinkState& s = client_->state_;
        s.up = true;
        s.error.clear();
        s.primary_node_id = words.size() > 2 ? words[2] : "";
        s.primary_announce = words.size() > 3 ? words[3] : "";
      }
      spdlog::info("replication: following {}:{} ({}), {}", client_->options_.host,
                   client_->options_.port, words.size() > 2 ? words[2] : "?", line.substr(1));
      streaming_ = true;
      return true;
    }
  }

  void Read() {
    read_buffer_.resize(256 * 1024);
    auto handler = [self = shared_from_this()](error_code ec, size_t n) {
      if (ec)
        return self->Fail(ec == net::error::eof ? "the primary closed the link" : ec.message());
      self->in_.append(self->read_buffer_.data(), n);
      self->Arm();
      self->OnBytes();
    };
    if (tls_) {
      tls_->async_read_some(net::buffer(read_buffer_), std::move(handler));
    } else {
      socket_.async_read_some(net::buffer(read_buffer_), std::move(handler));
    }
  }

  void OnBytes() {
    if (!streaming_ && !TakeHandshakeReplies()) {
      if (failed_) return;
      return Read();
    }
    std::string acks;
    Status s = applier_.Consume(&in_, &acks);
    {
      absl::MutexLock lock(&client_->mu_);
      LinkState& st = client_->state_;
      st.last_io_ms = SteadyMs();
      st.full_copies += applier_.copies_installed() - copies_counted_;
      copies_counted_ = applier_.copies_installed();
      st.copying = applier_.copying();
      st.copy_bytes = applier_.copy_bytes();
      st.copy_total = applier_.copy_total();
      st.primary_seq = applier_.primary_seq();
    }
    if (!s.ok()) {
      // A journal failure stops acknowledgements until an operator looks: say so loudly.
      const bool journal = s.code() != Status::Code::kCorruption;
      if (journal) spdlog::error("replication: this replica's journal failed: {}", s.ToString());
      return Fail(s.ToString());
    }
    if (!acks.empty()) {
      pending_ += acks;
      Write();
    }
    Read();
  }

  void Write() {
    if (writing_ || (out_.empty() && pending_.empty()) || failed_) return;
    if (out_.empty()) out_.swap(pending_);
    writing_ = true;
    auto handler = [self = shared_from_this()](error_code ec, size_t) {
      self->writing_ = false;
      self->out_.clear();
      if (ec) return self->Fail("writing to the primary: " + ec.message());
      self->Write();
    };
    if (tls_) {
      net::async_write(*tls_, net::buffer(out_), std::move(handler));
    } else {
      net::async_write(socket_, net::buffer(out_), std::move(handler));
    }
  }

  // Silence for the timeout ends the connection (the primary sends heartbeats).
  void Arm() {
    timer_.expires_after(client_->options_.timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec)
        self->Fail("no word from the primary for " +
                   std::to_string(self->client_->options_.timeout.count()) + " ms");
    });
  }

  void Fail(const std::string& error) {
    if (failed_) return;
    failed_ = true;
    error_ = error;
    Close();
  }

  ReplicaClient* const client_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  std::optional<net::ssl::stream<tcp::socket&>> tls_;
  net::steady_timer timer_;
  replication::Applier applier_;
  std::string read_buffer_;
  std::string in_;
  std::string out_;              // being written
  std::string pending_;          // to write next
  uint64_t copies_counted_ = 0;  // of applier_'s, added to the link's state
  bool writing_ = false;
  bool expect_auth_ = false;
  bool streaming_ = false;
  bool failed_ = false;
  std::string error_;
};

ReplicaClient::ReplicaClient(Store* store, ReplicaClientOptions options,
                             std::function<void(uint64_t)> on_promote,
                             std::function<void(const std::string&, uint16_t)> on_redirect)
    : store_(store),
      options_(std::move(options)),
      on_promote_(std::move(on_promote)),
      on_redirect_(std::move(on_redirect)) {}

ReplicaClient::~ReplicaClient() { Stop(); }

void ReplicaClient::Start() {
  ioc_ = std::make_unique<net::io_context>(1);
  thread_ = std::thread([this] {
    SetThreadName("ds-replica");
    Run();
  });
}

void ReplicaClient::Stop() {
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  ioc_->stop();
  thread_.join();
}

LinkState ReplicaClient::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

void ReplicaClient::Run() {
  std::chrono::milliseconds backoff = options_.retry_min;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    auto session = std::make_shared<Session>(this, *ioc_);
    ioc_->restart();
    session->Start();
    ioc_->run();  // until the connection ends, or Stop
    std::string error = session->error();
    session->Close();
    bool was_up = false;
    {
      absl::MutexLock lock(&mu_);
      was_up = state_.up;
      state_.up = false;
      state_.copying = false;
      if (!error.empty()) state_.error = error;
      if (stopping_) return;
      if (was_up) backoff = options_.retry_min;
      spdlog::warn("replication: link to {}:{} down ({}); retrying in {} ms", options_.host,
                   options_.port, error.empty() ? "stopped" : error, backoff.count());
      const absl::Duration wait = absl::FromChrono(backoff);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
      if (stopping_) return;
    }
    backoff = std::min(backoff * 2, options_.retry_max);
  }
}

}  // namespace devstate
