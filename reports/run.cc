// planner-run/1 (planner train --record FILE): the page (steps, loss, peak memory and collectives per
// rank, against the plan file's prediction when it has one) and the CSV (one row per step).
#include <algorithm>
#include <array>
#include <map>
#include <sstream>

#include "core/units.h"
#include "reports/charts.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"
#include "simulator/prediction_json.h"

namespace planner::reports {

std::string render_run_html(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  const std::vector<double> step_s = get_numbers(r, "step_time_s");
  const std::vector<double> loss = r.has("loss") ? get_numbers(r, "loss") : std::vector<double>{};
  const int64_t warmup = r.get_int("warmup_steps", 0, 0);
  // The plan file the run was given (planner-plan/1), with the planner's prediction when present.
  std::string model = "?", plan_text = "?";
  bool has_pred = false;
  Prediction pred;  // the plan file's, when has_pred
  if (r.has("plan")) {
    JsonReader pf = r.child("plan");
    if (pf.has("model")) model = pf.child("model").get_string("name", "?");
    if (pf.has("plan")) plan_text = plan_label(get_plan(pf, "plan"));
    if (pf.has("prediction") && pf.raw().at("prediction").is_object() && pf.child("prediction").has("memory")) {
      const Candidate c = candidate_from_json(pf.child("prediction"));
      has_pred = has_prediction(c);
      pred = c.prediction;
    }
  }
  *title = "Training run: " + model + ", " + plan_text;
  *sub = source + " \xC2\xB7 planner-run/1 \xC2\xB7 " + std::to_string(step_s.size()) + " steps";
  std::vector<std::pair<std::string, std::string>> facts;
  if (r.has("machine")) {
    JsonReader m = r.child("machine");
    facts.push_back({"machine", html_escape(m.get_string("hostname", "?")) + " &middot; " + html_escape(m.get_string("device", "?")) + " &middot; " +
                                    html_escape(m.get_string("backend", "?")) + " &middot; world " + std::to_string(m.get_int("world", 1, 1)) +
                                    " &middot; " + std::to_string(m.get_int("threads_per_rank", 0, 0)) + " thread(s) per rank &middot; launcher " +
                                    html_escape(m.get_string("launcher", "?"))});
  }
  facts.push_back({"steps", std::to_string(step_s.size()) + " (" + std::to_string(warmup) + " warm-up, excluded from the median)"});
  const double med = r.has("step_time_s_median")
                         ? get_num(r, "step_time_s_median")
                         : median(std::vector<double>(step_s.begin() + std::min<size_t>(warmup, step_s.size()), step_s.end()));
  // Ranks.
  struct Rank {
    int64_t rank;
    double peak_alloc, peak_reserved;
    std::map<std::string, std::array<double, 3>> coll;  // seconds, bytes, calls
  };
  std::vector<Rank> ranks;
  if (r.has("ranks")) {
    const Json& rs = get_array(r, "ranks");
    for (size_t i = 0; i < rs.size(); ++i) {
      JsonReader x = element(r, "ranks", i);
      Rank k{x.get_int("rank", 0), get_nonneg(x, "peak_allocated_bytes"), get_num(x, "peak_reserved_bytes", -1), {}};
      if (x.has("collectives")) {
        JsonReader cs = x.child("collectives");
        for (auto it = cs.raw().begin(); it != cs.raw().end(); ++it) {
          JsonReader c = cs.child(it.key());
          k.coll[it.key()] = {get_nonneg(c, "seconds"), get_nonneg(c, "bytes"), get_nonneg(c, "calls")};
        }
      }
      ranks.push_back(k);
    }
  }
  double max_peak = 0;
  for (const auto& k : ranks) max_peak = std::max(max_peak, k.peak_alloc);

  std::ostringstream body, sum;
  sum << render_facts(facts);
  sum << "<div class=\"verdict\"><b>Median step time " << fmt_s(med) << "</b> (slowest rank per step)";
  if (!ranks.empty()) sum << "; peak allocated " << fmt_gib(max_peak) << " (largest rank)";
  if (!loss.empty()) sum << "; loss " << fmt_sig(loss.front(), 4) << " \xE2\x86\x92 " << fmt_sig(loss.back(), 4);
  sum << ".";
  if (has_pred) {
    sum << "<br>Predicted by the planner: " << fmt_s(pred.time.step_s) << " per step (" << error_pct_html((pred.time.step_s - med) / med, 0.10)
        << " vs measured)";
    if (max_peak > 0)
      sum << ", peak allocated " << fmt_gib(pred.memory.peak_allocated_bytes) << " (" << error_pct_html((pred.memory.peak_allocated_bytes - max_peak) / max_peak, 0.03)
          << " vs measured)";
    sum << ".";
  }
  sum << "</div>\n";
  body << section("summary", "Summary", "", sum.str());

  std::ostringstream ch;
  ch << "<div class=\"charts\">";
  LineSeries warm{"warm-up", "#9aa3ae", {}}, meas{"measured", "#1f5fa8", {}};
  for (size_t i = 0; i < step_s.size(); ++i) {
    const bool w = static_cast<int64_t>(i) < warmup;
    LinePoint p{static_cast<double>(i + 1), step_s[i], "step " + std::to_string(i + 1) + ": " + fmt_s(step_s[i]) + (w ? " (warm-up)" : "")};
    (w ? warm : meas).points.push_back(p);
    if (!w && static_cast<int64_t>(i) == warmup && warmup > 0) warm.points.push_back(p);  // joins the lines
  }
  LineChart a;
  a.title = "Step time";
  a.x_label = "step";
  a.integer_x = true;
  a.y_label = "seconds per step (s)";
  a.series = {meas};
  if (!warm.points.empty()) a.series.insert(a.series.begin(), warm);
  a.hlines.push_back({med, "median " + fmt_s(med), "#1a7f37"});
  if (has_pred) a.hlines.push_back({pred.time.step_s, "predicted " + fmt_s(pred.time.step_s), "#c55a11"});
  ch << figure(line_chart_svg(a), "Slowest rank per step.");
  if (!loss.empty()) {
    LineChart b;
    b.title = "Training loss";
    b.x_label = "step";
    b.y_label = "loss (mean over the global batch)";
    b.integer_x = true;
    b.y_from_zero = false;
    LineSeries ls{"loss", "#c55a11", {}};
    for (size_t i = 0; i < loss.size(); ++i)
      ls.points.push_back({static_cast<double>(i + 1), loss[i], "step " + std::to_string(i + 1) + ": loss " + fmt_sig(loss[i], 5)});
    b.series = {ls};
    ch << figure(line_chart_svg(b), "Loss after each optimizer step.");
  }
  ch << "</div>\n";
  body << section("steps", "Steps", "", ch.str());

  if (!ranks.empty()) {
    HBarChart m;
    m.title = "Peak memory per rank";
    m.axis_label = "peak memory (GiB)";
    m.grouped = true;
    bool any_reserved = false;
    for (const auto& k : ranks) any_reserved = any_reserved || k.peak_reserved >= 0;
    m.series = {{"peak allocated", "#2e75b6"}};
    if (any_reserved) m.series.push_back({"peak reserved", "#b9b9b9"});
    for (const auto& k : ranks) {
      HBar b;
      b.label = "rank " + std::to_string(k.rank);
      b.values = {bytes_to_gib(k.peak_alloc)};
      b.tips = {b.label + " - peak allocated: " + fmt_gib(k.peak_alloc) + " (" + fmt_count(k.peak_alloc) + " bytes)"};
      if (any_reserved) {
        b.values.push_back(bytes_to_gib(std::max(k.peak_reserved, 0.0)));
        b.tips.push_back(b.label + " - peak reserved: " + (k.peak_reserved >= 0 ? fmt_gib(k.peak_reserved) : "not measured"));
      }
      b.annotation = fmt_gib(k.peak_alloc);
      m.bars.push_back(b);
    }
    if (has_pred) {
      m.has_ref = true;
      m.ref_value = bytes_to_gib(pred.memory.peak_allocated_bytes);
      m.ref_label = "predicted peak allocated " + fmt_gib(pred.memory.peak_allocated_bytes);
    }
    std::string mem = figure(hbar_chart_svg(m), "CPU: a counting allocator; GPU: the CUDA caching allocator's peak counters.");

    // Collectives: seconds per kind per rank (stacked), and the table.
    std::vector<std::string> kinds;
    for (const auto& k : ranks)
      for (const auto& [name, v] : k.coll)
        if (v[2] > 0 && std::find(kinds.begin(), kinds.end(), name) == kinds.end()) kinds.push_back(name);
    std::sort(kinds.begin(), kinds.end());
    static const char* palette[] = {"#1f4e79", "#c55a11", "#548235", "#7030a0", "#b9b9b9", "#2e75b6"};
    HBarChart cc;
    cc.title = "Time blocked in collectives per rank";
    cc.axis_label = "seconds over the run (s)";
    for (size_t i = 0; i < kinds.size(); ++i) cc.series.push_back({kinds[i], palette[i % 6]});
    HtmlTable t;
    t.headers = {"rank", "collective", "calls", "bytes", "seconds", "effective GB/s"};
    t.numeric_cols = {0, 2, 3, 4, 5};
    for (const auto& k : ranks) {
      HBar b;
      b.label = "rank " + std::to_string(k.rank);
      double total = 0;
      for (const auto& name : kinds) {
        auto it = k.coll.find(name);
        const double s = it == k.coll.end() ? 0 : it->second[0];
        b.values.push_back(s);
        b.tips.push_back(b.label + " - " + name + ": " + fmt_s(s));
        total += s;
        if (it != k.coll.end() && it->second[2] > 0)
          t.rows.push_back({std::to_string(k.rank), html_escape(name), fmt_count(it->second[2]), fmt_bytes_auto(it->second[1]), fmt_s(s),
                            s > 0 ? fmt_sig(it->second[1] / s / 1e9, 3) : ""});
      }
      b.annotation = fmt_s(total);
      cc.bars.push_back(b);
    }
    std::string coll = kinds.empty() ? "<p>No collectives were recorded.</p>"
                                     : figure(hbar_chart_svg(cc), "Wall time each rank spent blocked in each kind of collective.") + render_table(t);
    body << section("memory", "Peak memory per rank", has_pred ? "The dashed line is the planner's prediction." : "", mem);
    body << section("collectives", "Collectives", "bytes: the logical buffer per call (all_gather: gathered output; reduce_scatter: unreduced input), summed over the run.", coll);
  }
  return body.str();
}

std::string render_run_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  const auto st = get_numbers(r, "step_time_s");
  const auto loss = r.has("loss") ? get_numbers(r, "loss") : std::vector<double>{};
  const int64_t warmup = r.get_int("warmup_steps", 0, 0);
  std::string out = csv_row({"step", "step_time_s", "loss", "warmup"});
  for (size_t i = 0; i < st.size(); ++i)
    out += csv_row({std::to_string(i + 1), csv_num(st[i]), i < loss.size() ? csv_num(loss[i]) : "", csv_bool(static_cast<int64_t>(i) < warmup)});
  return out;
}

}  // namespace planner::reports
