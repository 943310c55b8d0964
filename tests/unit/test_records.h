// A record holding a plain value, for tests of the store's parts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "store/record.h"

namespace devstate {

inline RecordPtr Value(std::string v, int64_t expire_at_ms = 0) {
  auto r = std::make_shared<Record>();
  r->value = std::move(v);
  r->expire_at_ms = expire_at_ms;
  return r;
}

}  // namespace devstate
