// crash_writer DIR ROUND WRITERS: opens the store in DIR and writes from WRITERS threads
// until killed. After each acknowledged write it prints "ack <key> <round> <n>" on stdout
// with one write(2), so the parent knows exactly what was acknowledged before the kill.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/integration/crash_payload.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_writer DIR ROUND WRITERS\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t round = std::strtoull(argv[2], nullptr, 10);
  const int writers = std::atoi(argv[3]);
  std::unique_ptr<devstate::Store> store;
  devstate::StoreOptions options;
  options.dir = dir;
  devstate::Status s = devstate::Store::Open(options, &store);
  if (!s.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t n = 1;; ++n) {
        const std::string key = "w" + std::to_string(t) + ":k" + std::to_string(n % 7);
        const devstate::crash::Stamp stamp{round, n};
        const std::string value = devstate::crash::MakeValue(key, stamp);
        devstate::RecordPtr record = devstate::Record::Make({.value = value});
        std::vector<devstate::Mutation> m;
        m.push_back(devstate::Mutation::Put(key, std::move(record)));
        devstate::Status w = store->WriteAndWait(std::move(m));
        if (!w.ok()) {
          std::fprintf(stderr, "crash_writer: write failed: %s\n", w.ToString().c_str());
          std::_Exit(1);
        }
        const std::string line =
            "ack " + key + " " + std::to_string(round) + " " + std::to_string(n) + "\n";
        if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          std::_Exit(1);
      }
    });
  }
  for (auto& t : threads) t.join();
}
