// RunClosedLoop: the driver every closed-loop scenario shares. Checks the server is
// reachable, spreads `connections` over `threads` event loops (one io_context each),
// lets each connection run until the deadline, and merges the per-thread results.
//
// `Connection` is constructed as Connection(io_context&, const Options&, int id,
// Clock::time_point end, LoadResult* result) and started with Start(endpoint); results
// are per thread, so connections never share one. With options.progress the calling
// thread prints a progress line each second until every client thread is done.
#pragma once

#include <fmt/format.h>

// First and unsorted: boost 1.74's awaitable.hpp needs std::exchange and
// does not include <utility> itself.
// clang-format off
#include <utility>
// clang-format on
#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/load_result.h"
#include "loadgen/progress.h"

namespace devstate::loadgen {

template <typename Connection, typename Options>
LoadResult RunClosedLoop(const Options& options, std::string* error) {
  namespace net = boost::asio;
  using tcp = net::ip::tcp;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options.host, ec);
  if (ec) {
    *error = fmt::format("bad host '{}': {}", options.host, ec.message());
    return {};
  }
  const tcp::endpoint endpoint(address, options.port);
  {
    net::io_context probe;
    tcp::socket s(probe);
    s.connect(endpoint, ec);
    if (ec) {
      *error = fmt::format("cannot connect to {}:{}: {}", options.host, options.port, ec.message());
      return {};
    }
  }
  const int threads = std::max(1, options.threads);
  std::vector<LoadResult> results(threads);
  std::vector<LiveCounter> live(threads);
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.seconds));
  for (int t = 0; t < threads; ++t) {
    results[t].start = start;
    results[t].live = &live[t];
    workers.emplace_back([&, t] {
      net::io_context ioc(1);
      for (int c = t; c < options.connections; c += threads) {
        std::make_shared<Connection>(ioc, options, c, end, &results[t])->Start(endpoint);
      }
      ioc.run();
      std::lock_guard lock(mu);
      ++finished;
      cv.notify_one();
    });
  }
  {
    ProgressLine progress(options.progress, start, options.seconds);
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return finished == threads; })) {
      uint64_t done = 0, errors = 0;
      for (const LiveCounter& l : live) {
        done += l.done.load(std::memory_order_relaxed);
        errors += l.errors.load(std::memory_order_relaxed);
      }
      progress.Update(done, errors);
    }
    progress.Finish();
  }
  for (auto& w : workers) w.join();
  LoadResult total;
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (LoadResult& r : results) {
    r.live = nullptr;
    total.Merge(r);
  }
  return total;
}

}  // namespace devstate::loadgen
