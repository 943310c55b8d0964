// The RESP server's own event loop and its plain-TCP transport, on real loopback sockets:
// turn order, timers, busy polling, registrations removed mid-turn, teardown, and the
// edge-triggered reads and writes (a read that fills the buffer must not wait for another edge; a
// write larger than the socket buffer must resume when the peer reads).
#include "api/event_loop.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "api/resp/transport.h"

namespace devstate::api {
namespace {

using namespace std::chrono_literals;

// A connected pair of non-blocking loopback TCP sockets: {server side, client side}.
std::pair<int, int> TcpPair() {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(listener, 1), 0);
  EXPECT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  EXPECT_GE(server, 0);
  ::close(listener);
  return {server, client};
}

void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
  }
}

// A loop running on its own thread; Run executes a function on it and waits for it.
class LoopThread {
 public:
  LoopThread() {
    EXPECT_TRUE(loop.Init().ok());
    thread_ = std::thread([this] { loop.Run(); });
  }
  ~LoopThread() { Join(); }
  void Join() {
    if (!thread_.joinable()) return;
    loop.Stop();
    thread_.join();
  }
  template <typename F>
  auto Run(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    loop.Post([&task] { task(); });
    return result.get();
  }

  EventLoop loop;

 private:
  std::thread thread_;
};

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoop) {
  LoopThread t;
  const std::thread::id id = t.Run([] { return std::this_thread::get_id(); });
  EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_TRUE(t.Run([&] { return t.loop.InLoopThread(); }));
  EXPECT_FALSE(t.loop.InLoopThread());
}

TEST(EventLoopTest, TurnEndRunsAfterTheTurnAndAgainWhenItQueuesWork) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  std::vector<std::string> order;
  int ends = 0;
  loop.SetTurnEnd([&] {
    order.push_back("end");
    // Like a commit answering its writes: the replies it queues go out in this turn,
    // then the turn ends again (they may have let more writes run).
    if (++ends == 1) loop.Defer([&] { order.push_back("reply"); });
    if (ends == 2) loop.Stop();
  });
  loop.Post([&] { order.push_back("task"); });
  loop.Run();
  EXPECT_EQ(order, (std::vector<std::string>{"task", "end", "reply", "end"}));
}

TEST(EventLoopTest, TimersFireInOrderAndCancelledOnesDoNot) {
  LoopThread t;
  std::promise<void> done;
  std::vector<int> fired;
  t.Run([&] {
    t.loop.RunAfter(30ms, [&] {
      fired.push_back(3);
      done.set_value();
    });
    t.loop.RunAfter(10ms, [&] { fired.push_back(1); });
    const EventLoop::TimerId cancelled = t.loop.RunAfter(5ms, [&] { fired.push_back(0); });
    t.loop.RunAfter(20ms, [&] { fired.push_back(2); });
    t.loop.Cancel(cancelled);
    return 0;
  });
  done.get_future().wait();
  t.Join();
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
}

// Records the events it hears, and can remove another registration when it does.
class Recorder : public EventLoop::Watcher {
 public:
  void OnEvents(uint32_t events) override {
    ++calls;
    if (loop != nullptr && other != nullptr) loop->Remove(*other);
    if (stop) loop->Stop();
  }
  void Abandon() override { ++abandoned; }
  EventLoop* loop = nullptr;
  EventLoop::Watch** other = nullptr;
  bool stop = false;
  int calls = 0;
  int abandoned = 0;
};

TEST(EventLoopTest, ARegistrationRemovedMidTurnHearsNothingMore) {
  Recorder ra, rb;  // outlive the loop, which abandons the registration left
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  auto [a, a_peer] = TcpPair();
  auto [b, b_peer] = TcpPair();
  EventLoop::Watch* wa = loop.Add(a, &ra);
  EventLoop::Watch* wb = loop.Add(b, &rb);
  ASSERT_NE(wa, nullptr);
  ASSERT_NE(wb, nullptr);
  // Both are ready in the first turn (writable at once); whichever hears first removes
  // the other, whose event was collected in the same epoll_wait.
  ra.loop = rb.loop = &loop;
  ra.other = &wb;
  rb.other = &wa;
  ra.stop = rb.stop = true;
  loop.Run();
  EXPECT_EQ(ra.calls + rb.calls, 1);
  ::close(a), ::close(a_peer), ::close(b), ::close(b_peer);
}

TEST(EventLoopTest, DestroyingTheLoopAbandonsItsWatchersAndDropsItsWork) {
  auto [fd, peer] = TcpPair();
  Recorder r;
  auto held = std::make_shared<int>(0);
  {
    EventLoop loop;
    ASSERT_TRUE(loop.Init().ok());
    ASSERT_NE(loop.Add(fd, &r), nullptr);
    loop.Post([held] {});
    loop.RunAfter(1h, [held] {});
    EXPECT_EQ(held.use_count(), 3);
  }
  EXPECT_EQ(r.abandoned, 1);
  EXPECT_EQ(held.use_count(), 1);
  ::close(fd), ::close(peer);
}

// A thread of this process, from /proc: how often it has slept, and whether it sleeps now.
long VoluntarySwitches(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
      return std::stol(line.substr(line.find(':') + 1));
  }
  return -1;
}

char State(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = all.rfind(')');  // the name may hold spaces; the state follows it
  return paren == std::string::npos || paren + 2 >= all.size() ? '?' : all[paren + 2];
}

// Counts the bytes a socket receives, on the loop.
class ByteCounter : public EventLoop::Watcher {
 public:
  explicit ByteCounter(int fd) : fd_(fd) {}
  void OnEvents(uint32_t events) override {
    if ((events & EPOLLIN) == 0) return;
    char buf[64];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof buf, 0)) > 0) bytes += n;
  }
  void Abandon() override {}
  std::atomic<long> bytes{0};

 private:
  const int fd_;
};

// A loop on its own thread, polling `busy_poll` after a turn, watching one end of a
// loopback connection; the test writes to the other.
class PollingLoop {
 public:
  explicit PollingLoop(std::chrono::microseconds busy_poll) {
    std::tie(fd_, peer_) = TcpPair();
    counter_ = std::make_unique<ByteCounter>(fd_);
    t_ = std::make_unique<LoopThread>();
    t_->loop.SetBusyPoll(busy_poll);
    tid_ = t_->Run([this] {
      EXPECT_NE(t_->loop.Add(fd_, counter_.get()), nullptr);
      return ::gettid();
    });
  }
  ~PollingLoop() {
    t_.reset();  // before the watcher it abandons
    ::close(fd_), ::close(peer_);
  }
  // Sends a byte and waits until the loop has read it.
  void Send() {
    const long want = counter_->bytes.load() + 1;
    SendAll(peer_, "x");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (counter_->bytes.load() < want && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    ASSERT_EQ(counter_->bytes.load(), want);
  }
  // How often the loop's thread slept between two events `gap` apart.
  long SleepsAcrossAGap(std::chrono::microseconds gap) {
    Send();
    const long before = VoluntarySwitches(tid_);
    std::this_thread::sleep_for(gap);  // the gap between two requests, not a wait for anything
    Send();
    return VoluntarySwitches(tid_) - before;
  }
  // Waits until the loop's thread sleeps; false if it has not within `limit`.
  bool SleepsWithin(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (State(tid_) != 'S' && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    return State(tid_) == 'S';
  }
  pid_t tid() const { return tid_; }

 private:
  int fd_ = -1, peer_ = -1;
  std::unique_ptr<ByteCounter> counter_;
  std::unique_ptr<LoopThread> t_;
  pid_t tid_ = 0;
};

TEST(EventLoopTest, BusyPollingTakesTheNextEventWithoutSleepingThenSleeps) {
  {
    PollingLoop loop(0us);  // without it the loop sleeps between two events
    EXPECT_GE(loop.SleepsAcrossAGap(200us), 1);
  }
  // With it the loop is still polling when the second event comes. Polling gives way to
  // any other thread that wants the CPU, so while other work keeps the machine's CPUs busy
  // (tests run in parallel) every attempt may sleep: one within 10 s must not.
  PollingLoop loop(500ms);
  long fewest = 1 << 20;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (fewest > 0 && std::chrono::steady_clock::now() < deadline) {
    fewest = std::min(fewest, loop.SleepsAcrossAGap(200us));
  }
  EXPECT_EQ(fewest, 0);
  EXPECT_TRUE(loop.SleepsWithin(10s));  // an idle loop sleeps once the poll time has passed
}

TEST(EventLoopTest, BusyPollingGivesWayToAThreadThatWantsTheCpu) {
  PollingLoop loop(60s);
  // Pin the loop and a thread that never blocks to one CPU: the loop's first sched_yield
  // lets that thread run, and the loop stops polling and sleeps (not after 60 s).
  cpu_set_t mask;
  ASSERT_EQ(::sched_getaffinity(0, sizeof mask, &mask), 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &mask)) ++cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ASSERT_EQ(::sched_setaffinity(loop.tid(), sizeof one, &one), 0);
  std::atomic<bool> done{false};
  std::thread hog([&] {
    ::sched_setaffinity(0, sizeof one, &one);
    while (!done.load(std::memory_order_relaxed)) {
    }
  });
  loop.Send();
  EXPECT_TRUE(loop.SleepsWithin(10s));
  done = true;
  hog.join();
}

// ---- the plain-TCP transport on the loop ----

class LoopTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto fds = TcpPair();
    const int server = fds.first;
    peer_ = fds.second;
    io_ = t_.Run([&] { return resp::NewLoopTransport(&t_.loop, server); });
    ASSERT_NE(io_, nullptr);
  }
  void TearDown() override {
    t_.Run([&] {
      io_.reset();
      return 0;
    });
    if (peer_ >= 0) ::close(peer_);
  }

  // Reads once on the loop; waits for the handler. {ok, bytes}.
  std::pair<bool, std::string> ReadOnce(size_t size) {
    std::string buffer(size, '\0');
    std::promise<std::pair<bool, size_t>> result;
    t_.Run([&] {
      io_->ReadSome(buffer.data(), buffer.size(), [&](bool ok, size_t n) {
        result.set_value({ok, n});
      });
      return 0;
    });
    auto [ok, n] = result.get_future().get();
    buffer.resize(n);
    return {ok, buffer};
  }

  LoopThread t_;
  std::unique_ptr<resp::Transport> io_;
  int peer_ = -1;
};

TEST_F(LoopTransportTest, AHandlerNeverRunsInsideTheCallThatStartedIt) {
  // The data is queued before the task below is posted, so the loop has heard its edge
  // when the task runs: the read finds it at once, and must still answer later.
  SendAll(peer_, "ping");
  std::string buffer(16, '\0');
  std::promise<size_t> done;
  const bool inline_ran = t_.Run([&] {
    bool ran = false;
    io_->ReadSome(buffer.data(), buffer.size(), [&](bool ok, size_t n) {
      ran = true;
      done.set_value(n);
    });
    return ran;
  });
  EXPECT_FALSE(inline_ran);
  EXPECT_EQ(done.get_future().get(), 4u);
  EXPECT_EQ(buffer.substr(0, 4), "ping");
}

TEST_F(LoopTransportTest, AReadThatFillsTheBufferDoesNotWaitForAnotherEdge) {
  // 100 KB in one go: 16 KB reads must each find the rest without a new EPOLLIN (none
  // comes under edge-triggering until more data arrives).
  std::string sent(100 * 1024, '\0');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + i % 26);
  SendAll(peer_, sent);
  std::string received;
  while (received.size() < sent.size()) {
    auto [ok, bytes] = ReadOnce(16 * 1024);
    ASSERT_TRUE(ok);
    received += bytes;
  }
  EXPECT_EQ(received, sent);
}

TEST_F(LoopTransportTest, AConnectionReadsOncePerTurn) {
  // 64 KB waiting, read 4 KB at a time, each read started from the last one's handler:
  // every read must wait for a turn of its own, or a client that keeps its socket full
  // would hold the loop (every other connection, and the turn's commit) until it stops.
  const std::string sent(64 * 1024, 'x');
  SendAll(peer_, sent);
  int turns = 0;
  int reads = 0;
  size_t received = 0;
  std::string buffer(4096, '\0');
  std::promise<void> done;
  std::function<void()> read_more = [&] {
    io_->ReadSome(buffer.data(), buffer.size(), [&](bool ok, size_t n) {
      ++reads;
      received += n;
      if (!ok || received >= sent.size()) return done.set_value();
      read_more();
    });
  };
  t_.Run([&] {
    t_.loop.SetTurnEnd([&] { ++turns; });
    read_more();
    return 0;
  });
  done.get_future().wait();
  const int turns_seen = t_.Run([&] {
    t_.loop.SetTurnEnd(nullptr);
    return turns;
  });
  EXPECT_EQ(received, sent.size());
  EXPECT_EQ(reads, 16);
  EXPECT_GE(turns_seen, reads);
}

TEST_F(LoopTransportTest, EndOfStreamAndCloseFailTheRead) {
  SendAll(peer_, "last");
  ::shutdown(peer_, SHUT_WR);
  auto [ok, bytes] = ReadOnce(64);
  EXPECT_TRUE(ok);
  EXPECT_EQ(bytes, "last");
  EXPECT_FALSE(ReadOnce(64).first);

  // A read still waiting when the connection is closed completes, failed.
  const auto fds = TcpPair();
  const int server = fds.first, client = fds.second;
  std::promise<bool> result;
  std::string buffer(16, '\0');
  t_.Run([&] {
    io_ = resp::NewLoopTransport(&t_.loop, server);
    io_->ReadSome(buffer.data(), buffer.size(), [&](bool ok, size_t) { result.set_value(ok); });
    io_->Close();
    return 0;
  });
  EXPECT_FALSE(result.get_future().get());
  ::close(client);
}

TEST_F(LoopTransportTest, AWriteLargerThanTheSocketBufferFinishesAsThePeerReads) {
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 % 251);
  std::promise<std::pair<bool, size_t>> result;
  t_.Run([&] {
    io_->Write(data.data(), data.size(), [&](bool ok, size_t n) { result.set_value({ok, n}); });
    return 0;
  });
  auto written = result.get_future();
  // Nothing read yet: the kernel cannot hold 8 MiB, so the write must be waiting.
  EXPECT_EQ(written.wait_for(50ms), std::future_status::timeout);
  std::string received;
  std::vector<char> chunk(1 << 16);
  while (received.size() < data.size()) {
    const ssize_t n = ::recv(peer_, chunk.data(), chunk.size(), 0);
    ASSERT_GT(n, 0);
    received.append(chunk.data(), static_cast<size_t>(n));
  }
  auto [ok, n] = written.get();
  EXPECT_TRUE(ok);
  EXPECT_EQ(n, data.size());
  EXPECT_TRUE(received == data);
}

TEST_F(LoopTransportTest, TimersRunOnTheLoopAndCancelStopsThem) {
  std::promise<std::thread::id> fired;
  bool cancelled_fired = false;
  auto timers = t_.Run([&] {
    auto a = io_->NewTimer();
    auto b = io_->NewTimer();
    a->Start(5ms, [&] { fired.set_value(std::this_thread::get_id()); });
    b->Start(1ms, [&] { cancelled_fired = true; });
    b->Cancel();
    return std::make_pair(std::move(a), std::move(b));
  });
  EXPECT_NE(fired.get_future().get(), std::this_thread::get_id());
  t_.Run([&] {
    timers.first.reset();
    timers.second.reset();
    return 0;
  });
  EXPECT_FALSE(cancelled_fired);
}

}  // namespace
}  // namespace devstate::api
