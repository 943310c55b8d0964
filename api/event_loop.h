// EventLoop: one thread's epoll loop, run the way Redis's ae runs. Each socket is
// registered once, edge-triggered for both directions, and a turn is one epoll_wait: the
// handlers of every ready socket run, then the work deferred or posted to the loop, then
// the timers that are due, then the turn's end hook (the RESP server commits the turn's
// writes there), and the loop waits again.
//
// Busy polling (SetBusyPoll): after a turn that had events, the loop polls for more for a
// while before it sleeps. A request that arrives while the loop sleeps pays for waking it,
// and the sender's CPU pays most of that (the kernel queues the wake-up there); on a
// loaded client that shows in GET/s at -c 50 -P 1 (docs/BENCHMARKS.md). Helio, Dragonfly's I/O
// layer, spins before its epoll_wait for the same reason. The price is CPU: up to the whole thread
// while requests come less than the poll time apart; an idle loop polls once, after its last turn,
// then sleeps. Polling yields the CPU between polls and stops once another thread has taken it, so
// a client or a RocksDB flush on the same CPU is not kept waiting (docs/BENCHMARKS.md, "Figures
// moved out of the code").
//
// Why not Asio for this: Asio re-arms a socket's read interest with an epoll_ctl before
// every wait (or, with async_read_some, tries a recv that finds nothing), so a request
// costs three system calls where Redis needs two, recv and send; on a VM where each system
// call pays for an interrupt re-enable that third call is a tenth of the server's CPU per
// SET (docs/BENCHMARKS.md). Asio still serves HTTP, TLS and MQTT.
//
// Everything but Post and Stop must be called on the loop's thread (or before Run).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/status.h"

struct epoll_event;

namespace devstate::api {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::function<void()>;

  // Told of a registered socket's readiness: epoll event bits (EPOLLIN, EPOLLOUT, ...).
  class Watcher {
   public:
    virtual ~Watcher() = default;
    virtual void OnEvents(uint32_t events) = 0;
    // The loop is going away with the socket still registered: drop every handler held
    // (without running it), so nothing they own is kept alive.
    virtual void Abandon() = 0;
  };
  struct Watch;  // a registration; opaque to callers

  // A timer's identity, for Cancel.
  using TimerId = std::pair<Clock::time_point, uint64_t>;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Status Init();  // creates the epoll and the wake-up eventfd

  // Runs turns until Stop. Sets the loop's thread.
  void Run();
  // Thread-safe: Run returns after the current turn.
  void Stop();

  // Thread-safe: runs `task` on the loop's thread, in this turn when called from it.
  void Post(Task task);
  // On the loop's thread: runs `task` after the current handler, still in this turn. Used
  // to complete an operation that finished at once without running its handler inline.
  void Defer(Task task);
  bool InLoopThread() const { return std::this_thread::get_id() == thread_; }

  // Registers `fd` (non-blocking) for EPOLLIN | EPOLLOUT | EPOLLRDHUP, edge-triggered:
  // `watcher` hears of each change until Remove. Returns null and sets errno on failure.
  Watch* Add(int fd, Watcher* watcher);
  // Stops telling the watcher (call it before closing the fd). The registration is freed
  // at the end of the turn, so an event already collected for it is dropped.
  void Remove(Watch* watch);
  // Tells the watcher EPOLLIN again at the start of the next turn, as if an edge had come:
  // for a socket that still has data, so one connection's stream cannot hold a turn (and
  // the other connections, and the turn's commit) for as long as it keeps sending.
  void NextTurn(Watch* watch);

  TimerId RunAfter(std::chrono::milliseconds delay, Task task);
  void Cancel(const TimerId& id);

  // Runs at the end of every turn, before the loop waits.
  void SetTurnEnd(Task hook) { turn_end_ = std::move(hook); }

  // Thread-safe: after a turn that had events, poll up to this long for more before
  // sleeping (0, the default: never poll). Takes effect from the next turn.
  void SetBusyPoll(std::chrono::microseconds poll) {
    busy_poll_us_.store(poll.count(), std::memory_order_relaxed);
  }

 private:
  static constexpr int kMaxEvents = 256;

  bool RunTasks();  // false if there was nothing to run
  // Replaces *batch with the deferred tasks, then those posted from other threads.
  void TakeTasks(std::vector<Task>* batch);
  void RunTimers();
  int WaitMs() const;  // epoll_wait's timeout: 0 with work ready, else until the next timer
  // One turn's epoll_wait into `events` (kMaxEvents): first polling, after a turn that
  // had events, for up to the busy-poll time.
  int Wait(epoll_event* events, bool had_events);
  void Wake();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Post from another thread, Stop
  std::thread::id thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> busy_poll_us_{0};
  std::unordered_set<Watch*> watches_;
  std::vector<Watch*> retired_;    // removed this turn, freed at its end
  std::vector<Watch*> next_turn_;  // told EPOLLIN at the start of the next turn
  std::vector<Task> tasks_;        // deferred, or posted from this thread
  std::mutex posted_mu_;
  std::vector<Task> posted_;  // from other threads; guarded by posted_mu_
  std::map<TimerId, Task> timers_;
  uint64_t next_timer_ = 0;
  Task turn_end_;
};

}  // namespace devstate::api
