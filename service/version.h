#pragma once

namespace devstate {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace devstate
