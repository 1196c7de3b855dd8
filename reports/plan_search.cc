// planner-plan-search/1 (planner plan --format json): the page and the CSV (one row per split).
#include <sstream>

#include "core/units.h"
#include "reports/candidate_view.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"
#include "simulator/prediction_json.h"

namespace planner::reports {

std::string render_plan_search_html(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  const std::string model = r.has("model") ? r.child("model").get_string("name", "?") : "?";
  const JsonReader cl = r.child("cluster");
  const int64_t nodes = cl.get_int("num_nodes", 1), gpn = cl.get_int("gpus_per_node", 1);
  *title = "Plan search: " + model + " on " + std::to_string(nodes) + " \xC3\x97 " + std::to_string(gpn) + " " +
           (cl.has("device") ? cl.child("device").get_string("name", "GPU") : "GPU");
  *sub = source + " \xC2\xB7 planner-plan-search/1 \xC2\xB7 " + fmt_count(get_num(r, "evaluated", 0)) + " candidates evaluated";

  std::vector<Candidate> ranked;
  const Json& rk = get_array(r, "ranked");
  for (size_t i = 0; i < rk.size(); ++i) ranked.push_back(candidate_from_json(element(r, "ranked", i)));
  struct Split {
    int64_t dp = 0, tp = 0, evaluated = 0, feasible = 0;
    bool has_best = false, has_rejected = false;
    Candidate c;
  };
  std::vector<Split> splits;
  const Json& sp = get_array(r, "splits");
  for (size_t i = 0; i < sp.size(); ++i) {
    JsonReader s = element(r, "splits", i);
    Split x;
    x.dp = s.get_int("dp", 1);
    x.tp = s.get_int("tp", 1);
    x.evaluated = s.get_int("evaluated", 0, 0);
    x.feasible = s.get_int("feasible", 0, 0);
    if (s.has("best")) {
      x.has_best = true;
      x.c = candidate_from_json(s.child("best"));
    } else if (s.has("rejected")) {
      x.has_rejected = true;
      x.c = candidate_from_json(s.child("rejected"));
    }
    splits.push_back(x);
  }

  std::ostringstream body;
  // Summary.
  std::ostringstream sum;
  sum << render_facts(setup_facts(r));
  if (!ranked.empty()) {
    const Candidate& b = ranked.front();
    const Throughput& bt = b.prediction.throughput;
    sum << "<div class=\"verdict good\"><b>Best split: " << html_escape(plan_label(b.plan)) << "</b><br>"
        << fmt_count(bt.tokens_per_s) << " tokens/s (" << fmt_count(bt.tokens_per_s_per_gpu) << " per GPU, MFU "
        << fmt_pct(bt.mfu) << "), " << fmt_s(b.prediction.time.step_s) << " per step, "
        << fmt_gib(b.prediction.memory.total_bytes()) << " of " << fmt_gib(b.prediction.memory.capacity_bytes) << " per GPU.";
    if (r.has("lightning_auto")) {
      const Candidate a = candidate_from_json(r.child("lightning_auto"));
      const double a_tokens_per_s = a.prediction.throughput.tokens_per_s;
      if (a.feasible() && a_tokens_per_s > 0)
        sum << "<br>Lightning's \"auto\" split (" << html_escape(plan_label(a.plan)) << "): " << fmt_count(a_tokens_per_s)
            << " tokens/s; "
            << (bt.tokens_per_s / a_tokens_per_s - 1.0 < 0.0005 ? std::string("as fast as the best.")
                                                                : "the best is " + fmt_pct(bt.tokens_per_s / a_tokens_per_s - 1.0) + " faster.");
    }
    sum << "</div>\n";
  } else {
    sum << "<div class=\"verdict bad\"><b>No split fits.</b> The rejected splits below say why.</div>\n";
  }
  body << section("summary", "Summary", "", sum.str());

  // Charts per split.
  LabelledCandidates items;
  std::vector<bool> hl;
  for (const auto& s : splits) {
    if (!(s.has_best || (s.has_rejected && has_prediction(s.c)))) continue;
    items.push_back({split_label(s.c.plan), s.c});
    hl.push_back(!ranked.empty() && same_plan(ranked.front().plan, s.c.plan));
  }
  if (!items.empty()) {
    body << section("memory", "Memory per GPU, best setting of each split",
                    "Each bar is the predicted peak of one (dp, tp) split at its best knob setting (or, when none fits, "
                    "the setting closest to fitting, drawn faded). The dashed line is the device memory.",
                    figure(memory_chart("Predicted memory per GPU at the peak", items, hl),
                           "Bars stack the tensor classes (peak allocated), then the caching allocator's reserve and the "
                           "CUDA/NCCL runtime. Hover a segment for its size."));
    body << section("time", "Step time, best setting of each split",
                    "Forward, backward and recompute run on the compute stream; TP collectives sit on the critical "
                    "path; FSDP all-gathers and reduce-scatters run on a separate stream and only their exposed part "
                    "adds to the step. The thin bar under each step is the FSDP communication hidden behind compute.",
                    figure(time_chart("Predicted seconds per optimizer step", items, hl),
                           "Segments add up to the step time; the annotation gives the global throughput."));
  }

  // Ranked table.
  if (!ranked.empty()) {
    HtmlTable t;
    t.headers = {"#",         "dp",          "tp",       "micro_batch", "ac",     "sp",         "reshard",
                 "grad_sync", "grad_accum",  "step", "tokens/s",    "tokens/s/GPU", "MFU", "memory (GiB)"};
    t.numeric_cols = {0, 1, 2, 3, 8, 9, 10, 11, 12, 13};
    for (size_t i = 0; i < ranked.size(); ++i) {
      const Plan& p = ranked[i].plan;
      const Prediction& c = ranked[i].prediction;
      t.rows.push_back({std::to_string(i + 1), std::to_string(p.dp), std::to_string(p.tp), std::to_string(p.micro_batch),
                        html_escape(to_string(p.ac)), p.sequence_parallel ? "on" : "off", p.reshard_after_forward ? "on" : "off",
                        html_escape(to_string(p.grad_sync)), std::to_string(c.time.grad_accum), fmt_s(c.time.step_s),
                        fmt_count(c.throughput.tokens_per_s), fmt_count(c.throughput.tokens_per_s_per_gpu),
                        fmt_pct(c.throughput.mfu), fmt_fixed(bytes_to_gib(c.memory.total_bytes()), 2)});
      t.row_classes.push_back(i == 0 ? "best" : "");
    }
    body << section("ranked", "Ranked candidates", "Feasible settings, fastest first (ties: less memory first).",
                    render_table(t));
  }
  // Snippets.
  if (r.has("exports")) {
    // Each export of the best plan, pinned to a release, with the knobs it cannot express.
    std::ostringstream sn;
    const Json& ex = get_array(r, "exports");
    for (size_t i = 0; i < ex.size(); ++i) {
      JsonReader e = element(r, "exports", i);
      sn << "<h3>" << html_escape(e.get_string("target")) << "</h3>\n";
      const Json& w = get_array(e, "warnings");
      for (size_t k = 0; k < w.size(); ++k)
        sn << "<div class=\"verdict bad\">Warning: " << html_escape(w[k].is_string() ? w[k].get<std::string>() : "")
           << "</div>\n";
      sn << "<pre>" << html_escape(e.get_string("text")) << "</pre>\n";
    }
    body << section("snippets", "Use the best split",
                    "Paste-and-run exports (planner plan ... --export lightning | torchtitan-toml | torchtitan-py prints "
                    "one). Knobs a target cannot express are named above its text.",
                    sn.str());
  } else if (r.has("lightning") || r.has("torchtitan")) {  // documents written before the exports
    std::ostringstream sn;
    if (r.has("lightning"))
      sn << "<h3>PyTorch Lightning</h3><pre>from lightning.pytorch.strategies import ModelParallelStrategy\nstrategy = "
         << html_escape(r.get_string("lightning")) << "</pre>\n";
    if (r.has("torchtitan"))
      sn << "<h3>torchtitan (job config TOML)</h3><pre>" << html_escape(r.get_string("torchtitan")) << "</pre>\n";
    body << section("snippets", "Use the best split", "Paste into your training script or job config.", sn.str());
  }
  // Rejected splits.
  HtmlTable rej;
  rej.headers = {"dp", "tp", "settings tried", "limit", "why (closest setting)"};
  rej.numeric_cols = {0, 1, 2};
  for (const auto& s : splits) {
    if (s.has_best) continue;
    rej.rows.push_back({std::to_string(s.dp), std::to_string(s.tp), std::to_string(s.evaluated),
                        s.has_rejected ? html_escape(to_string(s.c.limit)) : "",
                        s.has_rejected ? html_escape(s.c.reason) : "no setting evaluated"});
    rej.row_classes.push_back("bad");
  }
  if (!rej.rows.empty())
    body << section("rejected", "Rejected splits", "Splits where no knob setting can run, with the reason.", render_table(rej));
  return body.str();
}

std::string render_plan_search_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  std::vector<std::string> h{"split_dp", "split_tp", "settings_evaluated", "settings_feasible", "status", "limit", "reason"};
  append(h, plan_csv_header());
  append(h, prediction_csv_header());
  std::string out = csv_row(h);
  const Json& sp = get_array(r, "splits");
  for (size_t i = 0; i < sp.size(); ++i) {
    JsonReader s = element(r, "splits", i);
    std::vector<std::string> f{std::to_string(s.get_int("dp", 1)), std::to_string(s.get_int("tp", 1)),
                               std::to_string(s.get_int("evaluated", 0, 0)), std::to_string(s.get_int("feasible", 0, 0))};
    if (s.has("best") || s.has("rejected")) {
      const Candidate c = candidate_from_json(s.child(s.has("best") ? "best" : "rejected"));
      append(f, std::vector<std::string>{s.has("best") ? "best" : "rejected", to_string(c.limit), c.reason});
      append(f, plan_csv_fields(c.plan));
      append(f, prediction_csv_fields(c));
    } else {
      f.push_back("none");
    }
    f.resize(h.size());
    out += csv_row(f);
  }
  return out;
}

}  // namespace planner::reports
