// devstate: the process. Parses the config, opens the store, runs until SIGTERM/SIGINT,
// then stops intake, finishes the commit in flight and closes the journal.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "service/config.h"
#include "service/version.h"
#include "store/store.h"

namespace {

int Fail(const std::string& reason) {
  std::fprintf(stderr, "devstate: %s\n", reason.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
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

  devstate::StoreOptions store_options;
  store_options.dir = config.store_dir;
  store_options.max_group_mutations = static_cast<size_t>(config.store_max_group_mutations);
  std::unique_ptr<devstate::Store> store;
  s = devstate::Store::Open(store_options, &store);
  if (!s.ok()) return Fail("cannot open store at '" + config.store_dir + "': " + s.ToString());
  spdlog::info("devstate {} ready: store '{}' holds {} keys at journal position {}",
               devstate::kVersion, config.store_dir, store->keyspace().Size(),
               store->LastSequence());

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("stopping on signal {}", signal);
  store->Close();
  spdlog::info("stopped cleanly");
  return 0;
}
