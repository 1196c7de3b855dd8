// planner-validate/1 (planner validate; docs/reports.md): the page (worst errors against the gate
// thresholds, ranking agreement, predicted vs measured per plan) and the CSV (one row per plan).
#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/units.h"
#include "reports/charts.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"

namespace planner::reports {

namespace {

// The worst |error| (no sign) in green when within the threshold, else red.
std::string within_abs(double err, double threshold) {
  return std::string(err <= threshold ? "<span class=\"ok\">" : "<span class=\"fail\">") + fmt_pct(err) + "</span>";
}

}  // namespace

std::string render_validate_html(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
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
  sum << render_facts({{"model", html_escape(v.model)}, {"world", std::to_string(v.world) + " rank(s)"},
                       {"worst memory error", within_abs(worst_mem, kMemT) + " (threshold &plusmn;3%)"},
                       {"worst step-time error", within_abs(worst_step, kStepT) + " (threshold &plusmn;10%)"},
                       {"rank correlation", std::isfinite(rho) ? "Spearman &rho; = " + fmt_fixed(rho, 3) + " (predicted vs measured step time)" : "n/a (fewer than two distinct plans)"}});
  if (agree)
    sum << "<div class=\"verdict good\"><b>Ranking agrees:</b> the predicted best, " << html_escape(plan_label(v.predicted_best))
        << ", is also the fastest measured.</div>\n";
  else
    sum << "<div class=\"verdict bad\"><b>Ranking differs:</b> predicted best " << html_escape(plan_label(v.predicted_best)) << ", measured best "
        << html_escape(plan_label(v.measured_best)) << "; the predicted best measured " << fmt_pct(regret) << " slower.</div>\n";
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
    t.rows.push_back({html_escape(label), fmt_fixed(bytes_to_gib(x.predicted_peak_allocated_bytes), 3), fmt_fixed(bytes_to_gib(x.measured_peak_allocated_bytes), 3),
                      error_pct_html(x.memory_error, kMemT), fmt_sig(x.predicted_step_s, 4), fmt_sig(x.measured_step_s, 4),
                      error_pct_html(x.step_time_error, kStepT)});
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

std::string render_validate_csv(const Json& doc, const std::string& source) {
  const ValidateDoc v = read_validate(doc, source);
  const bool speeds = std::any_of(v.rows.begin(), v.rows.end(), [](const ValidateRow& x) { return x.host_speed > 0; });
  std::vector<std::string> h = plan_csv_header();
  append(h, std::vector<std::string>{"predicted_peak_allocated_bytes", "measured_peak_allocated_bytes", "memory_error",
                                     "predicted_step_s", "measured_step_s", "step_time_error", "predicted_best", "measured_best"});
  if (speeds) h.push_back("host_speed");
  std::string out = csv_row(h);
  for (const auto& x : v.rows) {
    auto f = plan_csv_fields(x.plan);
    append(f, std::vector<std::string>{csv_num(x.predicted_peak_allocated_bytes), csv_num(x.measured_peak_allocated_bytes), csv_num(x.memory_error),
                                       csv_num(x.predicted_step_s), csv_num(x.measured_step_s), csv_num(x.step_time_error),
                                       csv_bool(same_plan(x.plan, v.predicted_best)), csv_bool(same_plan(x.plan, v.measured_best))});
    if (speeds) f.push_back(x.host_speed > 0 ? csv_num(x.host_speed) : "");
    out += csv_row(f);
  }
  return out;
}

}  // namespace planner::reports
