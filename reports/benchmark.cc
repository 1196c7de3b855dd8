// Google Benchmark JSON (--benchmark_format=json): the page (time per benchmark) and the CSV (one row
// per benchmark).
#include <sstream>

#include "reports/charts.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"

namespace planner::reports {

std::string render_benchmark_html(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  const auto bs = read_benchmarks(doc, source);
  JsonReader r(doc, source);
  *title = "Benchmarks";
  *sub = source + " \xC2\xB7 Google Benchmark JSON \xC2\xB7 " + std::to_string(bs.size()) + " benchmark(s)";
  std::vector<std::pair<std::string, std::string>> facts;
  if (r.has("context")) {
    JsonReader c = r.child("context");
    if (c.has("date")) facts.push_back({"date", html_escape(c.get_string("date", ""))});
    if (c.has("host_name")) facts.push_back({"host", html_escape(c.get_string("host_name", ""))});
    if (c.has("num_cpus")) facts.push_back({"CPUs", std::to_string(c.get_int("num_cpus", 0, 0))});
    if (c.has("library_build_type")) facts.push_back({"library build", html_escape(c.get_string("library_build_type", ""))});
  }
  HBarChart ch;
  ch.title = "Time per iteration";
  ch.axis_label = "time per iteration (us)";
  ch.grouped = true;
  ch.series = {{"real time", "#1f4e79"}, {"CPU time", "#9dc3e6"}};
  HtmlTable t;
  t.headers = {"benchmark", "real time (us)", "CPU time (us)", "statistic"};
  t.numeric_cols = {1, 2};
  for (const auto& b : bs) {
    if (b.error) {
      t.rows.push_back({"<code>" + html_escape(b.name) + "</code>", "", "", "<span class=\"fail\">error: " + html_escape(b.error_message) + "</span>"});
      continue;
    }
    HBar bar;
    bar.label = b.name;
    bar.values = {b.real_time_ns / 1e3, b.cpu_time_ns / 1e3};
    bar.tips = {b.name + " - real time: " + fmt_sig(b.real_time_ns / 1e3, 4) + " us",
                b.name + " - CPU time: " + fmt_sig(b.cpu_time_ns / 1e3, 4) + " us"};
    bar.annotation = fmt_sig(b.real_time_ns / 1e3, 4) + " us";
    ch.bars.push_back(bar);
    t.rows.push_back({"<code>" + html_escape(b.name) + "</code>", fmt_sig(b.real_time_ns / 1e3, 4), fmt_sig(b.cpu_time_ns / 1e3, 4), html_escape(b.statistic)});
  }
  std::ostringstream body;
  body << section("summary", "Summary", "", render_facts(facts));
  if (!ch.bars.empty()) body << section("times", "Times", "", figure(hbar_chart_svg(ch), "Median when repetitions were run."));
  body << section("table", "Every benchmark", "", render_table(t));
  return body.str();
}

std::string render_benchmark_csv(const Json& doc, const std::string& source) {
  std::string out = csv_row({"benchmark", "real_time_ns", "cpu_time_ns", "samples", "statistic", "error"});
  for (const auto& b : read_benchmarks(doc, source))
    out += csv_row({b.name, b.error ? "" : csv_num(b.real_time_ns), b.error ? "" : csv_num(b.cpu_time_ns), std::to_string(b.samples),
                    b.statistic, b.error_message});
  return out;
}

}  // namespace planner::reports
