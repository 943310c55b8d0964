#include "loadgen/ledger.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace devstate::loadgen {

LedgerWriter::~LedgerWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

bool LedgerWriter::Open(const std::string& path, std::string* error) {
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) {
    *error = fmt::format("cannot open ledger '{}'", path);
    return false;
  }
  return true;
}

void LedgerWriter::Append(const LedgerEntry& entry) {
  const std::string line = fmt::format("{} {} {}\n", entry.device, entry.seq, entry.version);
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

bool ReadLedger(const std::string& path, std::vector<LedgerEntry>* entries, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = fmt::format("cannot read ledger '{}'", path);
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    LedgerEntry e;
    std::string rest;
    if (!(fields >> e.device >> e.seq >> e.version) || (fields >> rest)) {
      *error = fmt::format("{}:{}: expected '<device> <seq> <version>'", path, number);
      return false;
    }
    entries->push_back(std::move(e));
  }
  return true;
}

VerifyReport VerifyLedger(const std::vector<LedgerEntry>& entries, const FetchDevice& fetch) {
  std::map<std::string, DeviceSnapshot> wanted;  // the highest acknowledged, per device
  for (const LedgerEntry& e : entries) {
    DeviceSnapshot& w = wanted[e.device];
    w.seq = std::max(w.seq, e.seq);
    w.version = std::max(w.version, e.version);
  }
  VerifyReport report;
  report.writes = entries.size();
  report.devices = wanted.size();
  for (const auto& [device, want] : wanted) {
    const std::optional<DeviceSnapshot> have = fetch(device);
    if (!have) {
      report.problems.push_back(fmt::format("{}: missing (acknowledged seq {} version {})", device,
                                            want.seq, want.version));
    } else if (have->seq < want.seq || have->version < want.version) {
      report.problems.push_back(
          fmt::format("{}: has seq {} version {}, acknowledged seq {} version {}", device,
                      have->seq, have->version, want.seq, want.version));
    }
  }
  return report;
}

}  // namespace devstate::loadgen
