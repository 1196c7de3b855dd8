// planner-suggest/1 (planner suggest --format json): the page (scaling curves, every size) and the
// CSV (one row per cluster size).
#include <sstream>

#include "reports/candidate_view.h"
#include "reports/charts.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"
#include "simulator/prediction_json.h"

namespace planner::reports {

std::string render_suggest_html(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  JsonReader g = r.child("goal");
  const double tokens = get_nonneg(g, "token_budget"), deadline = get_num(g, "deadline_days", 0),
               price = get_num(g, "price_per_gpu_hour", 0);
  *title = "Cluster sizing: " + fmt_si(tokens) + " tokens" + (deadline > 0 ? " within " + fmt_sig(deadline, 3) + " days" : "");
  *sub = source + " \xC2\xB7 planner-suggest/1 \xC2\xB7 " + fmt_count(get_num(r, "evaluated", 0)) + " candidates evaluated";
  const int64_t rec_nodes = r.has("recommended_nodes") ? r.get_int("recommended_nodes", 1) : -1;
  struct Pt {
    int64_t nodes = 0, gpus = 0;
    bool fits = false;
    Candidate c;
    double days = 0, gpu_hours = 0, cost = 0, eff = 0;
    bool meets = false;
    std::string why;
  };
  std::vector<Pt> pts;
  const Json& sw = get_array(r, "sweep");
  for (size_t i = 0; i < sw.size(); ++i) {
    JsonReader p = element(r, "sweep", i);
    Pt x;
    x.nodes = p.get_int("nodes", 1);
    x.gpus = p.get_int("gpus", 1);
    x.fits = p.has("best");
    if (x.fits) {
      x.c = candidate_from_json(p.child("best"));
      x.days = get_nonneg(p, "days");
      x.gpu_hours = get_nonneg(p, "gpu_hours");
      x.cost = get_num(p, "cost", 0);
      x.eff = get_num(p, "scaling_efficiency", 0);
      x.meets = p.get_bool("meets_deadline", false);
    } else {
      x.why = p.get_string("why_none", "");
    }
    pts.push_back(x);
  }
  std::ostringstream body, sum;
  std::vector<std::pair<std::string, std::string>> facts{{"token budget", fmt_si(tokens) + " tokens (" + fmt_sig(tokens, 4) + ")"}};
  if (deadline > 0) facts.push_back({"deadline", fmt_sig(deadline, 4) + " days"});
  if (price > 0) facts.push_back({"price", fmt_fixed(price, 2) + " per GPU-hour"});
  sum << render_facts(facts);
  sum << "<div class=\"verdict " << (rec_nodes > 0 ? "good" : "bad") << "\"><b>" << html_escape(r.get_string("verdict", "")) << "</b></div>\n";
  body << section("summary", "Summary", "", sum.str());

  LineSeries tps{"tokens/s", "#1f5fa8", {}}, days{"days", "#c55a11", {}}, eff{"scaling efficiency", "#548235", {}},
      cost{"cost", "#7030a0", {}};
  for (const auto& p : pts) {
    if (!p.fits) continue;
    const bool hl = p.nodes == rec_nodes;
    const double tokens_per_s = p.c.prediction.throughput.tokens_per_s;
    const std::string head = std::to_string(p.gpus) + " GPUs (" + std::to_string(p.nodes) + " nodes), " + plan_label(p.c.plan) + ": ";
    tps.points.push_back({static_cast<double>(p.gpus), tokens_per_s, head + fmt_count(tokens_per_s) + " tokens/s", hl});
    days.points.push_back({static_cast<double>(p.gpus), p.days,
                           head + fmt_sig(p.days, 4) + " days" + (deadline > 0 ? (p.meets ? " (meets the deadline)" : " (misses the deadline)") : ""),
                           hl});
    eff.points.push_back({static_cast<double>(p.gpus), 100.0 * p.eff, head + fmt_pct(p.eff) + " of the best tokens/s per GPU in the sweep", hl});
    cost.points.push_back({static_cast<double>(p.gpus), p.cost, head + fmt_count(p.cost) + " (" + fmt_count(p.gpu_hours) + " GPU-hours)", hl});
  }
  if (!tps.points.empty()) {
    std::ostringstream ch;
    ch << "<div class=\"charts\">";
    LineChart a;
    a.title = "Throughput vs cluster size";
    a.x_label = "GPUs (log scale)";
    a.y_label = "tokens/s (global)";
    a.x_scale = AxisScale::log2;
    a.series = {tps};
    a.highlight_label = "recommended";
    ch << figure(line_chart_svg(a), "Best split at each size.");
    LineChart b = a;
    b.title = "Time to train vs cluster size";
    b.y_label = "days (log scale)";
    b.y_scale = AxisScale::log10;
    b.series = {days};
    if (deadline > 0) b.hlines.push_back({deadline, "deadline " + fmt_sig(deadline, 3) + " days"});
    ch << figure(line_chart_svg(b), "Token budget / tokens per second.");
    LineChart c = a;
    c.title = "Scaling efficiency vs cluster size";
    c.y_label = "scaling efficiency (%)";
    c.series = {eff};
    c.hlines.push_back({100.0, "best per GPU", "#5b6472"});
    ch << figure(line_chart_svg(c), "Tokens/s per GPU relative to the best per-GPU rate of the sweep.");
    if (price > 0) {
      LineChart d = a;
      d.title = "Cost vs cluster size";
      d.y_label = "cost (GPU-hours \xC3\x97 price)";
      d.series = {cost};
      ch << figure(line_chart_svg(d), "At " + fmt_fixed(price, 2) + " per GPU-hour.");
    }
    ch << "</div>\n";
    body << section("scaling", "Scaling curve", "Each point is the fastest split at that size; hover for the split. Sizes where nothing fits are left out of the curves (see the table).",
                    ch.str());
  }
  HtmlTable t;
  t.headers = {"nodes", "GPUs", "best split", "tokens/s", "MFU", "days", "GPU-hours", "cost", "scaling", "deadline"};
  t.numeric_cols = {0, 1, 3, 4, 5, 6, 7, 8};
  for (const auto& p : pts) {
    if (p.fits) {
      const Throughput& th = p.c.prediction.throughput;
      t.rows.push_back({std::to_string(p.nodes), std::to_string(p.gpus), html_escape(plan_label(p.c.plan)), fmt_count(th.tokens_per_s),
                        fmt_pct(th.mfu), fmt_sig(p.days, 4), fmt_count(p.gpu_hours), price > 0 ? fmt_count(p.cost) : "",
                        fmt_pct(p.eff), deadline > 0 ? (p.meets ? "<span class=\"ok\">meets</span>" : "<span class=\"fail\">misses</span>") : ""});
      t.row_classes.push_back(p.nodes == rec_nodes ? "best" : "");
    } else {
      t.rows.push_back({std::to_string(p.nodes), std::to_string(p.gpus), "nothing fits: " + html_escape(p.why), "", "", "", "", "", "", ""});
      t.row_classes.push_back("muted");
    }
  }
  std::string note = rec_nodes > 0 ? "The recommended size is highlighted." : "";
  if (r.has("skipped")) {
    JsonReader sk = r.child("skipped");
    const Json& n = get_array(sk, "nodes");
    std::string list;
    for (size_t i = 0; i < n.size(); ++i) list += (i ? ", " : "") + n[i].dump();
    note += " Not priced: " + list + " nodes (" + html_escape(sk.get_string("why", "")) + ").";
  }
  body << section("sizes", "Every size tried", note, render_table(t));
  return body.str();
}

std::string render_suggest_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  const int64_t rec = r.has("recommended_nodes") ? r.get_int("recommended_nodes", 1) : -1;
  std::vector<std::string> h{"nodes", "gpus", "fits", "days", "gpu_hours", "cost", "scaling_efficiency", "meets_deadline",
                             "recommended", "why_none"};
  append(h, plan_csv_header());
  append(h, prediction_csv_header());
  std::string out = csv_row(h);
  const Json& sw = get_array(r, "sweep");
  for (size_t i = 0; i < sw.size(); ++i) {
    JsonReader p = element(r, "sweep", i);
    const int64_t nodes = p.get_int("nodes", 1);
    std::vector<std::string> f{std::to_string(nodes), std::to_string(p.get_int("gpus", 1)), csv_bool(p.has("best"))};
    if (p.has("best")) {
      append(f, std::vector<std::string>{csv_num(get_nonneg(p, "days")), csv_num(get_nonneg(p, "gpu_hours")), (p.has("cost") ? csv_num(get_num(p, "cost", 0)) : std::string()),
                                         csv_num(get_num(p, "scaling_efficiency", 0)), csv_bool(p.get_bool("meets_deadline", false)),
                                         csv_bool(nodes == rec), ""});
      const Candidate c = candidate_from_json(p.child("best"));
      append(f, plan_csv_fields(c.plan));
      append(f, prediction_csv_fields(c));
    } else {
      append(f, std::vector<std::string>{"", "", "", "", "false", "false", p.get_string("why_none", "")});
    }
    f.resize(h.size());
    out += csv_row(f);
  }
  return out;
}

}  // namespace planner::reports
