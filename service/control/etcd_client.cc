#include "service/control/etcd_client.h"

#include <absl/strings/escaping.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <optional>

#include "service/json.h"

namespace devstate::control {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Answers above this are refused: the control plane's keys are small.
constexpr size_t kMaxResponseBytes = 4 << 20;

struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
};

bool SplitEndpoint(const std::string& text, Endpoint* e) {
  std::string_view rest = text;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
    e->tls = true;
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) return false;
  e->host = std::string(rest.substr(0, colon));
  if (e->host.size() > 2 && e->host.front() == '[' && e->host.back() == ']')
    e->host = e->host.substr(1, e->host.size() - 2);
  e->port = std::string(rest.substr(colon + 1));
  unsigned port = 0;
  auto [end, ec] = std::from_chars(e->port.data(), e->port.data() + e->port.size(), port);
  return ec == std::errc() && end == e->port.data() + e->port.size() && port > 0 && port < 65536;
}

std::string B64(std::string_view bytes) {
  return absl::Base64Escape(absl::string_view(bytes.data(), bytes.size()));
}

// etcd's gateway writes int64 fields as strings ("revision":"5") and leaves out zeros.
int64_t Int(simdjson::dom::element parent, std::string_view field) {
  simdjson::dom::element e;
  if (parent[field].get(e)) return 0;
  int64_t v = 0;
  if (!e.get_int64().get(v)) return v;
  std::string_view s;
  if (!e.get_string().get(s)) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc()) return v;
  }
  return 0;
}

std::string Bytes(simdjson::dom::element parent, std::string_view field) {
  std::string_view s;
  if (parent[field].get_string().get(s)) return {};
  std::string out;
  if (!absl::Base64Unescape(absl::string_view(s.data(), s.size()), &out)) return {};
  return out;
}

KeyValue ParseKv(simdjson::dom::element e) {
  KeyValue kv;
  kv.key = Bytes(e, "key");
  kv.value = Bytes(e, "value");
  kv.create_revision = Int(e, "create_revision");
  kv.mod_revision = Int(e, "mod_revision");
  kv.lease = Int(e, "lease");
  return kv;
}

void ParseKvs(simdjson::dom::element parent, std::vector<KeyValue>* out) {
  simdjson::dom::array kvs;
  if (parent["kvs"].get_array().get(kvs)) return;
  for (simdjson::dom::element e : kvs) out->push_back(ParseKv(e));
}

// An error answer ({"error": ..., "code": N}) as a Status; OK otherwise.
Status GatewayError(simdjson::dom::element doc) {
  std::string_view message;
  if (doc["error"].get_string().get(message) && doc["message"].get_string().get(message))
    return Status::OK();
  const int64_t code = Int(doc, "code");
  if (code == 5) return Status::NotFound(std::string(message));  // gRPC NOT_FOUND
  return Status::IOError(fmt::format("etcd: {} (code {})", message, code));
}

std::string OpJson(const TxnOp& op) {
  switch (op.kind) {
    case TxnOp::Kind::kPut:
      return fmt::format(R"({{"request_put":{{"key":"{}","value":"{}","lease":"{}"}}}})",
                         B64(op.key), B64(op.value), op.lease);
    case TxnOp::Kind::kDelete:
      return fmt::format(R"({{"request_delete_range":{{"key":"{}"}}}})", B64(op.key));
    case TxnOp::Kind::kRange:
      return fmt::format(R"({{"request_range":{{"key":"{}"}}}})", B64(op.key));
  }
  return "{}";
}

std::string CompareJson(const Compare& c) {
  switch (c.target) {
    case Compare::Target::kCreate:
      return fmt::format(
          R"({{"key":"{}","target":"CREATE","result":"EQUAL","create_revision":"{}"}})", B64(c.key),
          c.revision);
    case Compare::Target::kMod:
      return fmt::format(R"({{"key":"{}","target":"MOD","result":"EQUAL","mod_revision":"{}"}})",
                         B64(c.key), c.revision);
    case Compare::Target::kValue:
      return fmt::format(R"({{"key":"{}","target":"VALUE","result":"EQUAL","value":"{}"}})",
                         B64(c.key), B64(c.value));
  }
  return "{}";
}

template <typename Items, typename Fn>
std::string JoinJson(const Items& items, Fn fn) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += fn(items[i]);
  }
  return out + "]";
}

}  // namespace

bool ParseEndpoints(const std::string& text, std::vector<std::string>* endpoints,
                    std::string* error) {
  endpoints->clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) {
      Endpoint e;
      if (!SplitEndpoint(item, &e)) {
        *error = "not an etcd endpoint (http://host:port or https://host:port): '" + item + "'";
        return false;
      }
      endpoints->push_back(std::move(item));
    }
    start = comma + 1;
  }
  return true;
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

// One HTTP/1.1 connection to one endpoint, kept open between calls. Each step runs the
// private io_context until the step completes or its stream timeout closes the socket.
class EtcdClient::Connection {
 public:
  Connection(Endpoint endpoint, std::shared_ptr<asio::ssl::context> tls)
      : endpoint_(std::move(endpoint)), tls_context_(std::move(tls)) {}

  const Endpoint& endpoint() const { return endpoint_; }

  Status Open(std::chrono::milliseconds timeout) {
    if (open_) return Status::OK();
    if (endpoint_.tls && !tls_context_)
      return Status::InvalidArgument("an https:// etcd endpoint needs replication.etcd_tls");
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto results = resolver.resolve(endpoint_.host, endpoint_.port, ec);
    if (ec) return Fail("resolve", ec);
    if (endpoint_.tls) {
      tls_.emplace(ioc_, *tls_context_);
      if (!SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.host.c_str()))
        return Status::IOError("etcd: cannot set the TLS server name");
      tls_->set_verify_mode(asio::ssl::verify_peer);
      tls_->set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
      beast::get_lowest_layer(*tls_).expires_after(timeout);
      beast::get_lowest_layer(*tls_).async_connect(
          results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
      Run();
      if (ec) return Fail("connect", ec);
      tls_->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
      Run();
      if (ec) return Fail("TLS handshake", ec);
    } else {
      plain_.emplace(ioc_);
      plain_->expires_after(timeout);
      plain_->async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
      Run();
      if (ec) return Fail("connect", ec);
    }
    open_ = true;
    return Status::OK();
  }

  // POSTs `body`; *status and *answer are the response's.
  Status Post(const std::string& path, const std::string& body, const std::string& token,
              std::chrono::milliseconds timeout, unsigned* status, std::string* answer) {
    Status s = Open(timeout);
    if (!s.ok()) return s;
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, endpoint_.host);
    req.set(http::field::content_type, "application/json");
    if (!token.empty()) req.set(http::field::authorization, token);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    WithStream([&](auto& stream) {
      beast::get_lowest_layer(stream).expires_after(timeout);
      http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
      Run();
      if (ec) return;
      http::async_read(stream, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
      Run();
    });
    if (ec) return Fail("request", ec);
    *status = parser.get().result_int();
    *answer = std::move(parser.get().body());
    if (!parser.get().keep_alive()) Close();
    return Status::OK();
  }

  // Sends a watch request and hands each JSON line of the streamed answer to `on_line`,
  // until `stop()` or an error.
  Status Stream(const std::string& path, const std::string& body, const std::string& token,
                std::chrono::milliseconds timeout,
                const std::function<void(std::string_view)>& on_line,
                const std::function<bool()>& stop, std::chrono::milliseconds poll) {
    Status s = Open(timeout);
    if (!s.ok()) return s;
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, endpoint_.host);
    req.set(http::field::content_type, "application/json");
    if (!token.empty()) req.set(http::field::authorization, token);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    http::response_parser<http::empty_body> parser;
    parser.body_limit(boost::none);
    std::string pending;
    bool too_long = false;
    auto on_chunk = [&](std::uint64_t, beast::string_view data, beast::error_code&) {
      pending.append(data.data(), data.size());
      size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        on_line(std::string_view(pending).substr(0, newline));
        pending.erase(0, newline + 1);
      }
      if (pending.size() > kMaxResponseBytes) too_long = true;
      return data.size();
    };
    parser.on_chunk_body(on_chunk);
    WithStream([&](auto& stream) {
      beast::get_lowest_layer(stream).expires_after(timeout);
      http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
      Run();
      if (ec) return;
      http::async_read_header(stream, buffer_, parser,
                              [&](beast::error_code e, size_t) { ec = e; });
      Run();
      if (ec) return;
      beast::get_lowest_layer(stream).expires_never();
      while (!ec && !parser.is_done() && !too_long) {
        bool done = false;
        http::async_read_some(stream, buffer_, parser, [&](beast::error_code e, size_t) {
          ec = e;
          done = true;
        });
        ioc_.restart();
        while (!done) {
          ioc_.run_for(poll);
          if (!done && stop()) {
            beast::get_lowest_layer(stream).cancel();
            ioc_.restart();
            ioc_.run();
            ec = asio::error::operation_aborted;
            break;
          }
        }
      }
    });
    if (parser.is_header_done() && parser.get().result_int() != 200) {
      Close();
      return Status::IOError(fmt::format("etcd watch: HTTP {}", parser.get().result_int()));
    }
    Close();  // a watch connection is not reused
    if (too_long) return Status::IOError("etcd watch: an event line over 4 MiB");
    if (ec == asio::error::operation_aborted) return Status::OK();
    if (ec) return Fail("watch", ec);
    return Status::IOError("etcd watch: the stream ended");
  }

  void Close() {
    beast::error_code ignored;
    if (plain_) plain_->socket().close(ignored);
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ignored);
    plain_.reset();
    tls_.reset();
    buffer_.clear();
    open_ = false;
  }

 private:
  template <typename Fn>
  void WithStream(Fn fn) {
    if (tls_) {
      fn(*tls_);
    } else {
      fn(*plain_);
    }
  }

  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  Status Fail(const char* step, const beast::error_code& ec) {
    Close();
    return Status::IOError(fmt::format("etcd {}:{}: {}: {}", endpoint_.host, endpoint_.port, step,
                                       ec == beast::error::timeout ? "timed out" : ec.message()));
  }

  const Endpoint endpoint_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  asio::io_context ioc_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bool open_ = false;
};

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {}
EtcdClient::~EtcdClient() = default;

std::string EtcdClient::endpoint() const {
  if (options_.endpoints.empty()) return {};
  return options_.endpoints[current_ % options_.endpoints.size()];
}

Status EtcdClient::Call(const std::string& path, const std::string& body, std::string* response) {
  if (options_.endpoints.empty()) return Status::InvalidArgument("no etcd endpoints");
  Status last;
  for (size_t tried = 0; tried < options_.endpoints.size(); ++tried) {
    if (!connection_) {
      Endpoint e;
      if (!SplitEndpoint(options_.endpoints[current_], &e))
        return Status::InvalidArgument("bad etcd endpoint " + options_.endpoints[current_]);
      connection_ = std::make_unique<Connection>(std::move(e), options_.tls);
      token_.clear();
    }
    last = CallOnce(*connection_, path, body, response);
    if (last.ok() || last.code() == Status::Code::kNotFound ||
        last.code() == Status::Code::kInvalidArgument)
      return last;
    connection_.reset();
    current_ = (current_ + 1) % options_.endpoints.size();
  }
  return last;
}

Status EtcdClient::CallOnce(Connection& c, const std::string& path, const std::string& body,
                            std::string* response) {
  if (!options_.user.empty() && token_.empty()) {
    Status s = Authenticate(c);
    if (!s.ok()) return s;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    unsigned status = 0;
    Status s = c.Post(path, body, token_, options_.timeout, &status, response);
    if (!s.ok()) return s;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(*response).get(doc))
      return Status::IOError(fmt::format("etcd: HTTP {} with an answer that is not JSON", status));
    Status error = GatewayError(doc);
    if (error.ok() && status == 200) return Status::OK();
    if (error.ok()) return Status::IOError(fmt::format("etcd: HTTP {}", status));
    // An expired auth token: authenticate again, once.
    if (!options_.user.empty() && attempt == 0 &&
        error.message().find("invalid auth token") != std::string::npos) {
      token_.clear();
      Status a = Authenticate(c);
      if (!a.ok()) return a;
      continue;
    }
    return error;
  }
  return Status::IOError("etcd: authentication keeps failing");
}

Status EtcdClient::Authenticate(Connection& c) {
  unsigned status = 0;
  std::string answer;
  const std::string body = fmt::format(R"({{"name":{},"password":{}}})", JsonString(options_.user),
                                       JsonString(options_.password));
  Status s = c.Post("/v3/auth/authenticate", body, {}, options_.timeout, &status, &answer);
  if (!s.ok()) return s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(answer).get(doc)) return Status::IOError("etcd authenticate: not JSON");
  std::string_view token;
  if (doc["token"].get_string().get(token)) {
    Status error = GatewayError(doc);
    // A refused password is the operator's to fix: not worth trying another endpoint.
    return Status::InvalidArgument(
        "etcd authentication failed: " +
        (error.ok() ? "HTTP " + std::to_string(status) : error.message()));
  }
  token_ = std::string(token);
  return Status::OK();
}

Status EtcdClient::RangePrefix(const std::string& prefix, std::vector<KeyValue>* kvs,
                               int64_t* revision) {
  std::string answer;
  Status s =
      Call("/v3/kv/range",
           fmt::format(R"({{"key":"{}","range_end":"{}"}})", B64(prefix), B64(PrefixEnd(prefix))),
           &answer);
  if (!s.ok()) return s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(answer).get(doc)) return Status::IOError("etcd range: not JSON");
  kvs->clear();
  ParseKvs(doc, kvs);
  simdjson::dom::element header;
  *revision = doc["header"].get(header) ? 0 : Int(header, "revision");
  return Status::OK();
}

Status EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  std::string answer;
  return Call(
      "/v3/kv/put",
      fmt::format(R"({{"key":"{}","value":"{}","lease":"{}"}})", B64(key), B64(value), lease),
      &answer);
}

Status EtcdClient::Delete(const std::string& key) {
  std::string answer;
  return Call("/v3/kv/deleterange", fmt::format(R"({{"key":"{}"}})", B64(key)), &answer);
}

Status EtcdClient::Txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                       const std::vector<TxnOp>& failure, TxnResult* result) {
  std::string answer;
  Status s = Call(
      "/v3/kv/txn",
      fmt::format(R"({{"compare":{},"success":{},"failure":{}}})", JoinJson(compares, CompareJson),
                  JoinJson(success, OpJson), JoinJson(failure, OpJson)),
      &answer);
  if (!s.ok()) return s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(answer).get(doc)) return Status::IOError("etcd txn: not JSON");
  *result = TxnResult{};
  bool succeeded = false;
  result->succeeded = !doc["succeeded"].get_bool().get(succeeded) && succeeded;
  simdjson::dom::element header;
  result->revision = doc["header"].get(header) ? 0 : Int(header, "revision");
  simdjson::dom::array responses;
  if (!doc["responses"].get_array().get(responses)) {
    for (simdjson::dom::element r : responses) {
      simdjson::dom::element range;
      if (r["response_range"].get(range)) continue;
      result->ranges.emplace_back();
      ParseKvs(range, &result->ranges.back());
    }
  }
  return Status::OK();
}

Status EtcdClient::Grant(int64_t ttl_s, int64_t* id, int64_t* granted_s) {
  std::string answer;
  Status s = Call("/v3/lease/grant", fmt::format(R"({{"TTL":"{}"}})", ttl_s), &answer);
  if (!s.ok()) return s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(answer).get(doc)) return Status::IOError("etcd lease grant: not JSON");
  *id = Int(doc, "ID");
  *granted_s = Int(doc, "TTL");
  if (*id == 0 || *granted_s <= 0) return Status::IOError("etcd lease grant: no lease in answer");
  return Status::OK();
}

Status EtcdClient::KeepAlive(int64_t id, int64_t* ttl_s) {
  std::string answer;
  Status s = Call("/v3/lease/keepalive", fmt::format(R"({{"ID":"{}"}})", id), &answer);
  if (!s.ok()) return s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc, result;
  if (parser.parse(answer).get(doc)) return Status::IOError("etcd keepalive: not JSON");
  if (doc["result"].get(result)) return Status::IOError("etcd keepalive: no result");
  *ttl_s = Int(result, "TTL");
  if (*ttl_s <= 0) return Status::NotFound(fmt::format("etcd lease {:x} has expired", id));
  return Status::OK();
}

Status EtcdClient::Revoke(int64_t id) {
  std::string answer;
  return Call("/v3/lease/revoke", fmt::format(R"({{"ID":"{}"}})", id), &answer);
}

Status EtcdClient::Watch(
    const std::string& prefix, int64_t start_revision,
    const std::function<void(const std::vector<WatchEvent>&, int64_t)>& on_events,
    const std::function<bool()>& stop, std::chrono::milliseconds poll) {
  if (options_.endpoints.empty()) return Status::InvalidArgument("no etcd endpoints");
  Endpoint e;
  const std::string& text = options_.endpoints[current_ % options_.endpoints.size()];
  current_ = (current_ + 1) % options_.endpoints.size();  // the next watch tries the next one
  if (!SplitEndpoint(text, &e)) return Status::InvalidArgument("bad etcd endpoint " + text);
  Connection c(std::move(e), options_.tls);
  if (!options_.user.empty()) {
    token_.clear();
    Status s = Authenticate(c);
    if (!s.ok()) return s;
  }
  const std::string body =
      fmt::format(R"({{"create_request":{{"key":"{}","range_end":"{}","start_revision":"{}"}}}})",
                  B64(prefix), B64(PrefixEnd(prefix)), start_revision);
  Status parse_error;
  simdjson::dom::parser parser;
  auto on_line = [&](std::string_view line) {
    simdjson::dom::element doc, result;
    if (parser.parse(line.data(), line.size()).get(doc) || doc["result"].get(result)) {
      parse_error = Status::IOError("etcd watch: an answer that is not a watch result");
      return;
    }
    std::vector<WatchEvent> events;
    simdjson::dom::array list;
    if (!result["events"].get_array().get(list)) {
      for (simdjson::dom::element ev : list) {
        WatchEvent w;
        std::string_view type;
        w.deleted = !ev["type"].get_string().get(type) && type == "DELETE";
        simdjson::dom::element kv;
        if (!ev["kv"].get(kv)) w.kv = ParseKv(kv);
        events.push_back(std::move(w));
      }
    }
    simdjson::dom::element header;
    const int64_t revision = result["header"].get(header) ? 0 : Int(header, "revision");
    on_events(events, revision);
  };
  Status s = c.Stream(
      "/v3/watch", body, token_, options_.timeout, on_line,
      [&] { return !parse_error.ok() || stop(); }, poll);
  if (!parse_error.ok()) return parse_error;
  return s;
}

}  // namespace devstate::control
