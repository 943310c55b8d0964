#include "loadgen/report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "loadgen/progress.h"

namespace devstate::loadgen {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

size_t Count(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

// 1000 requests over three seconds at 1..1000 us; every tenth is a read, the rest writes.
LoadResult SampleResult() {
  LoadResult r;
  r.start = Clock::time_point{};
  for (int i = 1; i <= 1000; ++i) {
    const auto now = r.start + milliseconds(i * 3);  // 333 per second, the last in second 3
    r.Ok(now, microseconds(i), 1, i % 10 == 0 ? OpKind::kRead : OpKind::kWrite);
  }
  r.Error();
  r.seconds = 3;
  return r;
}

TEST(LoadResultTest, CountsPerSecondAndPerKind) {
  const LoadResult r = SampleResult();
  EXPECT_EQ(r.requests, 1000u);
  EXPECT_EQ(r.errors, 1u);
  EXPECT_EQ(r.read_latency_ns.count(), 100u);
  EXPECT_EQ(r.write_latency_ns.count(), 900u);
  ASSERT_EQ(r.per_second.size(), 4u);
  EXPECT_EQ(r.per_second[0], 333u);  // 3 ms .. 999 ms
  EXPECT_EQ(r.per_second[1], 333u);
  EXPECT_EQ(r.per_second[2], 333u);
  EXPECT_EQ(r.per_second[3], 1u);  // exactly 3 s
  LoadResult merged;
  merged.Merge(r);
  merged.Merge(r);
  EXPECT_EQ(merged.per_second[1], 666u);
  EXPECT_EQ(merged.read_latency_ns.count(), 200u);
  EXPECT_EQ(merged.errors, 2u);
}

TEST(LoadResultTest, LiveCounterFollowsTheCounts) {
  LiveCounter live;
  LoadResult r;
  r.live = &live;
  r.Ok(Clock::now(), microseconds(5));
  r.Ok(Clock::now(), microseconds(5));
  r.Error(3);
  EXPECT_EQ(live.done.load(), 2u);
  EXPECT_EQ(live.errors.load(), 3u);
}

TEST(ReportTest, SummaryCurveClimbsToTheMaximum) {
  const RunSummary run = Summarize("sample", SampleResult());
  EXPECT_NEAR(run.latency.p50, 500, 500 * 0.02);
  EXPECT_NEAR(run.latency.p99, 990, 990 * 0.02);
  EXPECT_EQ(run.latency.max, 1000);
  ASSERT_TRUE(run.reads && run.writes);
  EXPECT_EQ(run.reads->count, 100u);
  // 1000 samples support three nines: points every tenth of a nine up to p99.9, then max.
  const auto& curve = run.latency.curve;
  ASSERT_EQ(curve.size(), 31u);
  EXPECT_EQ(curve.front().first, 0);
  EXPECT_EQ(curve.back(), std::make_pair(1.0, 1000.0));
  for (size_t i = 1; i < curve.size(); ++i) {
    EXPECT_GT(curve[i].first, curve[i - 1].first);
    EXPECT_GE(curve[i].second, curve[i - 1].second);
  }
}

TEST(ReportTest, JsonRoundTrips) {
  RunSummary run = Summarize("devstate \"resp-get\" -P 16", SampleResult());
  RunSummary back;
  std::string error;
  ASSERT_TRUE(FromJson(ToJson(run), &back, &error)) << error;
  EXPECT_EQ(back.name, run.name);
  EXPECT_EQ(back.requests, 1000u);
  EXPECT_EQ(back.errors, 1u);
  EXPECT_EQ(back.per_second, run.per_second);
  EXPECT_EQ(back.latency.curve.size(), run.latency.curve.size());
  EXPECT_NEAR(back.latency.p99, run.latency.p99, 0.1);
  ASSERT_TRUE(back.reads && back.writes);
  EXPECT_EQ(back.writes->count, 900u);

  run.reads.reset();
  run.writes.reset();
  back = RunSummary();
  ASSERT_TRUE(FromJson(ToJson(run), &back, &error)) << error;
  EXPECT_FALSE(back.reads);
}

TEST(ReportTest, JsonRejectsOtherDocuments) {
  RunSummary run;
  std::string error;
  EXPECT_FALSE(FromJson("not json", &run, &error));
  EXPECT_FALSE(FromJson(R"({"scenario":"x","seconds":1})", &run, &error));
  EXPECT_NE(error.find("not a devstate-loadgen result"), std::string::npos) << error;
}

TEST(ReportTest, HtmlIsSelfContainedWithBothCharts) {
  const RunSummary a = Summarize("devstate <GET>", SampleResult());
  LoadResult plain = SampleResult();
  plain.read_latency_ns = plain.write_latency_ns = Histogram();  // not a mixed run
  const RunSummary b = Summarize("redis-server", plain);
  const std::string html = RenderHtml("devstate & redis", {a, b});
  EXPECT_EQ(Count(html, "<svg"), 2u);
  // Latency: a, a's reads, a's writes, b. Throughput: a, b.
  EXPECT_EQ(Count(html, "class=\"series\""), 6u);
  EXPECT_NE(html.find("devstate &lt;GET&gt;"), std::string::npos);
  EXPECT_EQ(html.find("devstate <GET>"), std::string::npos);
  EXPECT_NE(html.find("<title>devstate &amp; redis</title>"), std::string::npos);
  EXPECT_NE(html.find("p99.9"), std::string::npos);
  // Nothing to fetch: no scripts, links, images or stylesheets from elsewhere.
  for (const char* fetch : {"<script", "src=", "href=", "<link", "@import"}) {
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
  }
  // Three whole seconds: the throughput series has three points, the partial fourth dropped.
  const size_t last = html.rfind("class=\"series\"");
  const size_t points = html.find("points=\"", last);
  const std::string p = html.substr(points, html.find("\"/>", points) - points);
  EXPECT_EQ(Count(p, ","), 3u) << p;
}

TEST(ProgressLineTest, PrintsOneLinePerUpdateToAFile) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressLine line(true, Clock::now(), 10, f);
  line.Update(100, 0);
  line.Update(250, 2);
  line.Finish();
  std::rewind(f);
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  const std::string out(buf, n);
  EXPECT_EQ(Count(out, "\n"), 2u) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("250 done"), std::string::npos) << out;
  EXPECT_NE(out.find("2 errors"), std::string::npos) << out;
}

TEST(ProgressLineTest, DisabledPrintsNothing) {
  std::FILE* f = std::tmpfile();
  ProgressLine line(false, Clock::now(), 10, f);
  line.Update(100, 0);
  line.Finish();
  EXPECT_EQ(std::ftell(f), 0);
  std::fclose(f);
}

}  // namespace
}  // namespace devstate::loadgen
