// TLS for the listeners: one server context built from PEM files, shared by every session.
// TLS 1.2 and 1.3 only, forward-secret AEAD ciphers only, no compression or renegotiation.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "store/status.h"

namespace devstate::api {

struct TlsOptions {
  std::string cert;            // PEM certificate chain, leaf first
  std::string key;             // PEM private key
  std::string ca;              // PEM CA bundle that client certificates must chain to
  std::string verify_clients;  // "no", "optional" (checked if sent) or "yes" (required)
};

// Loads the files and checks that the key matches the certificate.
Status MakeServerTlsContext(const TlsOptions& options,
                            std::shared_ptr<boost::asio::ssl::context>* context);

}  // namespace devstate::api
