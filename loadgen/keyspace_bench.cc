// devstate-keyspace-bench: what a point read of the in-memory keyspace costs with a million
// keys (Google Benchmark), next to a reference measured in the same run: the same records
// in std::unordered_map<std::string, RecordPtr> behind a std::shared_mutex, the standard
// container the keyspace used before it had its own table.
//
//   build/release/loadgen/devstate-keyspace-bench [--keys=N] [--benchmark_repetitions=5]
//
// Keys look like redis-benchmark's (key:000000123456), values are 100 bytes, reads pick
// keys at random and copy the value out as a GET reply would. Prefetched16 reads in
// batches of 16 after Keyspace::Prefetch, as the RESP server does for a pipeline.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/keyspace.h"

namespace devstate {
namespace {

size_t g_keys = 1'000'000;

struct Data {
  std::vector<std::string> keys;  // in random order
  std::vector<std::string_view> views;
  Keyspace keyspace;
  std::shared_mutex reference_mu;
  std::unordered_map<std::string, RecordPtr> reference;

  Data() {
    const std::string value(100, 'v');
    for (size_t i = 0; i < g_keys; ++i) {
      keys.push_back(fmt::format("key:{:012d}", i));
      RecordPtr r = Record::Make({.value = value});  // a record of its own, as each SET makes
      keyspace.Put(keys.back(), r);
      reference.emplace(keys.back(), std::move(r));
    }
    std::shuffle(keys.begin(), keys.end(), std::mt19937_64(42));
    views.assign(keys.begin(), keys.end());
  }
};

Data& Shared() {
  static Data data;
  return data;
}

// Copies the value out, as a reply would.
void Consume(const RecordPtr& r, std::string* out) {
  out->clear();
  out->append(r->value());
  benchmark::DoNotOptimize(out->data());
}

void BM_UnorderedMapGet(benchmark::State& state) {
  Data& d = Shared();
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    RecordPtr r;
    {
      std::shared_lock lock(d.reference_mu);
      auto it = d.reference.find(d.keys[i++ % d.keys.size()]);
      if (it != d.reference.end()) r = it->second;
    }
    Consume(r, &out);
  }
}

void BM_KeyspaceGet(benchmark::State& state) {
  Data& d = Shared();
  std::string out;
  size_t i = 0;
  for (auto _ : state) Consume(d.keyspace.Get(d.keys[i++ % d.keys.size()]), &out);
}

void BM_KeyspaceGetPrefetched16(benchmark::State& state) {
  Data& d = Shared();
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    if (i + 16 > d.views.size()) i = 0;
    const std::span<const std::string_view> batch(d.views.data() + i, 16);
    d.keyspace.Prefetch(batch);
    for (std::string_view key : batch) Consume(d.keyspace.Get(key), &out);
    i += 16;
  }
  state.SetItemsProcessed(state.iterations() * 16);
}

BENCHMARK(BM_UnorderedMapGet);
BENCHMARK(BM_KeyspaceGet);
BENCHMARK(BM_KeyspaceGetPrefetched16);

}  // namespace
}  // namespace devstate

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--keys=", 7) == 0) devstate::g_keys = std::stoul(argv[i] + 7);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
