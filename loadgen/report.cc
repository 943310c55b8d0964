#include "loadgen/report.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>

namespace devstate::loadgen {
namespace {

// ---- JSON --------------------------------------------------------------------------------

void AppendLatency(std::string* out, const LatencySummary& l) {
  fmt::format_to(
      std::back_inserter(*out),
      "{{\"count\":{},\"p50\":{:.1f},\"p90\":{:.1f},\"p99\":{:.1f},\"p999\":{:.1f},\"max\":{:.1f},"
      "\"mean\":{:.1f},\"curve\":[",
      l.count, l.p50, l.p90, l.p99, l.p999, l.max, l.mean);
  for (size_t i = 0; i < l.curve.size(); ++i) {
    fmt::format_to(std::back_inserter(*out), "{}[{:.6f},{:.1f}]", i ? "," : "", l.curve[i].first,
                   l.curve[i].second);
  }
  out->append("]}");
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

bool ReadLatency(simdjson::dom::element e, LatencySummary* l) {
  simdjson::dom::array curve;
  if (e["count"].get(l->count) || e["p50"].get(l->p50) || e["p90"].get(l->p90) ||
      e["p99"].get(l->p99) || e["p999"].get(l->p999) || e["max"].get(l->max) ||
      e["mean"].get(l->mean) || e["curve"].get(curve)) {
    return false;
  }
  for (simdjson::dom::element point : curve) {
    simdjson::dom::array pair;
    double q = 0, us = 0;
    if (point.get(pair) || pair.size() != 2 || pair.at(0).get(q) || pair.at(1).get(us))
      return false;
    l->curve.emplace_back(q, us);
  }
  return true;
}

// ---- HTML --------------------------------------------------------------------------------

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct Series {
  std::string label;
  std::string color;
  bool dashed = false;
  std::vector<std::pair<double, double>> points;  // in data units
};

// A chart area 720 x 360 with axes; maps data to pixels. Log axes take log10 of the data.
struct Chart {
  static constexpr double kWidth = 720, kHeight = 360, kLeft = 70, kRight = 40, kTop = 20,
                          kBottom = 50;
  double x0, x1, y0, y1;
  bool log_y;

  double X(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double Y(double y) const {
    const double v = log_y ? std::log10(std::max(y, 1e-3)) : y;
    return kHeight - kBottom - (v - y0) / (y1 - y0) * (kHeight - kTop - kBottom);
  }
};

std::string FormatMicros(double us) {
  if (us >= 1e6) return fmt::format("{:g} s", us / 1e6);
  if (us >= 1e3) return fmt::format("{:g} ms", us / 1e3);
  return fmt::format("{:g} us", us);
}

std::string FormatCount(double v) {
  if (v >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

// A step of 1, 2 or 5 x 10^k that gives about `ticks` intervals up to `max`.
double NiceStep(double max, int ticks) {
  const double raw = std::max(max, 1.0) / ticks;
  const double base = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * base >= raw) return m * base;
  }
  return 10 * base;
}

void AppendSeries(std::string* svg, const Chart& chart, const std::vector<Series>& series) {
  for (const Series& s : series) {
    if (s.points.empty()) continue;
    std::string points;
    for (const auto& [x, y] : s.points)
      points += fmt::format("{:.1f},{:.1f} ", chart.X(x), chart.Y(y));
    fmt::format_to(std::back_inserter(*svg),
                   "<polyline class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} "
                   "points=\"{}\"/>\n",
                   s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "", points);
  }
  // Legend, below the axis title, one series per line.
  double y = Chart::kHeight + 8;
  for (const Series& s : series) {
    fmt::format_to(
        std::back_inserter(*svg),
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>"
        "<text x=\"{5}\" y=\"{6}\">{7}</text>\n",
        Chart::kLeft, y, Chart::kLeft + 24, s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "",
        Chart::kLeft + 30, y + 4, Escape(s.label));
    y += 16;
  }
}

std::string Svg(std::string_view title, std::string_view x_title, std::string_view y_title,
                size_t legend_rows, std::string body) {
  return fmt::format(
      "<figure><figcaption>{0}</figcaption>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{1}\" height=\"{2}\" viewBox=\"0 0 {1} "
      "{2}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n{3}"
      "<text x=\"{4}\" y=\"{5}\" text-anchor=\"middle\">{6}</text>\n"
      "<text transform=\"translate(14 {7}) rotate(-90)\" "
      "text-anchor=\"middle\">{8}</text>\n</svg></figure>\n",
      Escape(title), Chart::kWidth, Chart::kHeight + 8 + 16 * legend_rows, body,
      (Chart::kWidth + Chart::kLeft) / 2, Chart::kHeight - 8, Escape(x_title), Chart::kHeight / 2,
      Escape(y_title));
}

void AppendFrame(std::string* svg) {
  fmt::format_to(
      std::back_inserter(*svg),
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n",
      Chart::kLeft, Chart::kTop, Chart::kWidth - Chart::kLeft - Chart::kRight,
      Chart::kHeight - Chart::kTop - Chart::kBottom);
}

void AppendXTick(std::string* svg, const Chart& c, double x, std::string_view label) {
  fmt::format_to(std::back_inserter(*svg),
                 "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                 "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                 c.X(x), Chart::kTop, Chart::kHeight - Chart::kBottom,
                 Chart::kHeight - Chart::kBottom + 16, Escape(label));
}

void AppendYTick(std::string* svg, const Chart& c, double y, std::string_view label) {
  fmt::format_to(std::back_inserter(*svg),
                 "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
                 "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                 Chart::kLeft, c.Y(y), Chart::kWidth - Chart::kRight, Chart::kLeft - 6, c.Y(y) + 4,
                 Escape(label));
}

// Latency against percentile, the percentile axis in "nines" (0 = p0, 1 = p90, 2 = p99,
// ...) so the tail gets as much room as the body; latency on a log axis.
std::string LatencyChart(const std::vector<RunSummary>& runs) {
  std::vector<Series> series;
  size_t color = 0;
  for (const RunSummary& r : runs) {
    const std::vector<TableRow> rows = TableRows(r);
    for (size_t i = 0; i < rows.size(); ++i) {  // a mixed run's reads and writes dashed
      const LatencySummary& l = *rows[i].latency;
      Series s{rows[i].name, kColors[color++ % std::size(kColors)], i > 0, {}};
      const double deepest = l.count > 1 ? std::log10(static_cast<double>(l.count)) : 0;
      for (const auto& [q, us] : l.curve)
        s.points.emplace_back(q >= 1 ? deepest : -std::log10(1 - q), us);
      series.push_back(std::move(s));
    }
  }
  double max_x = 1, min_us = 1e18, max_us = 1;
  for (const Series& s : series) {
    for (const auto& [x, us] : s.points) {
      max_x = std::max(max_x, x);
      if (us > 0) min_us = std::min(min_us, us);
      max_us = std::max(max_us, us);
    }
  }
  if (min_us > max_us) min_us = 1;
  const Chart c{0, std::ceil(max_x), std::floor(std::log10(min_us)),
                std::ceil(std::log10(max_us) + 1e-9), true};
  std::string body;
  AppendFrame(&body);
  for (int n = 0; n <= static_cast<int>(c.x1); ++n) {
    std::string label = "p0";
    if (n == 1) label = "p90";
    if (n >= 2) label = "p99" + (n > 2 ? "." + std::string(n - 2, '9') : std::string());
    AppendXTick(&body, c, n, label);
  }
  for (int e = static_cast<int>(c.y0); e <= static_cast<int>(c.y1); ++e)
    AppendYTick(&body, c, std::pow(10, e), FormatMicros(std::pow(10, e)));
  AppendSeries(&body, c, series);
  return Svg("Latency by percentile (log scale)", "percentile", "latency", series.size(), body);
}

// Completions per second over the run (whole seconds only: the last, partial one would
// read as a drop).
std::string ThroughputChart(const std::vector<RunSummary>& runs) {
  std::vector<Series> series;
  size_t color = 0;
  double max_x = 1, max_y = 1;
  for (const RunSummary& r : runs) {
    Series s{r.name, kColors[color % std::size(kColors)], false, {}};
    color += TableRows(r).size();  // the same colours as the latency chart
    const size_t whole =
        std::min(r.per_second.size(), static_cast<size_t>(std::max(1.0, std::floor(r.seconds))));
    for (size_t i = 0; i < whole; ++i) {
      s.points.emplace_back(static_cast<double>(i) + 0.5, static_cast<double>(r.per_second[i]));
      max_y = std::max(max_y, static_cast<double>(r.per_second[i]));
    }
    max_x = std::max(max_x, static_cast<double>(whole));
    series.push_back(std::move(s));
  }
  const double y_step = NiceStep(max_y, 5);
  const double x_step = NiceStep(max_x, 10);
  const Chart c{0, std::ceil(max_x / x_step) * x_step, 0, std::ceil(max_y / y_step) * y_step,
                false};
  std::string body;
  AppendFrame(&body);
  for (double x = 0; x <= c.x1 + 1e-9; x += x_step)
    AppendXTick(&body, c, x, fmt::format("{:g}", x));
  for (double y = 0; y <= c.y1 + 1e-9; y += y_step) AppendYTick(&body, c, y, FormatCount(y));
  AppendSeries(&body, c, series);
  return Svg("Throughput over time", "seconds into the run", "completed requests per second",
             series.size(), body);
}

}  // namespace

LatencySummary Summarize(const Histogram& h) {
  LatencySummary l;
  auto us = [&](double q) { return static_cast<double>(h.Percentile(q)) / 1000.0; };
  l.count = h.count();
  l.p50 = us(0.5);
  l.p90 = us(0.9);
  l.p99 = us(0.99);
  l.p999 = us(0.999);
  l.max = static_cast<double>(h.max()) / 1000.0;
  l.mean = h.mean() / 1000.0;
  if (l.count == 0) return l;
  // Every tenth of a nine, as deep as the sample size supports, then the maximum.
  const double deepest = std::log10(static_cast<double>(l.count));
  for (int tenth = 0; tenth / 10.0 < deepest && tenth <= 60; ++tenth) {
    const double q = 1 - std::pow(10, -tenth / 10.0);
    l.curve.emplace_back(q, us(q));
  }
  l.curve.emplace_back(1.0, l.max);
  return l;
}

RunSummary Summarize(std::string name, const LoadResult& result) {
  RunSummary run;
  run.name = std::move(name);
  run.seconds = result.seconds;
  run.requests = result.requests;
  run.events = result.events;
  run.errors = result.errors;
  run.latency = Summarize(result.latency_ns);
  if (result.read_latency_ns.count() + result.write_latency_ns.count() > 0) {
    run.reads = Summarize(result.read_latency_ns);
    run.writes = Summarize(result.write_latency_ns);
  }
  run.per_second = result.per_second;
  return run;
}

std::vector<TableRow> TableRows(const RunSummary& run) {
  std::vector<TableRow> rows = {
      {run.name, run.requests_per_second(), run.events_per_second(), run.errors, &run.latency}};
  const double seconds = run.seconds > 0 ? run.seconds : 1;
  for (const auto& [suffix, part] :
       {std::pair{" (reads)", &run.reads}, std::pair{" (writes)", &run.writes}}) {
    if (*part)
      rows.push_back(
          {run.name + suffix, (*part)->count / seconds, (*part)->count / seconds, 0, &**part});
  }
  return rows;
}

std::string ToJson(const RunSummary& run) {
  std::string out = fmt::format(
      "{{\"scenario\":{},\"seconds\":{:.3f},\"requests\":{},\"events\":{},\"errors\":{},"
      "\"requests_per_second\":{:.1f},\"events_per_second\":{:.1f},\"latency_us\":",
      JsonString(run.name), run.seconds, run.requests, run.events, run.errors,
      run.requests_per_second(), run.events_per_second());
  AppendLatency(&out, run.latency);
  if (run.reads) {
    out += ",\"reads_latency_us\":";
    AppendLatency(&out, *run.reads);
  }
  if (run.writes) {
    out += ",\"writes_latency_us\":";
    AppendLatency(&out, *run.writes);
  }
  out += ",\"per_second\":[";
  for (size_t i = 0; i < run.per_second.size(); ++i)
    out += fmt::format("{}{}", i ? "," : "", run.per_second[i]);
  out += "]}\n";
  return out;
}

bool FromJson(std::string_view json, RunSummary* run, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto e = parser.parse(simdjson::padded_string(json)).get(root)) {
    *error = fmt::format("not JSON: {}", simdjson::error_message(e));
    return false;
  }
  std::string_view name;
  simdjson::dom::element latency, element;
  simdjson::dom::array per_second;
  if (root["scenario"].get(name) || root["seconds"].get(run->seconds) ||
      root["requests"].get(run->requests) || root["events"].get(run->events) ||
      root["errors"].get(run->errors) || root["latency_us"].get(latency) ||
      !ReadLatency(latency, &run->latency) || root["per_second"].get(per_second)) {
    *error = "not a devstate-loadgen result (a field is missing or of the wrong type)";
    return false;
  }
  run->name = std::string(name);
  for (auto [key, slot] :
       {std::pair{"reads_latency_us", &run->reads}, std::pair{"writes_latency_us", &run->writes}}) {
    if (root[key].get(element) == simdjson::SUCCESS) {
      LatencySummary l;
      if (!ReadLatency(element, &l)) {
        *error = fmt::format("bad {}", key);
        return false;
      }
      *slot = std::move(l);
    }
  }
  for (simdjson::dom::element v : per_second) {
    uint64_t n = 0;
    if (v.get(n)) {
      *error = "bad per_second";
      return false;
    }
    run->per_second.push_back(n);
  }
  return true;
}

std::string RenderHtml(std::string_view title, const std::vector<RunSummary>& runs) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\n"
      "<style>body{{font-family:sans-serif;margin:2em;color:#222}} "
      "table{{border-collapse:collapse}} "
      "td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} "
      "td:first-child,th:first-child{{text-align:left}} "
      "figure{{margin:2em 0}} "
      "figcaption{{font-weight:bold;margin-bottom:.5em}}</style></head><body>\n"
      "<h1>{0}</h1>\n<table><tr><th>run</th><th>requests/s</th><th>events/s</th><th>errors</"
      "th><th>p50 us</th>"
      "<th>p90 us</th><th>p99 us</th><th>p99.9 us</th><th>max us</th></tr>\n",
      Escape(title));
  for (const RunSummary& r : runs) {
    for (const TableRow& row : TableRows(r)) {
      const LatencySummary& l = *row.latency;
      out += fmt::format(
          "<tr><td>{}</td><td>{:.0f}</td><td>{:.0f}</td><td>{}</td><td>{:.0f}</td><td>{:.0f}</"
          "td><td>{:.0f}</td>"
          "<td>{:.0f}</td><td>{:.0f}</td></tr>\n",
          Escape(row.name), row.requests_per_second, row.events_per_second, row.errors, l.p50,
          l.p90, l.p99, l.p999, l.max);
    }
  }
  out += "</table>\n";
  out += LatencyChart(runs);
  out += ThroughputChart(runs);
  out += "</body></html>\n";
  return out;
}

}  // namespace devstate::loadgen
