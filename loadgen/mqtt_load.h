// MQTT load: simulated devices publishing state events through a broker.
//
// `connections` MQTT connections share `devices` device ids (dev-0..N-1) round-robin; each
// publishes to devices/<id>/state a payload like a real device's:
//   {"deviceId":"dev-7","status":"active","temperature":6.4,"batteryLevel":87,
//    "latitude":52.52,"longitude":13.40,"lastSeenAt":"2026-11-22T10:00:00.123Z"}
// QoS 1: latency is publish -> the broker's PUBACK; QoS 0: publish -> handed to the socket.
// With `visible_port` (devstate's RESP port) it is publish -> visible instead: one message
// in `probe_every` carries a probe number, and a RESP connection per publisher GETs that
// device's record until the number is in it (end to end: broker, ingest, commit, publish).
// At most `inflight` messages per client are unacknowledged. With `rate` > 0 the run is
// open loop (latency from each message's intended send time); otherwise as fast as the
// in-flight window allows.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/load_result.h"

namespace devstate::loadgen {

struct MqttLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  std::string topic = "devices/{}/state";  // {} is the device id
  int connections = 4;
  int threads = 1;
  int qos = 1;
  int inflight = 64;
  double rate = 0;  // messages/s in all; 0: as fast as possible
  double seconds = 10;
  uint64_t devices = 10000;
  uint16_t visible_port = 0;  // devstate's RESP port: measure publish -> visible
  int probe_every = 100;
  bool progress = false;
};

LoadResult RunMqttLoad(const MqttLoadOptions& options, std::string* error);

}  // namespace devstate::loadgen
