// A record holding a plain value, for tests of the store's parts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "store/record.h"

namespace devstate {

inline RecordPtr Value(std::string_view v, int64_t expire_at_ms = 0) {
  return Record::Make({.expire_at_ms = expire_at_ms, .value = v});
}

}  // namespace devstate
