// Epochs: which primary wrote which part of the journal (DESIGN.md §5).
//
// Each time a node becomes primary it starts a new epoch, higher than any it has seen, and
// its first group carries an epoch marker: a key in the journal's "meta" column family
// whose value is the position of the marker itself. The markers travel with the groups, so
// every node that holds a group holds the history that wrote it, and recovery rebuilds the
// history from the journal. The history is a list of (epoch, first position); an epoch
// ends where the next begins, or at the node's last position.
//
// Two nodes agree on their journals up to position p if p's epoch is the same on both: an
// epoch has exactly one primary, whose journal is linear. A node that starts a new epoch
// after a crash therefore never reuses positions of the old one without the other nodes
// seeing it (its tail, sent but perhaps never synced here, belongs to the old epoch).
//
// The term is the highest epoch this node has heard of, from its own history or from a
// peer before any of that epoch's groups arrived; it is kept in a file beside the journal
// (written atomically, synced) and a new epoch is always above it.
//
// Thread-safe.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace devstate {

class EpochHistory {
 public:
  struct Entry {
    uint64_t epoch = 0;
    uint64_t first_seq = 0;
    bool operator==(const Entry&) const = default;
  };

  // The marker of `epoch` in the meta column family, and its value (`first_seq`).
  static std::string MarkerKey(uint64_t epoch);
  static std::string MarkerValue(uint64_t first_seq);
  // A meta entry that is a marker: true, with *entry filled; false for other keys.
  static bool ParseMarker(std::string_view key, std::string_view value, Entry* entry);

  // Adds an epoch that begins at `first_seq`; epochs and positions only grow (an entry at
  // or below the last one is ignored: recovery and replication may both report it).
  void Add(Entry entry);
  // Drops everything (a replica about to receive a full copy).
  void Clear();

  uint64_t Current() const;              // the last epoch, 0 if none
  uint64_t EpochOf(uint64_t seq) const;  // the epoch that wrote `seq` (0: before any)
  std::vector<Entry> Entries() const;

  // Whether position `seq`, written in `epoch` on another node, is on this history, whose
  // journal ends at `last`: the epoch is known here and its range here reaches `seq`. An
  // empty journal (seq 0) is on every history; data from before any epoch is on none.
  bool Contains(uint64_t epoch, uint64_t seq, uint64_t last) const;

 private:
  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);  // increasing epoch and first_seq
};

// The term file: <dir>/TERM, one decimal number. Missing: 0.
Status LoadTerm(const std::string& dir, uint64_t* term);
Status SaveTerm(const std::string& dir, uint64_t term);

}  // namespace devstate
