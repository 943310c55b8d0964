#include "service/ingest.h"

#include <future>
#include <memory>

namespace devstate {

void Ingest::Submit(std::vector<Event> events, Done done) {
  const size_t n = events.size();
  auto results = std::make_shared<std::vector<std::shared_ptr<IngestResult>>>();
  results->reserve(n);
  std::vector<Mutation> mutations;
  mutations.reserve(n);
  Store* store = store_;
  for (Event& event : events) {
    results->push_back(std::make_shared<IngestResult>());
    mutations.push_back(
        MergeMutation(std::move(event), results->back(), [store] { return store->NowMs(); }));
  }
  store_->Write(std::move(mutations),
                [this, results, done = std::move(done)](const Status& s, uint64_t) {
                  std::vector<IngestResult> out;
                  out.reserve(results->size());
                  for (auto& r : *results) out.push_back(std::move(*r));
                  if (!s.ok()) {
                    counters_.failed.fetch_add(out.size(), std::memory_order_relaxed);
                  } else {
                    for (const IngestResult& r : out) {
                      if (!r.status.ok()) {
                        counters_.conflict.fetch_add(1, std::memory_order_relaxed);
                      } else if (r.outcome == MergeOutcome::kChanged) {
                        counters_.changed.fetch_add(1, std::memory_order_relaxed);
                      } else {
                        counters_.stale.fetch_add(1, std::memory_order_relaxed);
                      }
                    }
                    NotifyChanged(out);
                  }
                  done(s, std::move(out));
                });
}

// A changed device: a keyspace "set" on its key (it reads as a string) and its new state on
// its device channel, as {"deviceId":..,"version":..,"state":{..}}.
void Ingest::NotifyChanged(const std::vector<IngestResult>& results) {
  if (notifier_ == nullptr || !notifier_->Listened()) return;
  const bool keyspace = notifier_->Wants(Notifier::kString);
  for (const IngestResult& r : results) {
    if (!r.status.ok() || r.outcome != MergeOutcome::kChanged || !r.record) continue;
    NotifyDevice(*r.record, keyspace);
  }
}

void Ingest::NotifyReplicated(const std::vector<std::pair<std::string, RecordPtr>>& puts) {
  if (notifier_ == nullptr || !notifier_->Listened()) return;
  const bool keyspace = notifier_->Wants(Notifier::kString);
  for (const auto& [key, record] : puts) {
    if (record->type() == kDeviceRecordType) NotifyDevice(*record, keyspace);
  }
}

void Ingest::NotifyDevice(const Record& record, bool keyspace) {
  std::string id, message;
  uint64_t version = 0;
  if (!DeviceChangeMessage(record, &id, &version, &message)) return;
  if (keyspace) notifier_->Notify(Notifier::kString, "set", DeviceKey(id));
  notifier_->DeviceChanged(id, version, message);
}

Status Ingest::SubmitAndWait(std::vector<Event> events, std::vector<IngestResult>* results) {
  std::promise<Status> promise;
  std::future<Status> outcome = promise.get_future();
  Submit(std::move(events), [&](const Status& s, std::vector<IngestResult> r) {
    if (results != nullptr) *results = std::move(r);
    promise.set_value(s);
  });
  return outcome.get();
}

}  // namespace devstate
