// Names the calling thread, so `top -H`, `ps -L` and /proc/PID/task/*/comm tell devstate's
// threads apart. Linux keeps 15 characters.
#pragma once

#include <pthread.h>

namespace devstate {

inline void SetThreadName(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace devstate
