// devstate-loadgen: load against devstate (and the servers it is compared with).
//
//   devstate-loadgen http-ingest --port 8080 --connections 64 --seconds 10 [--batch 100]
//   devstate-loadgen http-get    --port 8080 --connections 64 --seconds 10
//   devstate-loadgen resp-get    --port 6379 --connections 50 --pipeline 16 --keys 1000000
//   devstate-loadgen resp-set    --port 6379 --connections 50 --pipeline 1 --value-bytes 100
//   devstate-loadgen http-ingest --port 8080 --rate 5000 ...   open loop: 5000 requests/s in all
//   devstate-loadgen http-ingest --port 8080 --ledger acked.txt  record every acknowledged write
//   devstate-loadgen verify      --port 8080 --ledger acked.txt  check each one is still there
//   devstate-loadgen mqtt-publish --port 1883 --clients 4 --qos 1 [--rate 5000]  through a broker
//
// The RESP scenarios work against redis-server too, so comparisons use the same driver.
//
// Prints one Markdown table row per run: requests/s, events/s, errors and latency
// percentiles (us) from a log-bucketed histogram; --json FILE writes the same as JSON.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <fstream>

#include "loadgen/http_load.h"
#include "loadgen/ledger.h"
#include "loadgen/mqtt_load.h"
#include "loadgen/resp_load.h"

namespace {

using devstate::loadgen::HttpLoadOptions;
using devstate::loadgen::LoadResult;
using devstate::loadgen::RespLoadOptions;

void Report(const std::string& name, const LoadResult& r, const std::string& json_path) {
  auto us = [&](double q) { return r.latency_ns.Percentile(q) / 1000.0; };
  fmt::print("| {} | {:.0f} | {:.0f} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |\n", name,
             r.requests / r.seconds, r.events / r.seconds, r.errors, us(0.5), us(0.9), us(0.99),
             us(0.999), r.latency_ns.max() / 1000.0);
  if (!json_path.empty()) {
    std::ofstream(json_path) << fmt::format(
        "{{\"scenario\":\"{}\",\"seconds\":{:.3f},\"requests\":{},\"events\":{},\"errors\":{},"
        "\"requests_per_second\":{:.1f},\"events_per_second\":{:.1f},\"latency_us\":{{\"p50\":{:.1f},"
        "\"p90\":{:.1f},\"p99\":{:.1f},\"p999\":{:.1f},\"max\":{:.1f}}}}}\n",
        name, r.seconds, r.requests, r.events, r.errors, r.requests / r.seconds, r.events / r.seconds,
        us(0.5), us(0.9), us(0.99), us(0.999), r.latency_ns.max() / 1000.0);
  }
}

// The end of every load scenario: an error (exit 2), or the result row (exit 1 if any
// request failed or none succeeded).
int Finish(const std::string& name, const LoadResult& result, const std::string& error, bool header,
           const std::string& json_path) {
  if (!error.empty()) {
    std::fprintf(stderr, "devstate-loadgen: %s\n", error.c_str());
    return 2;
  }
  if (header) {
    fmt::print("| run | requests/s | events/s | errors | p50 us | p90 us | p99 us | p99.9 us | max us |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|\n");
  }
  Report(name, result, json_path);
  return result.errors > 0 || result.requests == 0 ? 1 : 0;
}

// `verify`: fetches each ledger device over one keep-alive HTTP connection.
int Verify(const std::string& host, uint16_t port, const std::string& ledger_path) {
  namespace net = boost::asio;
  namespace http = boost::beast::http;
  std::vector<devstate::loadgen::LedgerEntry> entries;
  std::string error;
  if (!devstate::loadgen::ReadLedger(ledger_path, &entries, &error)) {
    std::fprintf(stderr, "devstate-loadgen: %s\n", error.c_str());
    return 2;
  }
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  boost::beast::flat_buffer buffer;
  auto connect = [&] {
    boost::system::error_code ec;
    socket = net::ip::tcp::socket(ioc);
    socket.connect({net::ip::make_address(host), port}, ec);
    return !ec;
  };
  if (!connect()) {
    std::fprintf(stderr, "devstate-loadgen: cannot connect to %s:%u\n", host.c_str(), port);
    return 2;
  }
  bool io_failed = false;
  auto number_after = [](const std::string& body, std::string_view key) -> uint64_t {
    const size_t at = body.find(key);
    return at == std::string::npos ? 0 : std::strtoull(body.c_str() + at + key.size(), nullptr, 10);
  };
  auto fetch = [&](const std::string& device) -> std::optional<devstate::loadgen::DeviceSnapshot> {
    http::request<http::empty_body> req{http::verb::get, "/devices/" + device + "?view=meta", 11};
    req.set(http::field::host, host);
    http::response<http::string_body> res;
    for (int attempt = 0; attempt < 2; ++attempt) {  // one reconnect if the server closed
      boost::system::error_code ec;
      http::write(socket, req, ec);
      if (!ec) http::read(socket, buffer, res, ec);
      if (!ec) break;
      if (attempt == 1 || !connect()) {
        io_failed = true;
        return std::nullopt;
      }
    }
    if (res.result() != http::status::ok) return std::nullopt;
    // {"state":{..."seq":N...},"version":V,...}: the state's seq comes first.
    return devstate::loadgen::DeviceSnapshot{number_after(res.body(), "\"seq\":"),
                                             number_after(res.body(), "},\"version\":")};
  };
  const devstate::loadgen::VerifyReport report = devstate::loadgen::VerifyLedger(entries, fetch);
  if (io_failed) {
    std::fprintf(stderr, "devstate-loadgen: lost the connection to %s:%u while verifying\n", host.c_str(), port);
    return 2;
  }
  for (const std::string& p : report.problems) fmt::print("LOST {}\n", p);
  fmt::print("verify: {} acknowledged writes over {} devices: {}\n", report.writes, report.devices,
             report.ok() ? "all visible" : fmt::format("{} devices lost acknowledged writes", report.problems.size()));
  return report.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"devstate-loadgen: load generator for devstate"};
  app.require_subcommand(1);
  HttpLoadOptions options;
  std::string json_path;
  std::string ledger_path;
  bool header = false;
  for (const char* name : {"http-ingest", "http-get"}) {
    CLI::App* sub = app.add_subcommand(name, std::string(name) == "http-ingest"
                                                 ? "POST device events (one per request, or batches)"
                                                 : "GET /devices/<id>");
    sub->add_option("--host", options.host, "server address");
    sub->add_option("--port", options.port, "server port")->required();
    sub->add_option("--connections,-c", options.connections, "keep-alive connections");
    sub->add_option("--threads,-t", options.threads, "client threads");
    sub->add_option("--seconds,-d", options.seconds, "length of the run");
    sub->add_option("--devices", options.devices, "distinct device ids");
    sub->add_option("--json", json_path, "also write the result as JSON to this file");
    sub->add_flag("--header", header, "print the table header first");
    sub->add_option("--rate", options.rate, "open loop: requests per second in all (0: closed loop)");
    if (std::string(name) == "http-ingest") {
      sub->add_option("--batch", options.batch, "events per request (>1: POST /events NDJSON)");
      sub->add_option("--ledger", ledger_path, "append each acknowledged write (device seq version) to FILE");
    }
  }
  devstate::loadgen::MqttLoadOptions mqtt;
  {
    CLI::App* sub = app.add_subcommand("mqtt-publish", "devices publishing state events through an MQTT broker");
    sub->add_option("--host", mqtt.host, "broker address");
    sub->add_option("--port", mqtt.port, "broker port")->required();
    sub->add_option("--connections,-c", mqtt.connections, "MQTT connections (the devices are spread over them)");
    sub->add_option("--threads,-t", mqtt.threads, "client threads");
    sub->add_option("--qos", mqtt.qos, "0 or 1")->check(CLI::IsMember({0, 1}));
    sub->add_option("--inflight", mqtt.inflight, "unacknowledged messages per connection");
    sub->add_option("--rate", mqtt.rate, "open loop: messages per second in all (0: as fast as possible)");
    sub->add_option("--seconds,-d", mqtt.seconds, "length of the run");
    sub->add_option("--devices", mqtt.devices, "distinct device ids");
    sub->add_option("--topic", mqtt.topic, "topic pattern; {} is the device id");
    sub->add_option("--json", json_path, "also write the result as JSON to this file");
    sub->add_flag("--header", header, "print the table header first");
  }
  CLI::App* verify = app.add_subcommand("verify", "check that every write in a ledger is visible");
  std::string verify_host = "127.0.0.1";
  uint16_t verify_port = 8080;
  verify->add_option("--host", verify_host, "server address");
  verify->add_option("--port", verify_port, "HTTP port")->required();
  verify->add_option("--ledger", ledger_path, "the ledger an http-ingest --ledger run wrote")->required();
  RespLoadOptions resp;
  for (const char* name : {"resp-get", "resp-set"}) {
    CLI::App* sub = app.add_subcommand(name, std::string(name) == "resp-get" ? "GET random keys" : "SET random keys");
    sub->add_option("--host", resp.host, "server address");
    sub->add_option("--port", resp.port, "server port")->required();
    sub->add_option("--connections,-c", resp.connections, "connections");
    sub->add_option("--threads,-t", resp.threads, "client threads");
    sub->add_option("--seconds,-d", resp.seconds, "length of the run");
    sub->add_option("--pipeline,-P", resp.pipeline, "commands in flight per connection");
    sub->add_option("--keys,-r", resp.keys, "keys drawn at random from key:0..N-1");
    sub->add_option("--value-bytes", resp.value_bytes, "SET value size");
    sub->add_option("--json", json_path, "also write the result as JSON to this file");
    sub->add_flag("--header", header, "print the table header first");
  }
  CLI11_PARSE(app, argc, argv);
  const std::string scenario = app.get_subcommands()[0]->get_name();
  if (scenario == "verify") return Verify(verify_host, verify_port, ledger_path);
  if (scenario == "mqtt-publish") {
    std::string error;
    LoadResult result = devstate::loadgen::RunMqttLoad(mqtt, &error);
    std::string name = fmt::format("mqtt-publish -c {} --qos {}", mqtt.connections, mqtt.qos);
    if (mqtt.rate > 0) name += fmt::format(" --rate {:.0f}", mqtt.rate);
    return Finish(name, result, error, header, json_path);
  }
  if (scenario.rfind("resp-", 0) == 0) {
    resp.scenario = scenario == "resp-get" ? RespLoadOptions::Scenario::kGet : RespLoadOptions::Scenario::kSet;
    std::string error;
    LoadResult result = devstate::loadgen::RunRespLoad(resp, &error);
    return Finish(fmt::format("{} -c {} -P {}", scenario, resp.connections, resp.pipeline), result, error, header,
                  json_path);
  }
  options.scenario = scenario == "http-get" ? HttpLoadOptions::Scenario::kGet
                                            : HttpLoadOptions::Scenario::kIngest;
  devstate::loadgen::LedgerWriter ledger;
  std::string error;
  if (!ledger_path.empty()) {
    if (options.batch > 1) {
      std::fprintf(stderr, "devstate-loadgen: --ledger records single events (--batch 1)\n");
      return 2;
    }
    if (!ledger.Open(ledger_path, &error)) {
      std::fprintf(stderr, "devstate-loadgen: %s\n", error.c_str());
      return 2;
    }
    options.ledger = &ledger;
  }
  LoadResult result = devstate::loadgen::RunHttpLoad(options, &error);
  std::string name = options.scenario == HttpLoadOptions::Scenario::kGet
                         ? fmt::format("{} -c {}", scenario, options.connections)
                         : fmt::format("{} -c {} --batch {}", scenario, options.connections, options.batch);
  if (options.rate > 0) name += fmt::format(" --rate {:.0f}", options.rate);
  return Finish(name, result, error, header, json_path);
}
