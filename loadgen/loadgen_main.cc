// devstate-loadgen: load against devstate (and the servers it is compared with).
//
//   devstate-loadgen http-ingest --port 8080 --connections 64 --seconds 10 [--batch 100]
//   devstate-loadgen http-get    --port 8080 --connections 64 --seconds 10
//   devstate-loadgen http-mixed  --port 8080 --read-percent 90      GETs and POSTs on the same
//   devices devstate-loadgen resp-get    --port 6379 --connections 50 --pipeline 16 --keys 1000000
//   devstate-loadgen resp-set    --port 6379 --connections 50 --pipeline 1 --value-bytes 100
//   devstate-loadgen resp-mixed  --port 6379 --read-percent 90      GETs and SETs on the same keys
//   devstate-loadgen http-ingest --port 8080 --rate 5000 ...   open loop: 5000 requests/s in all
//   devstate-loadgen http-ingest --port 8080 --ledger acked.txt  record every acknowledged write
//   devstate-loadgen verify      --port 8080 --ledger acked.txt  check each one is still there
//   devstate-loadgen mqtt-publish --port 1883 --clients 4 --qos 1 [--rate 5000]  through a broker
//   devstate-loadgen pubsub-fanout --port 6379 --subscribers 100 -P 16   1 publisher, 100
//   subscribers devstate-loadgen report --title T --out report.html a.json b.json   one HTML report
//   of runs
//
// The RESP scenarios work against redis-server too, so comparisons use the same driver.
//
// Prints one Markdown table row per run: requests/s, events/s, errors and latency
// percentiles (us) from a log-bucketed histogram; --json FILE writes the same as JSON
// (with the percentile curve and completions per second), --html FILE an HTML report with
// latency and throughput charts. A progress line goes to stderr each second (by default
// when stderr is a terminal).
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "loadgen/http_load.h"
#include "loadgen/ledger.h"
#include "loadgen/mqtt_load.h"
#include "loadgen/pubsub_load.h"
#include "loadgen/report.h"
#include "loadgen/resp_load.h"

namespace {

using devstate::loadgen::HttpLoadOptions;
using devstate::loadgen::LoadResult;
using devstate::loadgen::RespLoadOptions;

// What every load scenario shares on its command line: where results go.
struct Output {
  std::string label;  // the run's name in the table and the reports
  std::string json_path;
  std::string html_path;
  bool header = false;
  bool progress = isatty(STDERR_FILENO) == 1;

  void AddTo(CLI::App* sub) {
    sub->add_option(
        "--label", label,
        "name of the run in the table and reports (default: the scenario and its options)");
    sub->add_option("--json", json_path, "also write the result as JSON to this file");
    sub->add_option("--html", html_path,
                    "also write an HTML report with latency and throughput charts");
    sub->add_flag("--header", header, "print the table header first");
    sub->add_flag("--progress,!--no-progress", progress,
                  "a progress line on stderr each second (default: if a terminal)");
  }
};

// Where and how hard every load scenario drives: the fields all scenario options share.
template <typename Options>
void AddLoadOptions(CLI::App* sub, Options& o, const std::string& connections,
                    const std::string& unit) {
  sub->add_option("--host", o.host, "server address");
  sub->add_option("--port", o.port, "server port")->required();
  sub->add_option("--connections,-c", o.connections, connections);
  sub->add_option("--threads,-t", o.threads, "client threads");
  sub->add_option("--seconds,-d", o.seconds, "length of the run");
  sub->add_option("--rate", o.rate, "open loop: " + unit + " per second in all (0: closed loop)");
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path);
  out << content;
  out.close();
  if (!out) std::fprintf(stderr, "devstate-loadgen: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

// The end of every load scenario: an error (exit 2), or the result row (exit 1 if any
// request failed or none succeeded). Mixed runs add a row each for reads and writes.
int Finish(const std::string& name, const LoadResult& result, const std::string& error,
           const Output& output) {
  if (!error.empty()) {
    std::fprintf(stderr, "devstate-loadgen: %s\n", error.c_str());
    return 2;
  }
  const devstate::loadgen::RunSummary run =
      devstate::loadgen::Summarize(output.label.empty() ? name : output.label, result);
  if (output.header) {
    fmt::print(
        "| run | requests/s | events/s | errors | p50 us | p90 us | p99 us | p99.9 us | max us "
        "|\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|\n");
  }
  for (const devstate::loadgen::TableRow& row : devstate::loadgen::TableRows(run)) {
    const devstate::loadgen::LatencySummary& l = *row.latency;
    fmt::print("| {} | {:.0f} | {:.0f} | {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |\n",
               row.name, row.requests_per_second, row.events_per_second, row.errors, l.p50, l.p90,
               l.p99, l.p999, l.max);
  }
  bool written = true;
  if (!output.json_path.empty())
    written &= WriteFile(output.json_path, devstate::loadgen::ToJson(run));
  if (!output.html_path.empty())
    written &= WriteFile(output.html_path, devstate::loadgen::RenderHtml(run.name, {run}));
  if (!written) return 2;
  if (!result.first_error.empty())
    fmt::print(stderr, "first error reply: {}\n", result.first_error);
  return result.errors > 0 || result.requests == 0 ? 1 : 0;
}

// `report`: one HTML report from the JSON results of several runs.
int Report(const std::string& title, const std::string& out_path,
           const std::vector<std::string>& inputs) {
  std::vector<devstate::loadgen::RunSummary> runs;
  for (const std::string& path : inputs) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    devstate::loadgen::RunSummary run;
    std::string error;
    if (!in || !devstate::loadgen::FromJson(text.str(), &run, &error)) {
      std::fprintf(stderr, "devstate-loadgen: %s: %s\n", path.c_str(),
                   in ? error.c_str() : "cannot read");
      return 2;
    }
    runs.push_back(std::move(run));
  }
  return WriteFile(out_path, devstate::loadgen::RenderHtml(title, runs)) ? 0 : 2;
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
    std::fprintf(stderr, "devstate-loadgen: lost the connection to %s:%u while verifying\n",
                 host.c_str(), port);
    return 2;
  }
  for (const std::string& p : report.problems) fmt::print("LOST {}\n", p);
  fmt::print("verify: {} acknowledged writes over {} devices: {}\n", report.writes, report.devices,
             report.ok()
                 ? "all visible"
                 : fmt::format("{} devices lost acknowledged writes", report.problems.size()));
  return report.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"devstate-loadgen: load generator for devstate"};
  app.require_subcommand(1);
  HttpLoadOptions options;
  Output output;
  std::string ledger_path;
  for (const char* name : {"http-ingest", "http-get", "http-mixed"}) {
    const std::string n = name;
    CLI::App* sub = app.add_subcommand(
        name, n == "http-ingest" ? "POST device events (one per request, or batches)"
              : n == "http-get"  ? "GET /devices/<id>"
                                 : "GET /devices/<id> and POST events on the same devices");
    AddLoadOptions(sub, options, "keep-alive connections", "requests");
    sub->add_option("--devices", options.devices, "distinct device ids");
    output.AddTo(sub);
    if (n == "http-ingest") {
      sub->add_option("--batch", options.batch, "events per request (>1: POST /events NDJSON)");
      sub->add_option("--ledger", ledger_path,
                      "append each acknowledged write (device seq version) to FILE");
    }
    if (n == "http-mixed") {
      sub->add_option("--read-percent", options.read_percent, "share of requests that are reads")
          ->check(CLI::Range(0, 100));
    }
  }
  devstate::loadgen::MqttLoadOptions mqtt;
  {
    CLI::App* sub = app.add_subcommand("mqtt-publish",
                                       "devices publishing state events through an MQTT broker");
    AddLoadOptions(sub, mqtt, "MQTT connections (the devices are spread over them)", "messages");
    sub->add_option("--qos", mqtt.qos, "0 or 1")->check(CLI::IsMember({0, 1}));
    sub->add_option("--inflight", mqtt.inflight, "unacknowledged messages per connection");
    sub->add_option("--devices", mqtt.devices, "distinct device ids");
    sub->add_option("--topic", mqtt.topic, "topic pattern; {} is the device id");
    sub->add_option("--visible-port", mqtt.visible_port,
                    "devstate's RESP port: latency is publish -> visible on GET (probed)");
    sub->add_option("--probe-every", mqtt.probe_every, "with --visible-port: probe 1 message in N")
        ->check(CLI::PositiveNumber);
    output.AddTo(sub);
  }
  CLI::App* verify = app.add_subcommand("verify", "check that every write in a ledger is visible");
  std::string verify_host = "127.0.0.1";
  uint16_t verify_port = 8080;
  verify->add_option("--host", verify_host, "server address");
  verify->add_option("--port", verify_port, "HTTP port")->required();
  verify->add_option("--ledger", ledger_path, "the ledger an http-ingest --ledger run wrote")
      ->required();
  RespLoadOptions resp;
  for (const char* name : {"resp-get", "resp-set", "resp-mixed"}) {
    const std::string n = name;
    CLI::App* sub = app.add_subcommand(name, n == "resp-get"   ? "GET random keys"
                                             : n == "resp-set" ? "SET random keys"
                                                               : "GET and SET random keys");
    AddLoadOptions(sub, resp, "connections", "commands");
    sub->add_option("--pipeline,-P", resp.pipeline,
                    "commands in flight per connection (closed loop)");
    sub->add_option("--keys,-r", resp.keys, "keys drawn at random from key:0..N-1");
    sub->add_option("--value-bytes", resp.value_bytes, "SET value size");
    output.AddTo(sub);
    if (n == "resp-mixed") {
      sub->add_option("--read-percent", resp.read_percent, "share of commands that are GETs")
          ->check(CLI::Range(0, 100));
    }
  }
  devstate::loadgen::PubSubLoadOptions pubsub;
  {
    CLI::App* sub = app.add_subcommand(
        "pubsub-fanout",
        "one publisher, N subscribers of one channel: messages delivered per second");
    sub->add_option("--host", pubsub.host, "server address");
    sub->add_option("--port", pubsub.port, "server port")->required();
    sub->add_option("--subscribers,-c", pubsub.subscribers, "subscriber connections")
        ->check(CLI::Range(1, 10000));
    sub->add_option("--pipeline,-P", pubsub.pipeline, "PUBLISH commands in flight")
        ->check(CLI::Range(1, 10000));
    sub->add_option("--seconds,-d", pubsub.seconds, "length of the run");
    sub->add_option("--value-bytes", pubsub.value_bytes, "message size (at least 16)");
    sub->add_option("--channel", pubsub.channel, "the channel");
    output.AddTo(sub);
  }
  CLI::App* report = app.add_subcommand(
      "report", "one HTML report (table and charts) from the --json files of runs");
  std::string report_title = "devstate-loadgen report";
  std::string report_out;
  std::vector<std::string> report_inputs;
  report->add_option("--title", report_title, "the report's title");
  report->add_option("--out", report_out, "the HTML file to write")->required();
  report->add_option("results", report_inputs, "JSON files written by --json")->required();
  CLI11_PARSE(app, argc, argv);
  const std::string scenario = app.get_subcommands()[0]->get_name();
  if (scenario == "verify") return Verify(verify_host, verify_port, ledger_path);
  if (scenario == "report") return Report(report_title, report_out, report_inputs);
  if (scenario == "mqtt-publish") {
    std::string error;
    mqtt.progress = output.progress;
    LoadResult result = devstate::loadgen::RunMqttLoad(mqtt, &error);
    std::string name = fmt::format("mqtt-publish -c {} --qos {}", mqtt.connections, mqtt.qos);
    if (mqtt.rate > 0) name += fmt::format(" --rate {:.0f}", mqtt.rate);
    return Finish(name, result, error, output);
  }
  if (scenario == "pubsub-fanout") {
    std::string error;
    pubsub.progress = output.progress;
    LoadResult result = devstate::loadgen::RunPubSubLoad(pubsub, &error);
    return Finish(fmt::format("pubsub-fanout -c {} -P {}", pubsub.subscribers, pubsub.pipeline),
                  result, error, output);
  }
  if (scenario.rfind("resp-", 0) == 0) {
    resp.scenario = scenario == "resp-get"   ? RespLoadOptions::Scenario::kGet
                    : scenario == "resp-set" ? RespLoadOptions::Scenario::kSet
                                             : RespLoadOptions::Scenario::kMixed;
    resp.progress = output.progress;
    std::string error;
    LoadResult result = devstate::loadgen::RunRespLoad(resp, &error);
    std::string name = fmt::format("{} -c {} -P {}", scenario, resp.connections, resp.pipeline);
    if (resp.scenario == RespLoadOptions::Scenario::kMixed)
      name += fmt::format(" --read-percent {}", resp.read_percent);
    if (resp.rate > 0)
      name = fmt::format("{} -c {} --rate {:.0f}", scenario, resp.connections, resp.rate);
    return Finish(name, result, error, output);
  }
  options.scenario = scenario == "http-get"     ? HttpLoadOptions::Scenario::kGet
                     : scenario == "http-mixed" ? HttpLoadOptions::Scenario::kMixed
                                                : HttpLoadOptions::Scenario::kIngest;
  options.progress = output.progress;
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
  std::string name = fmt::format("{} -c {}", scenario, options.connections);
  if (options.scenario == HttpLoadOptions::Scenario::kIngest)
    name += fmt::format(" --batch {}", options.batch);
  if (options.scenario == HttpLoadOptions::Scenario::kMixed)
    name += fmt::format(" --read-percent {}", options.read_percent);
  if (options.rate > 0) name += fmt::format(" --rate {:.0f}", options.rate);
  return Finish(name, result, error, output);
}
