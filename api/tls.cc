#include "api/tls.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace devstate::api {
namespace {

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

Status MakeServerTlsContext(const TlsOptions& options,
                            std::shared_ptr<boost::asio::ssl::context>* out) {
  namespace ssl = boost::asio::ssl;
  if (options.cert.empty() || options.key.empty()) {
    return Status::InvalidArgument("TLS needs tls.cert and tls.key");
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only. TLS 1.3's own
  // suites are all AEAD and stay at OpenSSL's defaults.
  SSL_CTX_set_cipher_list(ctx,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert.c_str()) != 1) {
    return Status::InvalidArgument(fmt::format("tls.cert '{}': {}", options.cert, OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::InvalidArgument(fmt::format("tls.key '{}': {}", options.key, OpenSslError()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument(
        fmt::format("tls.key '{}' does not match tls.cert '{}'", options.key, options.cert));
  }
  if (options.verify_clients != "no" && !options.verify_clients.empty()) {
    if (options.ca.empty()) return Status::InvalidArgument("tls.verify_clients needs tls.ca");
    if (SSL_CTX_load_verify_locations(ctx, options.ca.c_str(), nullptr) != 1) {
      return Status::InvalidArgument(fmt::format("tls.ca '{}': {}", options.ca, OpenSslError()));
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (options.verify_clients == "yes") mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  }
  *out = std::move(context);
  return Status::OK();
}

}  // namespace devstate::api
