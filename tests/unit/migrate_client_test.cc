// MigrateClient (api/resp/migrate_client.h) against a scripted target on a loopback port:
// what it sends, what each reply makes of the outcome, the cached connection and its
// retry, the timeout.
#include "api/resp/migrate_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

namespace devstate::resp {
namespace {

std::string Command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// A target that accepts connections one at a time and, for each, reads whole commands and
// answers each with what `reply` says (empty: no answer); `reply` also decides whether the
// connection is closed after a command.
class Target {
 public:
  using Reply = std::function<std::string(const std::vector<std::string>& command, bool* close)>;

  explicit Target(Reply reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Target() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string port() const { return std::to_string(port_); }
  int connections() const { return connections_.load(); }
  std::vector<std::string> names() {  // every command's name received, in order
    std::lock_guard lock(mu_);
    return names_;
  }

 private:
  void Serve() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string in;
      bool close = false;
      while (!close) {
        std::vector<std::string> command;
        if (!ReadCommand(c, &in, &command)) break;
        {
          std::lock_guard lock(mu_);
          names_.push_back(command[0]);
        }
        const std::string out = reply_(command, &close);
        if (!out.empty()) ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  static bool ReadCommand(int c, std::string* in, std::vector<std::string>* out) {
    auto fill = [&] {
      char buf[4096];
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in->append(buf, static_cast<size_t>(n));
      return true;
    };
    auto line = [&](std::string* l) {
      size_t eol;
      while ((eol = in->find("\r\n")) == std::string::npos) {
        if (!fill()) return false;
      }
      *l = in->substr(0, eol);
      in->erase(0, eol + 2);
      return true;
    };
    std::string head;
    if (!line(&head) || head.empty() || head[0] != '*') return false;
    for (int i = std::stoi(head.substr(1)); i > 0; --i) {
      if (!line(&head)) return false;
      const size_t n = std::stoul(head.substr(1));
      while (in->size() < n + 2) {
        if (!fill()) return false;
      }
      out->push_back(in->substr(0, n));
      in->erase(0, n + 2);
    }
    return true;
  }

  Reply reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::string> names_;
  std::thread thread_;
};

MigrateClient::Outcome Send(MigrateClient& client, MigrateClient::Request request) {
  std::promise<MigrateClient::Outcome> done;
  client.Send(std::move(request), [&](MigrateClient::Outcome o) { done.set_value(std::move(o)); });
  return done.get_future().get();
}

MigrateClient::Request Restores(const std::string& port, std::vector<std::string> keys,
                                int64_t timeout_ms = 2000) {
  MigrateClient::Request r{"127.0.0.1", port, std::chrono::milliseconds(timeout_ms), {}, 0, {}};
  for (const std::string& k : keys) r.restores.push_back(Command({"RESTORE-ASKING", k, "0", "x"}));
  return r;
}

TEST(MigrateClientTest, SendsSelectOnceAndKeepsTheConnection) {
  Target target([](const std::vector<std::string>&, bool*) { return std::string("+OK\r\n"); });
  MigrateClient client;
  MigrateClient::Outcome o = Send(client, Restores(target.port(), {"a", "b"}));
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.acked, (std::vector<bool>{true, true}));
  EXPECT_EQ(client.cached(), 1u);
  // The same database again: no SELECT, the same connection.
  o = Send(client, Restores(target.port(), {"c"}));
  EXPECT_EQ(o.acked, (std::vector<bool>{true}));
  EXPECT_EQ(target.connections(), 1);
  EXPECT_EQ(target.names(), (std::vector<std::string>{"SELECT", "RESTORE-ASKING", "RESTORE-ASKING",
                                                      "RESTORE-ASKING"}));
}

TEST(MigrateClientTest, TheFirstRefusalIsTheErrorAndTheOthersStillCount) {
  Target target([](const std::vector<std::string>& c, bool*) {
    return std::string(c.size() > 1 && c[1] == "busy"
                           ? "-BUSYKEY Target key name already exists.\r\n"
                           : "+OK\r\n");
  });
  MigrateClient client;
  MigrateClient::Request r = Restores(target.port(), {"a", "busy", "c"});
  r.auth = Command({"AUTH", "pw"});
  const MigrateClient::Outcome o = Send(client, std::move(r));
  EXPECT_EQ(o.acked, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(o.error,
            "ERR Target instance replied with error: BUSYKEY Target key name already exists.");
  EXPECT_EQ(target.names().front(), "AUTH");
}

TEST(MigrateClientTest, AClosedCachedConnectionIsReplacedOnce) {
  // Each connection answers one command pair (SELECT, RESTORE) and is closed after it.
  Target target([](const std::vector<std::string>& c, bool* close) {
    *close = c[0] == "RESTORE-ASKING";
    return std::string("+OK\r\n");
  });
  MigrateClient client;
  EXPECT_EQ(Send(client, Restores(target.port(), {"a"})).error, "");
  // The cached connection is closed by now: the request is written, fails at the first
  // read, and is sent again on a new connection (with SELECT again).
  const MigrateClient::Outcome o = Send(client, Restores(target.port(), {"b"}));
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.acked, (std::vector<bool>{true}));
  EXPECT_EQ(target.connections(), 2);
}

TEST(MigrateClientTest, ASilentTargetTimesOutAndARefusedOneFailsAtTheWrite) {
  Target silent([](const std::vector<std::string>&, bool*) { return std::string(); });
  MigrateClient client;
  const auto start = std::chrono::steady_clock::now();
  MigrateClient::Outcome o = Send(client, Restores(silent.port(), {"a"}, 200));
  EXPECT_EQ(o.error, "IOERR error or timeout reading to target instance");
  EXPECT_EQ(o.acked, (std::vector<bool>{false}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "one timeout, no retry";
  EXPECT_EQ(client.cached(), 0u) << "a connection that failed is not kept";
  // A port nobody listens on: Redis's connect only waits to be writable, so the refusal
  // shows at the write, retried once.
  std::string closed_port;
  {
    Target gone([](const std::vector<std::string>&, bool*) { return std::string(); });
    closed_port = gone.port();
  }
  o = Send(client, Restores(closed_port, {"a"}, 200));
  EXPECT_EQ(o.error, "IOERR error or timeout writing to target instance");
  // A port that is no port: nothing to connect to.
  o = Send(client, Restores("not-a-port", {"a"}, 200));
  EXPECT_EQ(o.error, "IOERR error or timeout connecting to the client");
}

}  // namespace
}  // namespace devstate::resp
