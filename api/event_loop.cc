#include "api/event_loop.h"

#include <fmt/format.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace devstate::api {

struct EventLoop::Watch {
  int fd;
  Watcher* watcher;  // null once removed
};

EventLoop::~EventLoop() {
  // Queued tasks, timers and the handlers registered sockets hold may own what uses this
  // loop (a session owns its socket's registration and timers); drop them while the
  // loop's members are still whole, until nothing is left.
  std::vector<Task> tasks;
  for (;;) {
    TakeTasks(&tasks);
    std::map<TimerId, Task> timers;
    timers.swap(timers_);
    if (tasks.empty() && timers.empty() && watches_.empty()) break;
    tasks.clear();
    timers.clear();
    while (!watches_.empty()) {
      Watch* watch = *watches_.begin();
      watches_.erase(watches_.begin());
      retired_.push_back(watch);
      Watcher* watcher = std::exchange(watch->watcher, nullptr);
      if (watcher != nullptr) watcher->Abandon();
    }
  }
  for (Watch* watch : retired_) delete watch;
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status EventLoop::Init() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Status::IOError(fmt::format("epoll_create1: {}", std::strerror(errno)));
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Status::IOError(fmt::format("eventfd: {}", std::strerror(errno)));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // the wake-up eventfd is the one registration without a Watch
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    return Status::IOError(fmt::format("epoll_ctl: {}", std::strerror(errno)));
  }
  return Status::OK();
}

void EventLoop::Run() {
  thread_ = std::this_thread::get_id();
  epoll_event events[kMaxEvents];
  int n = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    n = Wait(events, n > 0);
    if (n < 0 && errno != EINTR) {
      spdlog::error("event loop: epoll_wait: {}", std::strerror(errno));
      break;
    }
    if (!next_turn_.empty()) {
      std::vector<Watch*> again;
      again.swap(next_turn_);
      for (Watch* watch : again) {
        if (watch->watcher != nullptr) watch->watcher->OnEvents(EPOLLIN);
      }
    }
    for (int i = 0; i < n; ++i) {
      auto* watch = static_cast<Watch*>(events[i].data.ptr);
      if (watch == nullptr) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
        continue;
      }
      if (watch->watcher != nullptr) watch->watcher->OnEvents(events[i].events);
    }
    RunTasks();
    if (!timers_.empty()) {
      RunTimers();
      RunTasks();
    }
    // The turn's end (the RESP server commits the writes the turn queued) may answer
    // commands, which queues their replies here: send them before waiting, and commit
    // again if that ran commands that were waiting for them.
    do {
      if (turn_end_) turn_end_();
    } while (RunTasks());
    for (Watch* watch : retired_) delete watch;
    retired_.clear();
  }
}

void EventLoop::Stop() {
  stop_.store(true, std::memory_order_release);
  Wake();
}

void EventLoop::Post(Task task) {
  if (InLoopThread()) {
    tasks_.push_back(std::move(task));
    return;
  }
  bool was_empty;
  {
    std::lock_guard lock(posted_mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(task));
  }
  // The loop swaps posted_ out only after it has read the eventfd, so one write per
  // batch is enough.
  if (was_empty) Wake();
}

void EventLoop::Defer(Task task) { tasks_.push_back(std::move(task)); }

void EventLoop::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::TakeTasks(std::vector<Task>* batch) {
  batch->clear();
  batch->swap(tasks_);
  std::lock_guard lock(posted_mu_);
  batch->insert(batch->end(), std::make_move_iterator(posted_.begin()),
                std::make_move_iterator(posted_.end()));
  posted_.clear();
}

bool EventLoop::RunTasks() {
  std::vector<Task> batch;
  for (bool ran = false;; ran = true) {
    TakeTasks(&batch);
    if (batch.empty()) return ran;
    for (Task& task : batch) task();
  }
}

void EventLoop::RunTimers() {
  const Clock::time_point now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    Task task = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    task();
  }
}

int EventLoop::WaitMs() const {
  if (!tasks_.empty() || !next_turn_.empty()) return 0;
  if (timers_.empty()) return -1;
  const auto until = timers_.begin()->first.first - Clock::now();
  if (until <= Clock::duration::zero()) return 0;
  // Rounded up: waking a little early would only spin until the timer is due.
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(until).count());
}

// Polls between sched_yields, so a thread that wants this CPU (a client on the same
// machine, RocksDB's flush) gets it; once one has run, polling stops.
int EventLoop::Wait(epoll_event* events, bool had_events) {
  const int64_t poll_us = busy_poll_us_.load(std::memory_order_relaxed);
  if (had_events && poll_us > 0 && WaitMs() != 0) {
    constexpr auto kYielded = std::chrono::microseconds(20);  // a poll takes ~1 us
    Clock::time_point now = Clock::now();
    const Clock::time_point until = now + std::chrono::microseconds(poll_us);
    for (;;) {
      const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, 0);
      if (n != 0) return n;
      ::sched_yield();
      const Clock::time_point before = std::exchange(now, Clock::now());
      if (now >= until || now - before > kYielded) break;
    }
  }
  return ::epoll_wait(epoll_fd_, events, kMaxEvents, WaitMs());
}

EventLoop::Watch* EventLoop::Add(int fd, Watcher* watcher) {
  auto* watch = new Watch{fd, watcher};
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.ptr = watch;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    const int error = errno;
    delete watch;
    errno = error;
    return nullptr;
  }
  watches_.insert(watch);
  return watch;
}

void EventLoop::Remove(Watch* watch) {
  if (watch == nullptr || watches_.erase(watch) == 0) return;  // already removed (loop teardown)
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, watch->fd, nullptr);
  watch->watcher = nullptr;
  retired_.push_back(watch);
  std::erase(next_turn_, watch);
}

void EventLoop::NextTurn(Watch* watch) {
  if (watch != nullptr &&
      std::find(next_turn_.begin(), next_turn_.end(), watch) == next_turn_.end()) {
    next_turn_.push_back(watch);
  }
}

EventLoop::TimerId EventLoop::RunAfter(std::chrono::milliseconds delay, Task task) {
  const TimerId id{Clock::now() + delay, next_timer_++};
  timers_.emplace(id, std::move(task));
  return id;
}

void EventLoop::Cancel(const TimerId& id) { timers_.erase(id); }

}  // namespace devstate::api
