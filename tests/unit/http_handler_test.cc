// The HTTP API as a function: requests in, responses out, against a fake service.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "api/http/handler.h"
#include "api/options.h"
#include "service/device_record.h"
#include "tests/unit/fake_service.h"

namespace devstate::http {
namespace {

using testing::FakeService;

using beast_http::field;
using beast_http::status;
using beast_http::verb;

class HttpHandlerTest : public ::testing::Test {
 protected:
  Response Call(verb method, std::string target, std::string body = {},
                std::string content_type = "application/json",
                std::vector<std::pair<field, std::string>> headers = {}) {
    Request req{method, target, 11};
    if (!content_type.empty()) req.set(field::content_type, content_type);
    for (auto& [f, v] : headers) req.set(f, v);
    req.body() = std::move(body);
    if (method == verb::post) req.prepare_payload();
    std::optional<Response> out;
    active_->Handle(req, [&](Response res) {
      EXPECT_FALSE(out.has_value()) << "replied twice";
      out = std::move(res);
    });
    EXPECT_TRUE(out.has_value()) << "no reply";
    return out ? std::move(*out) : Response{};
  }
  Response Post(std::string target, std::string body, std::string type = "application/json") {
    return Call(verb::post, std::move(target), std::move(body), std::move(type));
  }
  Response Get(std::string target, std::vector<std::pair<field, std::string>> headers = {}) {
    return Call(verb::get, std::move(target), {}, {}, std::move(headers));
  }

  FakeService service_;
  Handler handler_{&service_,
                   HandlerOptions{.limits = EventLimits{.max_bytes = 256}, .max_batch_events = 3}};
  const Handler* active_ = &handler_;  // the handler Call uses
};

TEST_F(HttpHandlerTest, PostDeviceCommitsAndReportsTheVersion) {
  Response r = Post("/devices/d1", R"({"status":"on","ts":10})");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(r.body(), R"({"version":1,"stale":false})");
  EXPECT_EQ(r[field::content_type], "application/json");
  r = Post("/devices/d1", R"({"temp":3,"ts":11})");
  EXPECT_EQ(r.body(), R"({"version":2,"stale":false})");
  // Older and duplicate events: 200, stale, nothing changes.
  EXPECT_EQ(Post("/devices/d1", R"({"temp":1,"ts":5})").body(), R"({"version":2,"stale":true})");
  EXPECT_EQ(Post("/devices/d1", R"({"temp":3,"ts":11})").body(), R"({"version":2,"stale":true})");
  r = Get("/devices/d1");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(r.body(),
            R"({"deviceId":"d1","status":"on","temp":3,"lastSeenAt":"1970-01-01T00:00:00.011Z"})");
  EXPECT_EQ(r[field::etag], "\"2\"");
}

TEST_F(HttpHandlerTest, PostDeviceErrors) {
  EXPECT_EQ(Post("/devices/d1", "{nope").result(), status::bad_request);
  EXPECT_EQ(Post("/devices/d1", "[1]").result(), status::bad_request);
  Response r = Post("/devices/d1", R"({"deviceId":"other"})");
  EXPECT_EQ(r.result(), status::bad_request);
  EXPECT_NE(r.body().find("does not match"), std::string::npos);
  EXPECT_EQ(Post("/devices/bad%20id", "{}").result(), status::bad_request);
  EXPECT_EQ(Post("/devices/" + std::string(129, 'a'), "{}").result(), status::bad_request);
  r = Post("/devices/d1", R"({"a":1})", "text/plain");
  EXPECT_EQ(r.result(), status::unsupported_media_type);
  EXPECT_EQ(r.body(), R"({"error":"Content-Type must be application/json"})");
  EXPECT_EQ(Post("/devices/d1", R"({"a":1})", "").result(), status::unsupported_media_type);
  EXPECT_EQ(Post("/devices/d1", R"({"a":1})", "Application/JSON; charset=utf-8").result(),
            status::ok);
  r = Post("/devices/d1", R"({"a":")" + std::string(300, 'x') + "\"}");
  EXPECT_EQ(r.result(), status::payload_too_large);
  EXPECT_EQ(service_.rejected, 4u);  // the three bad bodies and the oversized one
}

TEST_F(HttpHandlerTest, PostWithoutLengthIs411) {
  Request req{verb::post, "/devices/d1", 11};
  req.set(field::content_type, "application/json");
  std::optional<Response> out;
  handler_.Handle(req, [&](Response res) { out = std::move(res); });
  ASSERT_TRUE(out);
  EXPECT_EQ(out->result(), status::length_required);
  req.chunked(true);
  req.body() = R"({"a":1})";
  handler_.Handle(req, [&](Response res) { out = std::move(res); });
  EXPECT_EQ(out->result(), status::ok);
}

TEST_F(HttpHandlerTest, StoreRefusingWritesIs503AndNotReady) {
  service_.refuse = Status::WriteRefused("journal sync failed");
  Response r = Post("/devices/d1", R"({"a":1})");
  EXPECT_EQ(r.result(), status::service_unavailable);
  EXPECT_EQ(r.body(), R"({"error":"journal sync failed"})");
  EXPECT_EQ(Post("/events", R"([{"deviceId":"a"}])").result(), status::service_unavailable);
  r = Get("/readyz");
  EXPECT_EQ(r.result(), status::service_unavailable);
  EXPECT_EQ(
      r.body(),
      R"({"ready":false,"store":"refusing writes: journal sync failed","mqtt":"disabled","role":"primary"})");
  EXPECT_EQ(Get("/healthz").result(), status::ok);
}

TEST_F(HttpHandlerTest, ReadyzFollowsMqtt) {
  service_.mqtt = MqttState::kConnecting;
  EXPECT_EQ(Get("/readyz").result(), status::service_unavailable);
  service_.mqtt = MqttState::kConnected;
  Response r = Get("/readyz");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(r.body(), R"({"ready":true,"store":"writable","mqtt":"connected","role":"primary"})");
}

TEST_F(HttpHandlerTest, PlainStringUnderTheKeyIsAConflictNotOverwritten) {
  RecordPtr plain = Record::Make({.type = kStringRecordType, .value = R"({"seeded":true})"});
  service_.records[DeviceKey("d1")] = plain;
  EXPECT_EQ(Post("/devices/d1", R"({"a":1})").result(), status::conflict);
  EXPECT_EQ(service_.records[DeviceKey("d1")], plain);
  Response r = Get("/devices/d1");  // served as stored
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(r.body(), R"({"seeded":true})");
  EXPECT_EQ(r[field::content_type], "application/json");
}

TEST_F(HttpHandlerTest, BatchArrayAndNdjsonInOneCommitWithPerItemResults) {
  Response r = Post("/events", R"([{"deviceId":"a","x":1,"ts":5},{"deviceId":"b","y":2},{"x":3}])");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(service_.commits, 1);
  EXPECT_EQ(
      r.body(),
      R"({"accepted":2,"stale":0,"rejected":1,"results":[{"deviceId":"a","version":1,"stale":false},)"
      R"j({"deviceId":"b","version":1,"stale":false},{"error":"event has no device id (deviceId in the body, or the topic or path)"}]})j");
  r = Post("/events",
           "{\"deviceId\":\"a\",\"x\":0,\"ts\":4}\n{\"deviceId\":\"a\",\"z\":1,\"ts\":6}\n",
           "application/x-ndjson");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(service_.commits, 2);
  EXPECT_EQ(
      r.body(),
      R"({"accepted":2,"stale":1,"rejected":0,"results":[{"deviceId":"a","version":1,"stale":true},)"
      R"({"deviceId":"a","version":2,"stale":false}]})");
}

TEST_F(HttpHandlerTest, BatchErrors) {
  EXPECT_EQ(Post("/events", "[").result(), status::bad_request);
  EXPECT_EQ(Post("/events", "[]").result(), status::bad_request);
  Response r =
      Post("/events", R"([{"deviceId":"a"},{"deviceId":"b"},{"deviceId":"c"},{"deviceId":"d"}])");
  EXPECT_EQ(r.result(), status::bad_request);
  EXPECT_EQ(r.body(), R"({"error":"batch has more than 3 events"})");
  r = Post("/events", R"([1,2])");  // nothing valid: 400, nothing committed
  EXPECT_EQ(r.result(), status::bad_request);
  EXPECT_EQ(service_.commits, 0);
  EXPECT_EQ(Post("/events", "{}", "text/csv").result(), status::unsupported_media_type);
  EXPECT_EQ(Call(verb::put, "/events").result(), status::method_not_allowed);
  EXPECT_EQ(Call(verb::put, "/events")[field::allow], "GET, POST");
}

TEST_F(HttpHandlerTest, GetDeviceEtagAnd304AndMetaView) {
  EXPECT_EQ(Get("/devices/nope").result(), status::not_found);
  ASSERT_EQ(Post("/devices/d1", R"({"a":1,"gone":null,"ts":1000})").result(), status::ok);
  Response r = Get("/devices/d1", {{field::if_none_match, "\"1\""}});
  EXPECT_EQ(r.result(), status::not_modified);
  EXPECT_TRUE(r.body().empty());
  EXPECT_EQ(Get("/devices/d1", {{field::if_none_match, "\"0\", W/\"1\""}}).result(),
            status::not_modified);
  EXPECT_EQ(Get("/devices/d1", {{field::if_none_match, "\"7\""}}).result(), status::ok);
  r = Get("/devices/d1?view=meta");
  EXPECT_EQ(
      r.body(),
      R"({"state":{"deviceId":"d1","a":1,"lastSeenAt":"1970-01-01T00:00:01.000Z"},"version":1,)"
      R"("updatedAt":"1970-01-01T00:00:00.042Z","fields":{"a":{"time":"1970-01-01T00:00:01.000Z"},)"
      R"("gone":{"time":"1970-01-01T00:00:01.000Z","deleted":true}}})");
}

TEST_F(HttpHandlerTest, ListDevicesPagesThroughDeviceRecordsOnly) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(Post("/devices/d" + std::to_string(i), R"({"a":1})").result(), status::ok);
  RecordPtr plain = Record::Make({});
  service_.records["device:str:latest"] = plain;  // a RESP string: not a device
  service_.records["other"] = plain;
  Response r = Get("/devices?limit=2");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(r.body(), R"({"devices":["d0","d1"],"cursor":"2"})");
  r = Get("/devices?limit=2&cursor=2");
  EXPECT_EQ(r.body(), R"({"devices":["d2","d3"],"cursor":"4"})");
  r = Get("/devices?limit=2&cursor=4");
  EXPECT_EQ(r.body(), R"({"devices":["d4"],"cursor":null})");
  EXPECT_EQ(Get("/devices?limit=0").result(), status::bad_request);
  EXPECT_EQ(Get("/devices?limit=1001").result(), status::bad_request);
  EXPECT_EQ(Get("/devices?cursor=x").result(), status::bad_request);
}

TEST_F(HttpHandlerTest, MetricsIsPrometheusText) {
  Response r = Get("/metrics");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(r[field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body(), "devstate_test 1\n");
}

TEST_F(HttpHandlerTest, RoutesAndMethods) {
  EXPECT_EQ(Get("/nope").result(), status::not_found);
  EXPECT_EQ(Get("/devices/a/b").result(), status::not_found);
  Response r = Call(verb::delete_, "/devices/a");
  EXPECT_EQ(r.result(), status::method_not_allowed);
  EXPECT_EQ(r[field::allow], "GET, POST");
  EXPECT_EQ(Call(verb::post, "/healthz", "{}").result(), status::method_not_allowed);
}

TEST_F(HttpHandlerTest, DeadLettersNewestFirstTextOrBase64) {
  service_.letters.push_back(DeadLetter{1, 0, "mqtt:devices/1/state", "bad \"json\"", "{oops", 5});
  service_.letters.push_back(
      DeadLetter{2, 1000, "mqtt:devices/2/state", "not UTF-8", "\xff\xfe", 2});
  service_.letters.push_back(DeadLetter{3, 2000, "mqtt:x", "cut", "caf\xc3", 9});  // é cut short
  Response r = Get("/deadletters?limit=2");
  EXPECT_EQ(r.result(), status::ok);
  EXPECT_EQ(
      r.body(),
      R"({"total":3,"entries":[{"id":3,"time":"1970-01-01T00:00:02.000Z","source":"mqtt:x","reason":"cut","payloadBytes":9,"payloadHead":"caf"},)"
      R"({"id":2,"time":"1970-01-01T00:00:01.000Z","source":"mqtt:devices/2/state","reason":"not UTF-8","payloadBytes":2,"payloadHeadBase64":"//4="}]})");
  EXPECT_NE(Get("/deadletters").body().find(R"("reason":"bad \"json\"")"), std::string::npos);
  EXPECT_EQ(Get("/deadletters?limit=0").result(), status::bad_request);
  EXPECT_EQ(Get("/deadletters?limit=x").result(), status::bad_request);
}

}  // namespace
}  // namespace devstate::http

namespace devstate::http {
namespace {

class HttpAuthTest : public HttpHandlerTest {
 protected:
  void SetUp() override {
    // ctest runs each test in its own process, in parallel: one file set per test.
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const auto dir = std::filesystem::temp_directory_path();
    users_ = (dir / ("http_auth_users_" + test)).string();
    const std::string users = users_;
    const std::string tokens = (dir / ("http_auth_tokens_" + test)).string();
    std::ofstream(users) << "user default off\n"
                            "user writer on >wpass ~device:* +@all -@admin\n"
                            "user reader on >rpass ~device:a* +@read\n";
    std::ofstream(tokens) << "reader reader-token-0123456789\n";
    ASSERT_TRUE(acl_.Load(users, tokens).ok());
    active_ = &auth_handler_;
  }
  static std::pair<field, std::string> Basic(std::string_view base64) {
    return {field::authorization, "Basic " + std::string(base64)};
  }
  Response As(verb method, std::string target, std::pair<field, std::string> auth,
              std::string body = {}) {
    return Call(method, std::move(target), std::move(body),
                method == verb::post ? "application/json" : "", {std::move(auth)});
  }

  std::string users_;
  acl::Acl acl_;
  Handler auth_handler_{&service_, [this] {
                          HandlerOptions o = api::HttpHandlerOptions(Config{});
                          o.acl = &acl_;
                          return o;
                        }()};
};

// base64("writer:wpass"), base64("reader:rpass"), base64("reader:wrong")
constexpr std::string_view kWriter = "d3JpdGVyOndwYXNz";
constexpr std::string_view kReader = "cmVhZGVyOnJwYXNz";
constexpr std::string_view kWrong = "cmVhZGVyOndyb25n";

TEST_F(HttpAuthTest, CredentialsAreRequiredWhenTheDefaultUserIsOff) {
  Response r = Get("/devices/a1");
  EXPECT_EQ(r.result(), status::unauthorized);
  EXPECT_NE(r[field::www_authenticate].find("Basic"), std::string_view::npos);
  EXPECT_EQ(As(verb::get, "/devices/a1", Basic(kWrong)).result(), status::unauthorized);
  EXPECT_EQ(As(verb::get, "/devices/a1", Basic("!!notbase64")).result(), status::unauthorized);
  EXPECT_EQ(As(verb::get, "/devices/a1", {field::authorization, "Digest x"}).result(),
            status::unauthorized);
  EXPECT_EQ(service_.metrics().auth_failures.load(), 2u);  // wrong password, bad base64
  EXPECT_EQ(Get("/healthz").result(), status::ok);         // probes stay open
  EXPECT_EQ(Get("/readyz").result(), status::ok);
}

TEST_F(HttpAuthTest, RulesDecideWhatEachUserMayDo) {
  EXPECT_EQ(As(verb::post, "/devices/a1", Basic(kWriter), R"({"t":1})").result(), status::ok);
  EXPECT_EQ(As(verb::get, "/devices/a1", Basic(kReader)).result(), status::ok);
  EXPECT_EQ(As(verb::get, "/devices/a1", {field::authorization, "Bearer reader-token-0123456789"})
                .result(),
            status::ok);
  EXPECT_EQ(As(verb::get, "/devices/a1", {field::authorization, "Bearer wrong-token-0123456789"})
                .result(),
            status::unauthorized);
  // read-only user: no writes; key pattern device:a* excludes b1
  EXPECT_EQ(As(verb::post, "/devices/a1", Basic(kReader), R"({"t":2})").result(),
            status::forbidden);
  EXPECT_EQ(As(verb::get, "/devices/b1", Basic(kReader)).result(), status::forbidden);
  EXPECT_EQ(As(verb::get, "/devices", Basic(kReader)).result(), status::ok);
  // -@admin: no dead letters; INFO-like /metrics is allowed
  EXPECT_EQ(As(verb::get, "/deadletters", Basic(kWriter)).result(), status::forbidden);
  EXPECT_EQ(As(verb::get, "/metrics", Basic(kWriter)).result(), status::ok);
  EXPECT_EQ(As(verb::get, "/metrics", Basic(kReader)).result(), status::forbidden);
  EXPECT_EQ(service_.commits, 1);
}

TEST_F(HttpAuthTest, ABatchWithOneForbiddenDeviceWritesNothing) {
  std::ofstream(users_) << "user default off\nuser w on >wpass ~device:a* +@all\n";
  ASSERT_TRUE(acl_.Load(users_, "").ok());
  const auto w = Basic("dzp3cGFzcw==");  // w:wpass
  Response r = As(verb::post, "/events", w, R"([{"deviceId":"a1","t":1},{"deviceId":"b1","t":1}])");
  EXPECT_EQ(r.result(), status::forbidden);
  EXPECT_NE(r.body().find("b1"), std::string::npos);
  EXPECT_EQ(service_.commits, 0);
  EXPECT_EQ(
      As(verb::post, "/events", w, R"([{"deviceId":"a1","t":1},{"deviceId":"a2","t":1}])").result(),
      status::ok);
  EXPECT_EQ(service_.commits, 1);
}

}  // namespace
}  // namespace devstate::http
