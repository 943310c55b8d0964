// devstate: the process. Parses the config, opens the store, runs until SIGTERM/SIGINT,
// then stops intake, finishes the commit in flight and closes the journal.
#include <absl/synchronization/mutex.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "api/acl.h"
#include "api/http/handler.h"
#include "api/http/server.h"
#include "api/options.h"
#include "api/resp/server.h"
#include "api/tls.h"
#include "service/config.h"
#include "service/service.h"
#include "service/version.h"

namespace {

int Fail(const std::string& reason) {
  std::fprintf(stderr, "devstate: %s\n", reason.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with its Mutex deadlock detector on, which records a lock-order
  // graph on every lock: ~5% of the CPU of a pub/sub fan-out (perf). The lock order is
  // checked at compile time instead (clang -Wthread-safety, scripts/fuzz), and the unit
  // tests keep the detector.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using devstate::CommandLine;
  devstate::Config config;
  CommandLine cli;
  devstate::Status s = devstate::ParseCommandLine(argc, argv, &config, &cli);
  if (!s.ok()) return Fail(s.message());
  switch (cli.action) {
    case CommandLine::Action::kHelp:
      std::fputs(cli.help_text.c_str(), stdout);
      return 0;
    case CommandLine::Action::kVersion:
      std::printf("devstate %s\n", devstate::kVersion);
      return 0;
    case CommandLine::Action::kReference:
      std::fputs(devstate::ConfigReference().c_str(), stdout);
      return 0;
    case CommandLine::Action::kRun:
      break;
  }

  // Signals are taken synchronously by this thread: block them before any thread starts,
  // so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  std::unique_ptr<devstate::Service> service;
  s = devstate::Service::Open(config, &service);
  if (!s.ok()) return Fail("cannot open store at '" + config.store_dir + "': " + s.ToString());
  spdlog::info("devstate {}: store '{}' holds {} keys at journal position {}", devstate::kVersion,
               config.store_dir, service->store().keyspace().Size(),
               service->store().LastSequence());

  devstate::acl::Acl acl;
  s = acl.Load(config.acl_file, config.acl_tokens_file);
  if (!s.ok()) return Fail(s.message());
  acl.throttle().Configure(devstate::api::AuthThrottleOptions(config));
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (config.http_tls || config.resp_tls) {
    devstate::api::TlsOptions tls_options;
    tls_options.cert = config.tls_cert;
    tls_options.key = config.tls_key;
    tls_options.ca = config.tls_ca;
    tls_options.verify_clients = config.tls_verify_clients;
    s = devstate::api::MakeServerTlsContext(tls_options, &tls);
    if (!s.ok()) return Fail(s.message());
  }

  devstate::http::HandlerOptions handler_options = devstate::api::HttpHandlerOptions(config);
  handler_options.acl = &acl;
  if (config.http_tls) handler_options.scheme = "https";
  devstate::http::Handler handler(service.get(), handler_options);
  devstate::http::ServerOptions http_options = devstate::api::HttpServerOptions(config);
  if (config.http_tls) http_options.tls = tls;
  devstate::http::Server http_server(&handler, http_options, &service->metrics());
  s = http_server.Start();
  if (!s.ok()) return Fail(s.message());
  devstate::resp::ServerOptions resp_options = devstate::api::RespServerOptions(config);
  resp_options.acl = &acl;
  if (config.resp_tls) resp_options.tls = tls;
  devstate::resp::Server resp_server(service.get(), resp_options);
  s = resp_server.Start();
  if (!s.ok()) return Fail(s.message());
  s = service->Start(resp_server.port(), http_server.port());
  if (!s.ok()) return Fail(s.message());
  spdlog::info("devstate ready: http{} on {}:{}, resp{} on {}:{}, {} users{}, mqtt {}",
               config.http_tls ? "s" : "", config.http_bind, http_server.port(),
               config.resp_tls ? " (tls)" : "", config.resp_bind, resp_server.port(),
               acl.Users().size(), acl.auth_required() ? " (auth required)" : "",
               config.mqtt_broker.empty() ? std::string("disabled")
                                          : config.mqtt_broker + " topic " + config.mqtt_topic);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("stopping on signal {}", signal);
  http_server.Stop();  // no new requests; commits in flight still complete below
  resp_server.Stop();
  const devstate::PipelineStats stats = service->store().stats();
  service->Stop();
  spdlog::info("committed {} writes ({} mutations) in {} journal groups", stats.writes,
               stats.mutations, stats.groups);
  spdlog::info("stopped cleanly");
  return 0;
}
