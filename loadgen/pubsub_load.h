// Pub/sub fan-out: one publisher, many subscribers of one channel, against devstate or
// redis-server alike.
//
// The subscribers SUBSCRIBE first; the publisher waits until PUBSUB NUMSUB counts them
// all, then keeps `pipeline` PUBLISH commands in flight until the deadline. Each message
// carries its send time, so every delivery is one completed "request" of the result,
// timed from publish to arrival at that subscriber: the rate is messages delivered per
// second, summed over the subscribers.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/load_result.h"

namespace devstate::loadgen {

struct PubSubLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  int subscribers = 100;
  int pipeline = 16;  // PUBLISH commands in flight
  double seconds = 10;
  size_t value_bytes = 64;  // message size (at least the 16-digit timestamp)
  std::string channel = "fanout";
  bool progress = false;
  // For the shared driver: the publisher and the subscribers on one event loop.
  int connections = 0;  // set by RunPubSubLoad: subscribers + 1
  int threads = 1;
};

LoadResult RunPubSubLoad(PubSubLoadOptions options, std::string* error);

}  // namespace devstate::loadgen
