#include "api/resp/reply_order.h"

namespace devstate::resp {

bool ReplyOrder::MayRun(Kind kind) const {
  for (const auto& ahead : slots_) {
    if (ahead->waiting) return false;  // commands run in arrival order
    if (ahead->ready) continue;
    if (kind != Kind::kWrite || ahead->kind == Kind::kBarrier) return false;
  }
  return true;
}

std::shared_ptr<ReplyOrder::Slot> ReplyOrder::Add(Kind kind) {
  auto slot = std::make_shared<Slot>();
  slot->kind = kind;
  slots_.push_back(slot);
  return slot;
}

std::shared_ptr<ReplyOrder::Slot> ReplyOrder::NextRunnable() {
  bool all_answered = true;   // everything ahead of the slot looked at is answered
  bool open_barrier = false;  // an unanswered barrier is ahead
  for (const auto& slot : slots_) {
    if (slot->waiting) {
      const bool may = slot->kind == Kind::kWrite ? !open_barrier : all_answered;
      if (!may) return nullptr;
      slot->waiting = false;
      return slot;
    }
    if (!slot->ready) {
      all_answered = false;
      open_barrier = open_barrier || slot->kind == Kind::kBarrier;
    }
  }
  return nullptr;
}

bool ReplyOrder::TakeReady(std::string* out) {
  while (!slots_.empty() && slots_.front()->ready) {
    const bool close = slots_.front()->close_after;
    out->append(slots_.front()->reply);
    slots_.pop_front();
    if (close) return true;
  }
  return false;
}

}  // namespace devstate::resp
