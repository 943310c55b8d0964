// The protocol servers' options, built from the config table (service/config.h): the one
// place where a config key becomes an api/ field, so no options struct keeps a default
// that could disagree with the table. Tests build them from Config{} and change what they
// need. Pure functions.
#pragma once

#include "api/http/handler.h"
#include "api/http/server.h"
#include "api/resp/server.h"
#include "service/config.h"

namespace devstate::api {

http::ServerOptions HttpServerOptions(const Config& config);
http::HandlerOptions HttpHandlerOptions(const Config& config);
resp::ServerOptions RespServerOptions(const Config& config);
acl::AuthThrottle::Options AuthThrottleOptions(const Config& config);

}  // namespace devstate::api
