// EtcdClient: the part of etcd's v3 API the control plane uses (DESIGN.md §5), over etcd's
// JSON gateway (`/v3/kv/range|put|txn|deleterange`, `/v3/lease/grant|keepalive|revoke`,
// `/v3/watch`, `/v3/auth/authenticate`) on Boost.Beast. Written here because Debian ships
// no C++ etcd client; the gateway is etcd's documented HTTP face of the same gRPC API.
//
// Every call blocks its caller for at most `timeout` per endpoint tried: it runs its
// asynchronous operations on the client's private io_context, on the calling thread, with
// Beast's stream timeouts. A call that fails on one endpoint (refused, reset, timed out,
// not the leader's answer) is retried once on each other endpoint, in turn; the endpoint
// that answered is used first next time. Keys and values are bytes (base64 on the wire).
//
// Thread safety: none; one thread uses a client at a time (the controller keeps one for its
// calls and one for its watch).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/status.h"

namespace devstate::control {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // http://host:port or https://host:port
  std::string user;                    // empty: no authentication
  std::string password;
  std::shared_ptr<boost::asio::ssl::context> tls;  // for https:// endpoints
  std::chrono::milliseconds timeout{1000};         // per endpoint, per call
};

// Parses "http://h:p,https://h:p,..." (or bare "h:p", taken as http); false with *error set
// when an entry is not one.
bool ParseEndpoints(const std::string& text, std::vector<std::string>* endpoints,
                    std::string* error);

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

// One comparison of a transaction: the key's create or mod revision, or its value.
struct Compare {
  enum class Target { kCreate, kMod, kValue };
  std::string key;
  Target target = Target::kMod;
  int64_t revision = 0;  // kCreate, kMod (0 with kCreate: the key does not exist)
  std::string value;     // kValue
};

struct TxnOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // kPut
  int64_t lease = 0;  // kPut: 0 for none
  static TxnOp Put(std::string key, std::string value, int64_t lease = 0) {
    return TxnOp{Kind::kPut, std::move(key), std::move(value), lease};
  }
  static TxnOp Delete(std::string key) { return TxnOp{Kind::kDelete, std::move(key), {}, 0}; }
  static TxnOp Range(std::string key) { return TxnOp{Kind::kRange, std::move(key), {}, 0}; }
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the transaction
  // For each kRange op of the branch that ran, the keys it found.
  std::vector<std::vector<KeyValue>> ranges;
};

struct WatchEvent {
  bool deleted = false;
  KeyValue kv;
};

class EtcdClient {
 public:
  explicit EtcdClient(EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Every key starting with `prefix`, and the store's revision.
  [[nodiscard]] Status RangePrefix(const std::string& prefix, std::vector<KeyValue>* kvs,
                                   int64_t* revision);
  [[nodiscard]] Status Put(const std::string& key, const std::string& value, int64_t lease);
  [[nodiscard]] Status Delete(const std::string& key);
  [[nodiscard]] Status Txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                           const std::vector<TxnOp>& failure, TxnResult* result);

  // A lease of at least `ttl_s` seconds (etcd may grant more): *id and the granted *ttl_s.
  [[nodiscard]] Status Grant(int64_t ttl_s, int64_t* id, int64_t* granted_s);
  // Renews lease `id`: *ttl_s is its new time to live. NotFound if it has expired.
  [[nodiscard]] Status KeepAlive(int64_t id, int64_t* ttl_s);
  [[nodiscard]] Status Revoke(int64_t id);

  // Watches every key under `prefix` from `start_revision` (0: from now), calling `on_events`
  // with each batch and its revision, until `stop()` is true (checked every `poll`) or the
  // stream fails. Returns why it ended.
  [[nodiscard]] Status Watch(
      const std::string& prefix, int64_t start_revision,
      const std::function<void(const std::vector<WatchEvent>&, int64_t)>& on_events,
      const std::function<bool()>& stop,
      std::chrono::milliseconds poll = std::chrono::milliseconds(100));

  // The endpoint used last (for logs).
  std::string endpoint() const;

 private:
  class Connection;
  // POSTs `body` to `path`, trying each endpoint once; *response is the JSON answer.
  Status Call(const std::string& path, const std::string& body, std::string* response);
  Status CallOnce(Connection& c, const std::string& path, const std::string& body,
                  std::string* response);
  Status Authenticate(Connection& c);

  const EtcdOptions options_;
  size_t current_ = 0;  // the endpoint to try first
  std::unique_ptr<Connection> connection_;
  std::string token_;  // etcd's auth token, once authenticated
};

// The end of the key range holding every key that starts with `prefix` (etcd's
// "range_end": the prefix with its last byte incremented).
std::string PrefixEnd(const std::string& prefix);

}  // namespace devstate::control
