// The RESP server's event loop against a service whose commits the test controls: writes
// queued in a turn are committed at the turn's end, and a commit that answers after the
// server stopped leaves nothing alive behind.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/options.h"
#include "api/resp/server.h"
#include "tests/unit/fake_service.h"

namespace devstate::resp {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Holds the RESP server's queued writes; CommitQueued answers them when commit_at_turn_end.
class HeldWrites : public testing::FakeService {
 public:
  void QueueWrite(std::vector<Mutation> mutations, CommitCallback done) override {
    std::lock_guard lock(mu);
    mutations_held += mutations.size();
    held.push_back(std::move(done));
  }
  void CommitQueued() override {
    std::vector<CommitCallback> batch;
    {
      std::lock_guard lock(mu);
      if (!commit_at_turn_end || held.empty()) return;
      batch.swap(held);
      ++groups;
    }
    for (CommitCallback& done : batch) done(Status::OK(), 1);
  }
  size_t Held() {
    std::lock_guard lock(mu);
    return held.size();
  }

  std::mutex mu;
  std::vector<CommitCallback> held;  // guarded by mu
  size_t mutations_held = 0;         // guarded by mu
  int groups = 0;                    // guarded by mu
  bool commit_at_turn_end = true;
};

class RespServerTest : public ::testing::Test {
 protected:
  void Start(int threads = 1) {
    ServerOptions options = api::RespServerOptions(Config{});
    options.port = 0;
    options.threads = threads;
    server_ = std::make_unique<Server>(&service_, options);
    ASSERT_TRUE(server_->Start().ok());
    client_.connect(tcp::endpoint(net::ip::address_v4::loopback(), server_->port()));
    timeval timeout{10, 0};  // a missing reply fails the test instead of hanging it
    setsockopt(client_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  void Send(const std::string& bytes) { net::write(client_, net::buffer(bytes)); }
  std::string Receive(size_t n) {
    std::string out(n, '\0');
    boost::system::error_code ec;
    out.resize(net::read(client_, net::buffer(out), ec));
    return out;
  }

  HeldWrites service_;
  std::unique_ptr<Server> server_;
  net::io_context io_;
  tcp::socket client_{io_};
};

TEST_F(RespServerTest, WritesQueuedInATurnAreCommittedAtItsEnd) {
  Start();
  // Three pipelined SETs in one packet: one queued store write, committed by the loop
  // once the turn has run them, and answered in order.
  const std::string set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
  Send(set + set + set);
  EXPECT_EQ(Receive(15), "+OK\r\n+OK\r\n+OK\r\n");
  std::lock_guard lock(service_.mu);
  EXPECT_EQ(service_.groups, 1);
  EXPECT_EQ(service_.mutations_held, 3u);
}

TEST_F(RespServerTest, ConnectionsAreServedOnEveryLoop) {
  // Two loops: connections alternate between them, the second loop's handed over by a
  // post from the first (which accepts). Each answers its own pipeline, in order.
  Start(2);
  std::vector<std::unique_ptr<tcp::socket>> clients;
  for (int i = 0; i < 6; ++i) {
    auto c = std::make_unique<tcp::socket>(io_);
    c->connect(tcp::endpoint(net::ip::address_v4::loopback(), server_->port()));
    timeval timeout{10, 0};
    setsockopt(c->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    clients.push_back(std::move(c));
  }
  const std::string set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
  const std::string ping = "*2\r\n$4\r\nPING\r\n$1\r\nx\r\n";
  for (auto& c : clients) net::write(*c, net::buffer(set + ping + set));
  for (auto& c : clients) {
    std::string out(17, '\0');
    boost::system::error_code ec;
    out.resize(net::read(*c, net::buffer(out), ec));
    EXPECT_EQ(out, "+OK\r\n$1\r\nx\r\n+OK\r\n");
  }
  std::lock_guard lock(service_.mu);
  EXPECT_EQ(service_.mutations_held, 12u);
}

TEST_F(RespServerTest, AConnectionRefusedForWantOfDescriptorsIsAcceptedLater) {
  Start();
  // One full round trip first, so every code path the loop takes in the window below has
  // run once: UBSan checks a type the first time it sees it, and that check needs a
  // descriptor of its own.
  Send("*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(Receive(7), "+PONG\r\n");
  tcp::socket late(io_);
  late.open(tcp::v4());
  // No descriptor left: the lowest free one becomes the limit, so the server's accept
  // fails with EMFILE while the kernel still completes the connection.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  late.connect(tcp::endpoint(net::ip::address_v4::loopback(), server_->port()));
  for (int i = 0; i < 10000 && server_->state().accept_errors.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_GT(server_->state().accept_errors.load(), 0u);
  // No other connection arrives to wake the listener: only the retry can accept it.
  net::write(late, net::buffer(std::string("*1\r\n$4\r\nPING\r\n")));
  pollfd readable{late.native_handle(), POLLIN, 0};
  ASSERT_EQ(poll(&readable, 1, 10000), 1) << "the connection was never accepted";
  char reply[7];
  EXPECT_EQ(recv(late.native_handle(), reply, sizeof reply, MSG_WAITALL), 7);
  EXPECT_EQ(std::string(reply, 7), "+PONG\r\n");
}

TEST_F(RespServerTest, ACommitAnsweringAfterStopFreesItsSession) {
  service_.commit_at_turn_end = false;
  Start();
  Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  for (int i = 0; i < 10000 && service_.Held() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(service_.Held(), 1u);
  EXPECT_EQ(service_.metrics().resp_connections.load(), 1);
  server_->Stop();
  {
    CommitCallback done = std::move(service_.held[0]);
    service_.held.clear();
    done(Status::OK(), 1);  // the commit answers after the loop stopped, then lets go
  }
  server_.reset();
  // The reply was never taken in; the session must still be gone (it and the server's
  // queue of sessions with replies once held each other).
  EXPECT_EQ(service_.metrics().resp_connections.load(), 0);
}

}  // namespace
}  // namespace devstate::resp
