#include "api/resp/migrate_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "store/thread_name.h"

namespace devstate::resp {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kConnectError = "IOERR error or timeout connecting to the client";
constexpr size_t kMaxLine = 1024;          // a reply line longer than Redis reads is an error
constexpr size_t kWriteChunk = 64 * 1024;  // each chunk gets the whole timeout, as in Redis

// Waits for `events` on `fd` until `deadline`; false on timeout (errno ETIMEDOUT) or error.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      errno = ETIMEDOUT;
      return false;
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 60'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

int ConnectTo(const std::string& host, const std::string& port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  const auto deadline = Clock::now() + timeout;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // Writable in time counts as connected, as in Redis's connBlockingConnect: a refused
    // connection then fails at the first write, and MIGRATE says "writing", as Redis does.
    const bool connected = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
                           (errno == EINPROGRESS && WaitFor(fd, POLLOUT, deadline));
    if (!connected) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd >= 0) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

bool WriteAll(int fd, std::string_view bytes, std::chrono::milliseconds timeout) {
  while (!bytes.empty()) {
    std::string_view chunk = bytes.substr(0, kWriteChunk);
    const auto deadline = Clock::now() + timeout;
    while (!chunk.empty()) {
      const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n > 0) {
        chunk.remove_prefix(static_cast<size_t>(n));
        bytes.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      } else if (!WaitFor(fd, POLLOUT, deadline)) {
        return false;
      }
    }
  }
  return true;
}

std::string SelectCommand(int64_t db) {
  const std::string n = std::to_string(db);
  return "*2\r\n$6\r\nSELECT\r\n$" + std::to_string(n.size()) + "\r\n" + n + "\r\n";
}

}  // namespace

MigrateClient::MigrateClient() {
  thread_ = std::thread([this] {
    SetThreadName("ds-migrate");
    Run();
  });
}

MigrateClient::~MigrateClient() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void MigrateClient::Send(Request request, Done done) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(std::move(request), std::move(done));
  }
  wake_.notify_all();
}

size_t MigrateClient::cached() const {
  std::lock_guard lock(mu_);
  return cached_;
}

void MigrateClient::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    // Idle connections are closed about every second, as Redis's cron closes them.
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    if (queue_.empty()) {
      lock.unlock();
      CloseIdle();
      lock.lock();
      continue;
    }
    auto [request, done] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Outcome outcome = Serve(request);
    done(std::move(outcome));
    lock.lock();
  }
  std::deque<std::pair<Request, Done>> left = std::move(queue_);
  lock.unlock();
  for (auto& [request, done] : left) {
    done(Outcome{std::vector<bool>(request.restores.size(), false), "ERR server shutting down"});
  }
  while (!connections_.empty()) Close(connections_.begin()->first);
}

MigrateClient::Connection* MigrateClient::Connect(const Request& r, std::string* error) {
  const std::string name = r.host + ":" + r.port;
  if (auto it = connections_.find(name); it != connections_.end()) return &it->second;
  if (connections_.size() >= kMaxCached) Close(connections_.begin()->first);
  const int fd = ConnectTo(r.host, r.port, r.timeout);
  if (fd < 0) {
    *error = kConnectError;
    return nullptr;
  }
  Connection& c = connections_[name];
  c.fd = fd;
  std::lock_guard lock(mu_);
  cached_ = connections_.size();
  return &c;
}

void MigrateClient::Close(const std::string& name) {
  auto it = connections_.find(name);
  if (it == connections_.end()) return;
  ::close(it->second.fd);
  connections_.erase(it);
  std::lock_guard lock(mu_);
  cached_ = connections_.size();
}

void MigrateClient::CloseIdle() {
  const auto now = Clock::now();
  std::vector<std::string> idle;
  for (const auto& [name, c] : connections_) {
    if (now - c.last_use > kIdleClose) idle.push_back(name);
  }
  for (const std::string& name : idle) Close(name);
}

MigrateClient::Outcome MigrateClient::Serve(const Request& r) {
  Outcome out;
  out.acked.assign(r.restores.size(), false);
  const std::string name = r.host + ":" + r.port;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool may_retry = attempt == 0;
    Connection* c = Connect(r, &out.error);
    if (c == nullptr) return out;
    c->last_use = Clock::now();
    const bool select = c->db != r.db;
    std::string bytes = r.auth;
    if (select) bytes += SelectCommand(r.db);
    for (const std::string& restore : r.restores) bytes += restore;
    // One reply line, read with the timeout; false on a socket error or timeout.
    auto read_line = [&](std::string* line) {
      const auto deadline = Clock::now() + r.timeout;
      for (;;) {
        if (const size_t eol = c->pending.find("\r\n"); eol != std::string::npos) {
          line->assign(c->pending, 0, eol);
          c->pending.erase(0, eol + 2);
          return !line->empty();
        }
        if (c->pending.size() > kMaxLine) return false;
        char buf[4096];
        const ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
          c->pending.append(buf, static_cast<size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          return false;
        } else if (!WaitFor(c->fd, POLLIN, deadline)) {
          return false;
        }
      }
    };
    // A failure before any RESTORE was answered: tried again on a new connection, unless
    // it timed out (as Redis does), then reported.
    auto failed = [&](bool writing) {
      const bool timed_out = errno == ETIMEDOUT;
      Close(name);
      out.error = std::string("IOERR error or timeout ") + (writing ? "writing" : "reading") +
                  " to target instance";
      return may_retry && !timed_out;
    };
    if (!WriteAll(c->fd, bytes, r.timeout)) {
      if (failed(true)) continue;
      return out;
    }
    std::string auth_reply, select_reply, reply;
    if ((!r.auth.empty() && !read_line(&auth_reply)) || (select && !read_line(&select_reply))) {
      if (failed(false)) continue;
      return out;
    }
    bool target_error = false;
    size_t j = 0;
    for (; j < r.restores.size(); ++j) {
      if (!read_line(&reply)) break;
      const std::string* refusal = auth_reply.starts_with('-')     ? &auth_reply
                                   : select_reply.starts_with('-') ? &select_reply
                                   : reply.starts_with('-')        ? &reply
                                                                   : nullptr;
      if (refusal == nullptr) {
        out.acked[j] = true;
      } else if (!target_error) {
        target_error = true;
        c->db = -1;
        out.error = "ERR Target instance replied with error: " + refusal->substr(1);
      }
    }
    if (j < r.restores.size()) {  // a socket error or timeout
      if (target_error) {
        Close(name);
        return out;
      }
      if (failed(false) && j == 0) continue;
      return out;
    }
    if (!target_error) {
      c->db = r.db;
      out.error.clear();
    }
    return out;
  }
  return out;
}

}  // namespace devstate::resp
