// devstate-store-bench: durable writes through the commit pipeline, next to the physical
// floor (a raw write + fdatasync loop on the same disk), in one run.
//
//   devstate-store-bench --dir DIR [--writers 1,8,64,256] [--seconds 5] [--value-bytes 200]
//
// Each writer is a thread that submits one write and waits for its acknowledgement, then
// the next (a closed loop, like a client connection waiting for +OK). Prints a Markdown
// table: durable writes/s, latency percentiles, and mean writes per fsync (group size).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/histogram.h"
#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using devstate::loadgen::Histogram;

struct Result {
  std::string name;
  double ops_per_sec = 0;
  Histogram latency;  // nanoseconds
  double per_sync = 1;
};

uint64_t Nanos(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

Result RawFdatasync(const std::string& dir, double seconds, size_t bytes) {
  const std::string path = dir + "/raw-fdatasync";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  std::string buf(bytes, 'x');
  Result r;
  r.name = "raw write+fdatasync (floor)";
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  uint64_t n = 0;
  const auto start = Clock::now();
  for (auto now = start; now < end; ++n) {
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()) ||
        ::fdatasync(fd) != 0) {
      throw std::runtime_error("raw write failed");
    }
    const auto after = Clock::now();
    r.latency.Record(Nanos(after - now));
    now = after;
  }
  r.ops_per_sec = n / std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  std::filesystem::remove(path);
  return r;
}

Result Pipeline(devstate::Store* store, int writers, double seconds, size_t bytes) {
  std::atomic<bool> stop{false};
  std::vector<Histogram> hists(writers);
  std::vector<std::thread> threads;
  const auto groups_before = store->stats().groups;
  const auto start = Clock::now();
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::string value(bytes, static_cast<char>('a' + t % 26));
      while (!stop.load(std::memory_order_relaxed)) {
        devstate::RecordPtr record = devstate::Record::Make({.value = value});
        std::vector<devstate::Mutation> m;
        m.push_back(devstate::Mutation::Put(fmt::format("device:{}:latest", rng() % 100000),
                                            std::move(record)));
        const auto t0 = Clock::now();
        devstate::Status s = store->WriteAndWait(std::move(m));
        if (!s.ok()) throw std::runtime_error(s.ToString());
        hists[t].Record(Nanos(Clock::now() - t0));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured window
  stop = true;
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Result r;
  r.name = fmt::format("store, {} writer{}", writers, writers == 1 ? "" : "s");
  for (auto& h : hists) r.latency.Merge(h);
  r.ops_per_sec = r.latency.count() / elapsed;
  const auto groups = store->stats().groups - groups_before;
  r.per_sync = groups ? static_cast<double>(r.latency.count()) / groups : 0;
  return r;
}

// N outstanding writes driven by `loops` event-loop threads, the way the service drives the
// store: a loop submits a client's write; the commit callback posts the client back to its
// loop, which records the latency and submits that client's next write.
Result AsyncPipeline(devstate::Store* store, int clients, int loops, double seconds, size_t bytes) {
  struct Loop {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<int> ready;  // guarded by mu: clients whose last write completed
    int in_flight = 0;      // this loop's clients with a write outstanding; loop thread only
    Histogram latency;
  };
  std::vector<Loop> loop_state(loops);
  std::vector<Clock::time_point> sent(clients);
  std::atomic<bool> stop{false};
  const auto groups_before = store->stats().groups;

  auto submit = [&](int c, std::mt19937_64& rng) {
    const std::string value(bytes, static_cast<char>('a' + c % 26));
    devstate::RecordPtr record = devstate::Record::Make({.value = value});
    std::vector<devstate::Mutation> m;
    m.push_back(devstate::Mutation::Put(fmt::format("device:{}:latest", rng() % 100000),
                                        std::move(record)));
    sent[c] = Clock::now();
    ++loop_state[c % loops].in_flight;
    store->Write(std::move(m), [&, c](const devstate::Status& s, uint64_t) {
      if (!s.ok()) std::abort();
      Loop& l = loop_state[c % loops];
      std::lock_guard lock(l.mu);
      l.ready.push_back(c);
      l.cv.notify_one();
    });
  };

  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < loops; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(i);
      Loop& l = loop_state[i];
      for (int c = i; c < clients; c += loops) submit(c, rng);
      std::deque<int> batch;
      for (;;) {
        {
          std::unique_lock lock(l.mu);
          // Only this thread changes in_flight, so the predicate cannot miss a wake-up.
          l.cv.wait(lock, [&] { return !l.ready.empty() || (stop && l.in_flight == 0); });
          batch.swap(l.ready);
        }
        if (batch.empty()) return;
        const auto now = Clock::now();
        for (int c : batch) {
          l.latency.Record(Nanos(now - sent[c]));
          --l.in_flight;
          if (!stop) submit(c, rng);
        }
        batch.clear();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured window
  stop = true;
  // Each loop exits once its own writes have drained.
  for (Loop& l : loop_state) {
    std::lock_guard lock(l.mu);
    l.cv.notify_one();
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Result r;
  r.name = fmt::format("store async, {} writer{}", clients, clients == 1 ? "" : "s");
  for (Loop& l : loop_state) r.latency.Merge(l.latency);
  r.ops_per_sec = r.latency.count() / elapsed;
  const auto groups = store->stats().groups - groups_before;
  r.per_sync = groups ? static_cast<double>(r.latency.count()) / groups : 0;
  return r;
}

std::string Micros(uint64_t ns) { return fmt::format("{:.0f}", ns / 1000.0); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"devstate-store-bench: durable writes/s and latency of the commit pipeline"};
  std::string dir;
  std::vector<int> writers = {1, 8, 64, 256};
  double seconds = 5;
  size_t bytes = 200;
  std::string mode = "async";
  int loops = 2;
  app.add_option("--dir", dir, "scratch directory on the disk to measure")->required();
  app.add_option("--writers", writers, "concurrent writers per run")->delimiter(',');
  app.add_option("--seconds", seconds, "length of each run");
  app.add_option("--value-bytes", bytes, "bytes per written value");
  app.add_option("--mode", mode,
                 "async: writes driven by --loops event-loop threads, as the service does; "
                 "threads: one blocking OS thread per writer")
      ->check(CLI::IsMember({"async", "threads"}));
  app.add_option("--loops", loops, "event-loop threads in async mode");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::create_directories(dir);
  std::vector<Result> results;
  results.push_back(RawFdatasync(dir, seconds, bytes));
  const std::string db = dir + "/store-bench-db";
  std::filesystem::remove_all(db);
  std::unique_ptr<devstate::Store> store;
  devstate::StoreOptions options;
  options.dir = db;
  // Time inside the journal commit (RocksDB write + fsync), per group: the rest of a
  // write's latency is queueing and thread hand-off.
  Histogram commit_hist;
  options.on_group = [&](size_t, int64_t micros) {
    commit_hist.Record(static_cast<uint64_t>(micros) * 1000);  // committer thread only
  };
  devstate::Status s = devstate::Store::Open(options, &store);
  if (!s.ok()) {
    fmt::print(stderr, "devstate-store-bench: {}\n", s.ToString());
    return 1;
  }
  std::vector<Histogram> commit_hists;
  for (int w : writers) {
    results.push_back(mode == "async" ? AsyncPipeline(store.get(), w, loops, seconds, bytes)
                                      : Pipeline(store.get(), w, seconds, bytes));
    commit_hists.push_back(commit_hist);  // copied after the run: the committer is idle
    commit_hist = Histogram();
  }
  store.reset();
  std::filesystem::remove_all(db);

  const Result& floor = results[0];
  const Result* one = results.size() > 1 ? &results[1] : nullptr;
  fmt::print(
      "| run | writes/s | p50 us | p99 us | p99.9 us | max us | writes per fsync | "
      "p50 / floor p50 | writes/s / 1-writer |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const Result& r : results) {
    fmt::print(
        "| {} | {:.0f} | {} | {} | {} | {} | {:.1f} | {:.2f}x | {} |\n", r.name, r.ops_per_sec,
        Micros(r.latency.Percentile(0.5)), Micros(r.latency.Percentile(0.99)),
        Micros(r.latency.Percentile(0.999)), Micros(r.latency.max()), r.per_sync,
        static_cast<double>(r.latency.Percentile(0.5)) / floor.latency.Percentile(0.5),
        &r == &floor || !one ? "" : fmt::format("{:.1f}x", r.ops_per_sec / one->ops_per_sec));
  }
  fmt::print(
      "\nTime inside the journal commit (RocksDB write + fsync) per group:\n\n"
      "| run | p50 us | p99 us |\n|---|---|---|\n");
  for (size_t i = 0; i < commit_hists.size(); ++i) {
    fmt::print("| {} | {} | {} |\n", results[i + 1].name, Micros(commit_hists[i].Percentile(0.5)),
               Micros(commit_hists[i].Percentile(0.99)));
  }
  return 0;
}
