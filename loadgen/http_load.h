// HTTP load: closed-loop clients over keep-alive connections (Boost.Asio), for devstate's
// HTTP API. Each connection sends a request, waits for the whole response, records the
// latency and sends the next, until the run's time is up. Requests are formatted by hand
// and responses parsed minimally (status line, Content-Length), so the driver costs far
// less CPU than the server it measures -- on a 2-core machine that matters.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/histogram.h"
#include "loadgen/ledger.h"

namespace devstate::loadgen {

struct HttpLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  enum class Scenario { kIngest, kGet } scenario = Scenario::kIngest;
  int connections = 64;
  int threads = 1;
  double seconds = 10;
  int batch = 1;          // ingest: events per request; 1 = POST /devices/<id>, else POST /events
  uint64_t devices = 10000;
  double rate = 0;        // >0: open loop at this many requests/s in all; 0: closed loop
  // Ingest with a ledger: every acknowledged event is appended (device, seq, version).
  // Each device is written by one connection only (ids ldg-<connection>-<n>), so its
  // "seq" field grows with every write. Needs batch 1.
  LedgerWriter* ledger = nullptr;
};

struct LoadResult {
  uint64_t requests = 0;  // completed with a 2xx
  uint64_t events = 0;    // requests x events per request
  uint64_t errors = 0;    // non-2xx or broken connections
  double seconds = 0;
  Histogram latency_ns;
};

// Runs the load; an unreachable server is an error (returned in *error, result empty).
LoadResult RunHttpLoad(const HttpLoadOptions& options, std::string* error);

}  // namespace devstate::loadgen
