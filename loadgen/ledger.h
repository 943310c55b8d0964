// Ledger: the record of every write a server acknowledged, and the check that each one is
// still visible -- the tool behind crash and failover tests.
//
// While it runs, a load scenario appends one line per acknowledged write:
// "<device> <seq> <version>", where seq is the event's own "seq" field (it only grows
// per device: in ledger mode each device is written by one connection) and version the
// record version the server answered. Afterwards `verify` reads the file and fetches each
// device once: the device must exist, its "seq" must be at least the highest acknowledged
// one, and its version at least the highest acknowledged version. Anything less is a
// lost acknowledged write.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace devstate::loadgen {

struct LedgerEntry {
  std::string device;
  uint64_t seq = 0;
  uint64_t version = 0;
};

// Appends entries to a file; thread-safe. Each Append is flushed to the kernel, so a
// ledger survives the server's crash and the load generator's own exit.
class LedgerWriter {
 public:
  ~LedgerWriter();
  bool Open(const std::string& path, std::string* error);
  void Append(const LedgerEntry& entry);

 private:
  std::mutex mu_;
  std::FILE* file_ = nullptr;
};

// Parses a ledger; false (with the line number in *error) on a malformed line.
bool ReadLedger(const std::string& path, std::vector<LedgerEntry>* entries, std::string* error);

// What a device holds now: nullopt if it does not exist.
struct DeviceSnapshot {
  uint64_t seq = 0;
  uint64_t version = 0;
};
using FetchDevice = std::function<std::optional<DeviceSnapshot>(const std::string& device)>;

struct VerifyReport {
  uint64_t writes = 0;                // ledger entries
  uint64_t devices = 0;               // distinct devices checked
  std::vector<std::string> problems;  // one line per device with a lost write
  bool ok() const { return problems.empty(); }
};

// Checks every device of the ledger once, through `fetch`.
VerifyReport VerifyLedger(const std::vector<LedgerEntry>& entries, const FetchDevice& fetch);

}  // namespace devstate::loadgen
