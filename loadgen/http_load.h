// HTTP load: clients over keep-alive connections (Boost.Asio), for devstate's
// HTTP API. Each connection sends a request, waits for the whole response, records the
// latency and sends the next, until the run's time is up. Requests are formatted by hand
// and responses parsed minimally (status line, Content-Length), so the driver costs far
// less CPU than the server it measures -- on a 2-core machine that matters.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/ledger.h"
#include "loadgen/load_result.h"

namespace devstate::loadgen {

struct HttpLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  // kMixed: each request is a GET with probability read_percent/100, else a single-event
  // POST, over the same device ids, so reads find what writes wrote.
  enum class Scenario { kIngest, kGet, kMixed } scenario = Scenario::kIngest;
  int read_percent = 90;
  int connections = 64;
  int threads = 1;
  double seconds = 10;
  int batch = 1;  // ingest: events per request; 1 = POST /devices/<id>, else POST /events
  uint64_t devices = 10000;
  double rate = 0;        // >0: open loop at this many requests/s in all; 0: closed loop
  bool progress = false;  // print a progress line to stderr each second
  // Ingest with a ledger: every acknowledged event is appended (device, seq, version).
  // Each device is written by one connection only (ids ldg-<connection>-<n>), so its
  // "seq" field grows with every write. Needs batch 1.
  LedgerWriter* ledger = nullptr;
};

// Runs the load; an unreachable server is an error (returned in *error, result empty).
LoadResult RunHttpLoad(const HttpLoadOptions& options, std::string* error);

}  // namespace devstate::loadgen
