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
                  }
                  done(s, std::move(out));
                });
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
