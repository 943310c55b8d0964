#include "api/resp/server.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <span>

#include "api/event_loop.h"
#include "api/listener.h"
#include "api/resp/session.h"
#include "api/resp/transport.h"
#include "store/thread_name.h"

namespace devstate::resp {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
namespace beast = boost::beast;

namespace {
std::string RandomHex40() {
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    for (auto& b : bytes) b = static_cast<unsigned char>(std::rand());
  }
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

// The CPUs this process may run on (its affinity mask), at least 1.
int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace

// Accepts plain-TCP connections on the first loop and hands each to the loops in turn.
class Server::Listener final : public api::EventLoop::Watcher {
 public:
  explicit Listener(Server* server) : server_(server) {}
  void OnEvents(uint32_t) override { server_->AcceptReady(); }
  void Abandon() override {}

 private:
  Server* const server_;
};

Server::Server(DeviceService* service, ServerOptions options)
    : options_(std::move(options)), acceptor_(ioc_), state_(std::make_shared<ServerState>()) {
  state_->service = service;
  state_->acl = options_.acl != nullptr ? options_.acl : &own_acl_;
  state_->limits = options_.limits;
  state_->max_clients = options_.limits.max_clients;
  state_->idle_timeout_ms = options_.limits.idle_timeout_ms;
  state_->max_query_buffer = options_.limits.max_query_buffer;
  state_->hash_max_listpack_entries = options_.limits.hash_max_listpack_entries;
  state_->hash_max_listpack_value = options_.limits.hash_max_listpack_value;
  state_->zset_max_listpack_entries = options_.limits.zset_max_listpack_entries;
  state_->zset_max_listpack_value = options_.limits.zset_max_listpack_value;
  state_->set_max_intset_entries = options_.limits.set_max_intset_entries;
  state_->slowlog.slower_than_us = options_.limits.slowlog_slower_than_us;
  state_->slowlog.max_len = options_.limits.slowlog_max_len;
  state_->run_id = RandomHex40();
  // The node's stable id when the service has one (replication), else one per run.
  state_->node_id = service->Role().node_id;
  if (state_->node_id.empty()) state_->node_id = RandomHex40();
  state_->announce_host = !options_.announce_host.empty() ? options_.announce_host
                          : options_.bind == "0.0.0.0"    ? "127.0.0.1"
                                                          : options_.bind;
  state_->replica_reads_need_readonly = options_.replica_reads_need_readonly;
  state_->started_ms = service->NowMs();
  // Committed writes' notifications go to this server's channels.
  PubSub* pubsub = &state_->pubsub;
  service->notifier().SetSink(
      [pubsub](const std::string& channel, const std::string& message) {
        pubsub->Publish(PubSub::kChannel, channel, message);
      },
      [pubsub] { return pubsub->Listened(); });
}

Server::~Server() {
  state_->service->notifier().SetSink(nullptr, nullptr);
  state_->service->SetKeyObserver(nullptr);
  Stop();
  // Replies that arrived after the loops stopped were never taken in: their sessions hold
  // the queues and the queues hold them, so break the cycles before the loops go away.
  if (tls_ready_) tls_ready_->Clear();
  for (auto& ready : loop_ready_) ready->Clear();
  // Destroying a loop drops the handlers its sockets hold, and with them their sessions.
  loops_.clear();
}

Status Server::Start() {
  Status s = api::Listen(&acceptor_, options_.bind, options_.port, "RESP", "resp");
  if (!s.ok()) return s;
  port_ = acceptor_.local_endpoint().port();
  state_->port = port_;
  if (options_.tls) {
    tls_ready_ = std::make_shared<ReadySessions>(
        [executor = ioc_.get_executor()](Task task) { net::post(executor, std::move(task)); });
    AcceptTls();
    for (int i = 0; i < options_.threads; ++i) {
      threads_.emplace_back([this] {
        SetThreadName("ds-resp");
        RunTlsLoop();
      });
    }
    return Status::OK();
  }
  DeviceService* service = state_->service;
  const std::chrono::microseconds busy_poll =
      UsableCpus() > 1 ? options_.busy_poll : std::chrono::microseconds(0);
  if (busy_poll != options_.busy_poll) spdlog::info("resp: one CPU to run on, so no busy polling");
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    auto loop = std::make_unique<api::EventLoop>();
    s = loop->Init();
    if (!s.ok()) return s;
    loop->SetBusyPoll(busy_poll);
    // The turn's end: commit the writes its commands queued, as Redis's beforeSleep does.
    loop->SetTurnEnd([service] { service->CommitQueued(); });
    loop_ready_.push_back(
        std::make_shared<ReadySessions>([l = loop.get()](Task task) { l->Post(std::move(task)); }));
    loops_.push_back(std::move(loop));
  }
  error_code ec;
  acceptor_.non_blocking(true, ec);
  listener_ = std::make_unique<Listener>(this);
  listen_watch_ = ec ? nullptr : loops_[0]->Add(acceptor_.native_handle(), listener_.get());
  if (listen_watch_ == nullptr) {
    return Status::IOError(fmt::format("RESP: cannot watch the listening socket: {}",
                                       ec ? ec.message() : std::strerror(errno)));
  }
  for (auto& loop : loops_) {
    threads_.emplace_back([loop = loop.get()] {
      SetThreadName("ds-resp");
      loop->Run();
    });
  }
  return Status::OK();
}

// On the first loop, at each new connection: accepts every waiting one (the socket is
// edge-triggered), each onto the next loop.
void Server::AcceptReady() {
  for (;;) {
    const int fd =
        ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      state_->accept_errors.fetch_add(1, std::memory_order_relaxed);
      if (!accept_retry_) {
        // Out of descriptors or memory. The connection stays queued, and no new edge will
        // come for it (the socket is edge-triggered): try again shortly, and say so then,
        // once per retry rather than once per failure (and not while out of descriptors).
        accept_retry_ = true;
        loops_[0]->RunAfter(kAcceptRetry, [this, error = errno] {
          spdlog::warn("resp: cannot accept a connection: {}; trying again", std::strerror(error));
          accept_retry_ = false;
          AcceptReady();
        });
      }
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const size_t index = next_loop_++ % loops_.size();
    api::EventLoop* loop = loops_[index].get();
    auto start = [this, loop, fd, ready = loop_ready_[index]] {
      std::unique_ptr<Transport> io = NewLoopTransport(loop, fd);
      if (!io) {
        spdlog::warn("resp: cannot watch a new connection: {}", std::strerror(errno));
        return;
      }
      Open(std::move(io), ready);
    };
    if (index == 0) {
      start();
    } else {
      loop->Post(std::move(start));
    }
  }
}

void Server::AcceptTls() {
  const net::any_io_executor executor = api::SessionExecutor(ioc_, options_.threads);
  acceptor_.async_accept(executor, [this](error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      Open(NewAsioTransport(std::move(socket), options_.tls.get()), tls_ready_);
    }
    AcceptTls();
  });
}

// A new connection: counts it and starts its session, which refuses it when max_clients
// are open already.
void Server::Open(std::unique_ptr<Transport> io, std::shared_ptr<ReadySessions> ready) {
  state_->total_connections.fetch_add(1, std::memory_order_relaxed);
  size_t clients;
  {
    std::lock_guard lock(state_->clients_mu);
    clients = state_->clients.size();
  }
  std::make_shared<Session>(std::move(io), state_, std::move(ready))
      ->Run(clients >= state_->max_clients.load(std::memory_order_relaxed));
}

// Like io_context::run, with a turn end: once every handler that is ready has run, or the
// turn has lasted kMaxTurn, the writes the turn's commands queued are committed (on this
// thread when no group is being committed), and their replies go out in the next turn.
// Without the bound, a steady stream of reads kept a turn going and the writes waiting
// behind it (docs/BENCHMARKS.md, "Figures moved out of the code").
void Server::RunTlsLoop() {
  constexpr auto kMaxTurn = std::chrono::milliseconds(1);
  DeviceService* service = state_->service;
  while (ioc_.run_one() > 0) {
    const auto turn_end = std::chrono::steady_clock::now() + kMaxTurn;
    while (std::chrono::steady_clock::now() < turn_end && ioc_.poll_one() > 0) {
    }
    service->CommitQueued();
  }
}

void Server::Stop() {
  if (threads_.empty()) return;
  ioc_.stop();
  for (auto& loop : loops_) loop->Stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  if (listen_watch_ != nullptr) loops_[0]->Remove(listen_watch_);
  listen_watch_ = nullptr;
  error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace devstate::resp
