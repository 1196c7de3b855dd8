// HTML reports of measured documents: training runs, topology probes, validations, benchmarks.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/units.h"
#include "reports/charts.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/report_common.h"

namespace planner::reports {

namespace {

std::string esc(const std::string& s) { return html_escape(s); }
std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure>" + svg + "<figcaption>" + esc(caption) + "</figcaption></figure>\n";
}
std::string within_abs(double err, double threshold) {  // |error| without a sign
  return std::string(err <= threshold ? "<span class=\"ok\">" : "<span class=\"fail\">") + fmt_pct(err) + "</span>";
}
std::string opt_int(int64_t v) { return v < 0 ? "?" : std::to_string(v); }
double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
std::string within(double err, double threshold) {
  const std::string txt = (err >= 0 ? "+" : "") + fmt_pct(err);
  return std::fabs(err) <= threshold ? "<span class=\"ok\">" + txt + "</span>" : "<span class=\"fail\">" + txt + "</span>";
}

}  // namespace

// ---------------------------------------------------------------- planner-run/1

std::string render_run(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  const std::vector<double> step_s = get_numbers(r, "step_time_s");
  const std::vector<double> loss = r.has("loss") ? get_numbers(r, "loss") : std::vector<double>{};
  const int64_t warmup = r.get_int("warmup_steps", 0, 0);
  // The plan file the run was given (planner-plan/1), with the planner's prediction when present.
  std::string model = "?", plan_text = "?";
  bool has_pred = false;
  CandidateView pred;
  if (r.has("plan")) {
    JsonReader pf = r.child("plan");
    if (pf.has("model")) model = pf.child("model").get_string("name", "?");
    if (pf.has("plan")) plan_text = plan_label(get_plan(pf, "plan"));
    if (pf.has("prediction") && pf.raw().at("prediction").is_object() && pf.child("prediction").has("memory")) {
      pred = read_candidate(pf.child("prediction"));
      has_pred = pred.has_prediction;
    }
  }
  *title = "Training run: " + model + ", " + plan_text;
  *sub = source + " \xC2\xB7 planner-run/1 \xC2\xB7 " + std::to_string(step_s.size()) + " steps";
  std::vector<std::pair<std::string, std::string>> facts;
  if (r.has("machine")) {
    JsonReader m = r.child("machine");
    facts.push_back({"machine", esc(m.get_string("hostname", "?")) + " &middot; " + esc(m.get_string("device", "?")) + " &middot; " +
                                    esc(m.get_string("backend", "?")) + " &middot; world " + std::to_string(m.get_int("world", 1, 1)) +
                                    " &middot; " + std::to_string(m.get_int("threads_per_rank", 0, 0)) + " thread(s) per rank &middot; launcher " +
                                    esc(m.get_string("launcher", "?"))});
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
    sum << "<br>Predicted by the planner: " << fmt_s(pred.step_s) << " per step (" << within((pred.step_s - med) / med, 0.10)
        << " vs measured)";
    if (max_peak > 0)
      sum << ", peak allocated " << fmt_gib(pred.peak_allocated_bytes) << " (" << within((pred.peak_allocated_bytes - max_peak) / max_peak, 0.03)
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
  if (has_pred) a.hlines.push_back({pred.step_s, "predicted " + fmt_s(pred.step_s), "#c55a11"});
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
      m.ref_value = bytes_to_gib(pred.peak_allocated_bytes);
      m.ref_label = "predicted peak allocated " + fmt_gib(pred.peak_allocated_bytes);
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
          t.rows.push_back({std::to_string(k.rank), esc(name), fmt_count(it->second[2]), fmt_bytes_auto(it->second[1]), fmt_s(s),
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

// ---------------------------------------------------------------- planner-topology/1

std::string render_topology(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  *title = "Topology: " + r.get_string("source", "?");
  *sub = source + " \xC2\xB7 planner-topology/1";
  std::vector<std::pair<std::string, std::string>> facts;
  if (r.has("host")) {
    JsonReader h = r.child("host");
    std::vector<std::string> parts;
    if (!h.get_string("machine", "").empty()) parts.push_back(esc(h.get_string("machine")));
    if (!h.get_string("cpu_model", "").empty()) parts.push_back(esc(h.get_string("cpu_model")));
    std::string counts;
    for (const char* k : {"packages", "numa_nodes", "cores"}) {
      const int64_t n = h.get_int(k, 0, 0);
      if (n > 0) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + (std::string(k) == "numa_nodes" ? "NUMA node(s)" : std::string(k) == "packages" ? "package(s)" : "cores");
    }
    if (!counts.empty()) parts.push_back(counts);
    if (get_num(h, "memory_gib", 0) > 0) parts.push_back(fmt_fixed(get_num(h, "memory_gib"), 1) + " GiB");
    std::string v;
    for (const auto& p : parts) v += (v.empty() ? "" : " &middot; ") + p;
    if (v.empty()) v = "not described by this source";
    facts.push_back({"host", v});
  }
  if (r.has("inter_socket")) {
    JsonReader s = r.child("inter_socket");
    facts.push_back({"between sockets", fmt_sig(get_num(s, "bw_GBps", 0), 3) + " GB/s (" + esc(s.get_string("why", "")) + ")"});
  }
  if (r.has("nvlink")) facts.push_back({"NVLink", esc(r.child("nvlink").get_string("status", ""))});
  std::ostringstream body;
  body << section("summary", "Summary", "", render_facts(facts));

  std::vector<std::string> gpu_names;
  if (r.has("gpus")) {
    const Json& gs = get_array(r, "gpus");
    HtmlTable t;
    t.headers = {"#", "name", "bus id", "planned", "socket", "NUMA", "memory (GiB)", "NVLink"};
    t.numeric_cols = {0, 4, 5, 6};
    for (size_t i = 0; i < gs.size(); ++i) {
      JsonReader g = element(r, "gpus", i);
      gpu_names.push_back(g.get_string("name", "?"));
      const bool planned = g.get_bool("planned", false);
      t.rows.push_back({std::to_string(i), esc(g.get_string("name", "?")), "<code>" + esc(g.get_string("busid", "")) + "</code>",
                        planned ? "yes" : "no: " + esc(g.get_string("excluded_why", "")), opt_int(g.get_int("package", -1, -1)), opt_int(g.get_int("numa", -1, -1)),
                        get_num(g, "memory_gib", 0) > 0 ? fmt_fixed(get_num(g, "memory_gib", 0), 1) : "?",
                        esc(g.get_string("nvlink_generation", ""))});
      t.row_classes.push_back(planned ? "" : "muted");
    }
    if (!gs.empty()) body << section("gpus", "GPUs", "", render_table(t));
  }
  if (r.has("matrix")) {
    JsonReader m = r.child("matrix");
    const std::vector<double> idx = get_numbers(m, "gpus");
    const Json& bw = get_array(m, "bw_GBps");
    const Json& ty = m.has("type") ? get_array(m, "type") : Json::array();
    const size_t n = idx.size();
    if (bw.size() != n)
      throw InputError(source, "matrix.bw_GBps", "has " + std::to_string(bw.size()) + " rows for " + std::to_string(n) + " GPUs");
    if (n == 0) {
      body << section("matrix", "GPU-to-GPU bandwidth", "", "<p>No GPU the planner can plan on was found, so there is no matrix.</p>");
    } else {
      HeatMap h;
      h.title = "GPU-to-GPU bandwidth per direction";
      h.unit = "GB/s per direction";
      for (size_t i = 0; i < n; ++i) {
        h.row_labels.push_back("GPU" + fmt_fixed(idx[i], 0));
        h.col_labels.push_back("GPU" + fmt_fixed(idx[i], 0));
      }
      for (size_t i = 0; i < n; ++i) {
        if (!bw[i].is_array() || bw[i].size() != n)
          throw InputError(source, "matrix.bw_GBps[" + std::to_string(i) + "]", "expected an array of " + std::to_string(n) + " numbers");
        std::vector<double> vrow;
        std::vector<std::string> trow, tiprow;
        for (size_t j = 0; j < n; ++j) {
          const Json& v = bw[i][j];
          if (!v.is_number())
            throw InputError(source, "matrix.bw_GBps[" + std::to_string(i) + "][" + std::to_string(j) + "]", "expected a number, got " + json_type_name(v));
          const double x = v.get<double>();
          const std::string type = i < ty.size() && ty[i].is_array() && j < ty[i].size() && ty[i][j].is_string() ? ty[i][j].get<std::string>() : "";
          vrow.push_back(i == j ? NAN : x);
          trow.push_back(i == j ? "X" : (type.empty() ? "" : type + " ") + (x > 0 ? fmt_sig(x, 3) : "?"));
          tiprow.push_back("GPU" + fmt_fixed(idx[i], 0) + " \xE2\x86\x92 GPU" + fmt_fixed(idx[j], 0) + ": " +
                           (i == j ? "self" : (x > 0 ? fmt_sig(x, 4) + " GB/s" : "bandwidth unknown") + (type.empty() ? "" : " via " + type)));
        }
        h.values.push_back(vrow);
        h.text.push_back(trow);
        h.tips.push_back(tiprow);
      }
      body << section("matrix", "GPU-to-GPU bandwidth",
                      "Effective bandwidth of each GPU pair per direction, with its path class (NV: NVLink, NVS: NVSwitch, PIX/PXB: "
                      "PCIe switch, PHB: host bridge, NODE: same NUMA node, SYS: across sockets). Darker is faster.",
                      figure(heat_map_svg(h), "Hover a cell for its exact bandwidth."));
    }
  }
  if (r.has("rings")) {
    const Json& rs = get_array(r, "rings");
    HtmlTable t;
    t.headers = {"TP group size", "ring bandwidth (GB/s)", "bottleneck", "why"};
    t.numeric_cols = {0, 1};
    for (size_t i = 0; i < rs.size(); ++i) {
      JsonReader x = element(r, "rings", i);
      t.rows.push_back({std::to_string(x.get_int("group_size", 1)), fmt_sig(get_num(x, "bw_GBps", 0), 4), esc(x.get_string("bottleneck", "")),
                        esc(x.get_string("why", ""))});
    }
    if (!rs.empty())
      body << section("rings", "Ring bandwidth of consecutive GPU groups", "TP groups are consecutive ranks; the worst group's narrowest ring edge.",
                      render_table(t));
  }
  if (r.has("nics")) {
    const Json& ns = get_array(r, "nics");
    HtmlTable t;
    t.headers = {"name", "kind", "bus id", "rate (Gb/s)", "RDMA", "socket"};
    t.numeric_cols = {3, 5};
    for (size_t i = 0; i < ns.size(); ++i) {
      JsonReader x = element(r, "nics", i);
      const double rate = get_num(x, "rate_Gbps", 0);
      t.rows.push_back({esc(x.get_string("name", "")), esc(x.get_string("kind", "")), "<code>" + esc(x.get_string("busid", "")) + "</code>",
                        rate > 0 ? fmt_sig(rate, 4) : "unknown", x.get_bool("rdma", false) ? "yes" : "no",
                        opt_int(x.get_int("package", -1, -1))});
    }
    if (!ns.empty()) body << section("nics", "Network interfaces", "", render_table(t));
  }
  if (r.has("notes")) {
    const Json& ns = get_array(r, "notes");
    if (!ns.empty()) {
      std::string ul = "<ul>";
      for (const auto& n : ns) ul += "<li>" + esc(n.is_string() ? n.get<std::string>() : n.dump()) + "</li>";
      body << section("notes", "Notes", "", ul + "</ul>\n");
    }
  }
  return body.str();
}

// ---------------------------------------------------------------- planner-validate/1

std::string render_validate(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  const ValidateDoc v = read_validate(doc, source);
  *title = "Validation: " + v.model + " on " + std::to_string(v.world) + " rank(s)" + (v.cluster.empty() ? "" : " (" + v.cluster + ")");
  *sub = source + " \xC2\xB7 planner-validate/1 \xC2\xB7 predicted vs measured, " + std::to_string(v.rows.size()) + " plan(s)";
  constexpr double kMemT = 0.03, kStepT = 0.10;  // the default gate thresholds (docs/reports.md)
  std::vector<double> ps, ms;
  double worst_mem = 0, worst_step = 0;
  for (const auto& x : v.rows) {
    ps.push_back(x.predicted_step_s);
    ms.push_back(x.measured_step_s);
    worst_mem = std::max(worst_mem, std::fabs(x.memory_error));
    worst_step = std::max(worst_step, std::fabs(x.step_time_error));
  }
  const double rho = spearman(ps, ms);
  const bool agree = same_plan(v.predicted_best, v.measured_best);
  double regret = 0;
  for (const auto& x : v.rows)
    if (same_plan(x.plan, v.predicted_best))
      for (const auto& y : v.rows)
        if (same_plan(y.plan, v.measured_best)) regret = x.measured_step_s / y.measured_step_s - 1.0;
  std::ostringstream body, sum;
  sum << render_facts({{"model", esc(v.model)}, {"world", std::to_string(v.world) + " rank(s)"},
                       {"worst memory error", within_abs(worst_mem, kMemT) + " (threshold &plusmn;3%)"},
                       {"worst step-time error", within_abs(worst_step, kStepT) + " (threshold &plusmn;10%)"},
                       {"rank correlation", std::isfinite(rho) ? "Spearman &rho; = " + fmt_fixed(rho, 3) + " (predicted vs measured step time)" : "n/a (fewer than two distinct plans)"}});
  if (agree)
    sum << "<div class=\"verdict good\"><b>Ranking agrees:</b> the predicted best, " << esc(plan_label(v.predicted_best))
        << ", is also the fastest measured.</div>\n";
  else
    sum << "<div class=\"verdict bad\"><b>Ranking differs:</b> predicted best " << esc(plan_label(v.predicted_best)) << ", measured best "
        << esc(plan_label(v.measured_best)) << "; the predicted best measured " << fmt_pct(regret) << " slower.</div>\n";
  body << section("summary", "Summary", "", sum.str());

  HBarChart mem, step;
  mem.title = "Peak allocated memory per GPU: predicted vs measured";
  mem.axis_label = "peak allocated (GiB)";
  step.title = "Step time: predicted vs measured";
  step.axis_label = "seconds per optimizer step (s)";
  mem.grouped = step.grouped = true;
  mem.series = step.series = {{"predicted", "#9dc3e6"}, {"measured", "#1f4e79"}};
  HtmlTable t;
  t.headers = {"plan", "predicted peak (GiB)", "measured peak (GiB)", "memory error", "predicted step (s)", "measured step (s)", "step-time error"};
  t.numeric_cols = {1, 2, 3, 4, 5, 6};
  const bool speeds = std::any_of(v.rows.begin(), v.rows.end(), [](const ValidateRow& x) { return x.host_speed > 0; });
  if (speeds) {
    t.headers.push_back("host speed vs calibration");
    t.numeric_cols.push_back(7);
  }
  for (const auto& x : v.rows) {
    const std::string label = plan_label(x.plan);
    HBar a;
    a.label = label;
    a.values = {bytes_to_gib(x.predicted_peak_allocated_bytes), bytes_to_gib(x.measured_peak_allocated_bytes)};
    a.tips = {label + " - predicted: " + fmt_gib(x.predicted_peak_allocated_bytes), label + " - measured: " + fmt_gib(x.measured_peak_allocated_bytes)};
    a.annotation = "error " + std::string(x.memory_error >= 0 ? "+" : "") + fmt_pct(x.memory_error);
    a.highlight = same_plan(x.plan, v.measured_best);
    mem.bars.push_back(a);
    HBar b;
    b.label = label;
    b.values = {x.predicted_step_s, x.measured_step_s};
    b.tips = {label + " - predicted: " + fmt_s(x.predicted_step_s), label + " - measured: " + fmt_s(x.measured_step_s)};
    b.annotation = "error " + std::string(x.step_time_error >= 0 ? "+" : "") + fmt_pct(x.step_time_error);
    b.highlight = a.highlight;
    step.bars.push_back(b);
    t.rows.push_back({esc(label), fmt_fixed(bytes_to_gib(x.predicted_peak_allocated_bytes), 3), fmt_fixed(bytes_to_gib(x.measured_peak_allocated_bytes), 3),
                      within(x.memory_error, kMemT), fmt_sig(x.predicted_step_s, 4), fmt_sig(x.measured_step_s, 4),
                      within(x.step_time_error, kStepT)});
    if (speeds) t.rows.back().push_back(x.host_speed > 0 ? fmt_fixed(x.host_speed, 2) + "x" : "");
    t.row_classes.push_back(same_plan(x.plan, v.measured_best) ? "best" : "");
  }
  body << section("memory", "Peak memory", "error = (predicted - measured) / measured; the measured best plan is in bold.",
                  figure(hbar_chart_svg(mem), "Peak allocated bytes (torch.cuda.max_memory_allocated, or the CPU counting allocator)."));
  body << section("time", "Step time", "", figure(hbar_chart_svg(step), "Median step time after warm-up, slowest rank."));
  body << section("table", "Every plan",
                  std::string("Green: within the default gate threshold; red: past it.") +
                      (speeds ? " Host speed: how fast calibrate's probes ran right before the plan's median run against "
                                "during the calibration (1.00x = as calibrated); a step-time miss on a host that changed "
                                "speed is the host's, not the model's."
                              : ""),
                  render_table(t));
  return body.str();
}

// ---------------------------------------------------------------- Google Benchmark

std::string render_benchmark(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  const auto bs = read_benchmarks(doc, source);
  JsonReader r(doc, source);
  *title = "Benchmarks";
  *sub = source + " \xC2\xB7 Google Benchmark JSON \xC2\xB7 " + std::to_string(bs.size()) + " benchmark(s)";
  std::vector<std::pair<std::string, std::string>> facts;
  if (r.has("context")) {
    JsonReader c = r.child("context");
    if (c.has("date")) facts.push_back({"date", esc(c.get_string("date", ""))});
    if (c.has("host_name")) facts.push_back({"host", esc(c.get_string("host_name", ""))});
    if (c.has("num_cpus")) facts.push_back({"CPUs", std::to_string(c.get_int("num_cpus", 0, 0))});
    if (c.has("library_build_type")) facts.push_back({"library build", esc(c.get_string("library_build_type", ""))});
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
      t.rows.push_back({"<code>" + esc(b.name) + "</code>", "", "", "<span class=\"fail\">error: " + esc(b.error_message) + "</span>"});
      continue;
    }
    HBar bar;
    bar.label = b.name;
    bar.values = {b.real_time_ns / 1e3, b.cpu_time_ns / 1e3};
    bar.tips = {b.name + " - real time: " + fmt_sig(b.real_time_ns / 1e3, 4) + " us",
                b.name + " - CPU time: " + fmt_sig(b.cpu_time_ns / 1e3, 4) + " us"};
    bar.annotation = fmt_sig(b.real_time_ns / 1e3, 4) + " us";
    ch.bars.push_back(bar);
    t.rows.push_back({"<code>" + esc(b.name) + "</code>", fmt_sig(b.real_time_ns / 1e3, 4), fmt_sig(b.cpu_time_ns / 1e3, 4), esc(b.statistic)});
  }
  std::ostringstream body;
  body << section("summary", "Summary", "", render_facts(facts));
  if (!ch.bars.empty()) body << section("times", "Times", "", figure(hbar_chart_svg(ch), "Median when repetitions were run."));
  body << section("table", "Every benchmark", "", render_table(t));
  return body.str();
}

}  // namespace planner::reports
