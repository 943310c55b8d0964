// RESP load: Redis-protocol clients (Boost.Asio) for devstate and for redis-server alike,
// so both are measured by the same driver.
//
// Closed loop: each connection keeps `pipeline` commands in flight: it sends a batch,
// reads that many replies, records each command's latency (from the batch's send), and
// sends the next batch. Open loop (`rate` > 0): each connection sends its share of the
// rate on schedule whether or not earlier commands were answered (they pipeline), and
// each command's latency counts from its intended send time.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/load_result.h"

namespace devstate::loadgen {

struct RespLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  // kMixed: each command is a GET with probability read_percent/100, else a SET.
  enum class Scenario { kGet, kSet, kMixed } scenario = Scenario::kGet;
  int read_percent = 90;
  int connections = 50;
  int threads = 1;
  int pipeline = 1;
  double seconds = 10;
  uint64_t keys = 1000000;  // keys drawn from key:0 .. key:N-1
  size_t value_bytes = 100;
  double rate = 0;  // >0: open loop at this many commands/s in all; 0: closed loop
  bool progress = false;
};

LoadResult RunRespLoad(const RespLoadOptions& options, std::string* error);

}  // namespace devstate::loadgen
