// HTML reports, one renderer per document kind (reports/report.h).
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/units.h"
#include "reports/charts.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/report.h"
#include "reports/report_common.h"

namespace planner::reports {

// ---------------------------------------------------------------- shared pieces

const std::vector<MemLine>& memory_lines() {
  static const std::vector<MemLine> lines = {
      {"master_params_bytes", "master params (shard)", "#1f4e79", "FSDP shard of the TP-local parameters"},
      {"grads_bytes", "grads (shard)", "#2e75b6", "after reduce-scatter"},
      {"optimizer_bytes", "optimizer states (shard)", "#9dc3e6", "AdamW exp_avg + exp_avg_sq"},
      {"gathered_params_bytes", "gathered params", "#548235", "root + current + prefetched unit(s)"},
      {"unsharded_grads_bytes", "unsharded grads", "#a9d18e", "awaiting reduce-scatter"},
      {"activations_bytes", "activations", "#c55a11", "saved for backward, all layers"},
      {"logits_bytes", "logits / loss", "#f4b183", "vocab-sized temporaries"},
      {"comm_buffers_bytes", "comm buffers", "#7030a0", "reduce-scatter staging, TP buffers"},
      {"allocator_reserve_bytes", "allocator reserve", "#b9b9b9", "caching allocator's extra"},
      {"runtime_reserved_bytes", "runtime (CUDA/NCCL)", "#6e6e6e", "context and workspaces, not tensors"},
  };
  return lines;
}

std::vector<SeriesStyle> time_series() {
  return {{"forward", "#1f4e79"},          {"backward", "#2e75b6"},          {"recompute", "#9dc3e6"},
          {"exposed TP comm", "#c55a11"},  {"exposed FSDP comm", "#7030a0"}, {"optimizer", "#548235"}};
}
SeriesStyle overlapped_style() { return {"FSDP comm hidden behind compute (overlapped)", "#c9b3e0"}; }

std::vector<double> time_values(const CandidateView& c) {
  return {c.forward_s, c.backward_s, c.recompute_s, c.tp_comm_s, c.fsdp_exposed_s, c.optimizer_s};
}

std::string knobs_label(const Plan& p) {
  return "mb=" + std::to_string(p.micro_batch) + " ac=" + to_string(p.ac) + " sp=" + (p.sequence_parallel ? "on" : "off") +
         " reshard=" + (p.reshard_after_forward ? "on" : "off") + " sync=" + to_string(p.grad_sync);
}

CandidateView read_candidate(const JsonReader& r) {
  CandidateView c;
  c.plan = get_plan(r, "plan");
  c.feasible = r.get_bool("feasible");
  c.limit = r.get_string("limit", "");
  c.reason = r.get_string("reason", "");
  c.has_prediction = r.has("memory") && r.has("time");
  if (!c.has_prediction) return c;
  JsonReader m = r.child("memory");
  for (const auto& l : memory_lines()) c.memory_bytes.push_back(get_nonneg(m, l.key));
  c.peak_allocated_bytes = get_nonneg(m, "peak_allocated_bytes");
  c.capacity_bytes = get_nonneg(m, "capacity_bytes");
  c.peak_at = m.get_string("peak_at", c.peak_at);
  c.total_bytes = get_nonneg(m, "total_bytes");
  c.fits = m.get_bool("fits", c.total_bytes <= c.capacity_bytes);
  JsonReader t = r.child("time");
  c.step_s = get_nonneg(t, "step_s");
  c.forward_s = get_nonneg(t, "forward_s");
  c.backward_s = get_nonneg(t, "backward_s");
  c.recompute_s = get_nonneg(t, "recompute_s");
  c.tp_comm_s = get_nonneg(t, "tp_comm_s");
  c.fsdp_all_gather_s = get_nonneg(t, "fsdp_all_gather_s");
  c.fsdp_reduce_scatter_s = get_nonneg(t, "fsdp_reduce_scatter_s");
  c.fsdp_exposed_s = get_nonneg(t, "fsdp_exposed_s");
  c.fsdp_overlapped_s = get_num(t, "fsdp_overlapped_s", c.fsdp_all_gather_s + c.fsdp_reduce_scatter_s - c.fsdp_exposed_s);
  c.optimizer_s = get_nonneg(t, "optimizer_s");
  c.grad_accum = t.get_int("grad_accum", 1, 1);
  if (r.has("throughput")) {
    JsonReader th = r.child("throughput");
    c.tokens_per_s = get_nonneg(th, "tokens_per_s");
    c.tokens_per_s_per_gpu = get_num(th, "tokens_per_s_per_gpu", 0);
    c.model_tflops_per_gpu = get_num(th, "model_tflops_per_gpu", 0);
    c.mfu = get_num(th, "mfu", 0);
    c.model_flops_per_token = get_num(th, "model_flops_per_token", 0);
  }
  return c;
}

namespace {

std::string esc(const std::string& s) { return html_escape(s); }
std::string code(const std::string& s) { return "<code>" + esc(s) + "</code>"; }

// The setup every planner document carries (model, training, cluster), as facts.
std::vector<std::pair<std::string, std::string>> setup_facts(const JsonReader& r) {
  std::vector<std::pair<std::string, std::string>> f;
  if (r.has("model")) {
    JsonReader m = r.child("model");
    std::string v = esc(m.get_string("name", "?"));
    if (m.has("parameter_count")) v += " &middot; " + fmt_sig(get_num(m, "parameter_count") / 1e9, 3) + "B parameters";
    if (m.has("n_layers")) v += " &middot; " + std::to_string(m.get_int("n_layers", 0)) + " layers";
    if (m.has("dim")) v += ", dim " + std::to_string(m.get_int("dim", 0));
    f.push_back({"model", v});
  }
  if (r.has("training")) {
    JsonReader t = r.child("training");
    const int64_t seq = t.get_int("seq_len", 1), gb = t.get_int("global_batch", 1);
    f.push_back({"training", "seq_len " + std::to_string(seq) + " &middot; global_batch " + std::to_string(gb) +
                                 " sequences (" + fmt_count(static_cast<double>(seq * gb)) + " tokens/step) &middot; " +
                                 esc(t.get_string("precision", "?"))});
  }
  if (r.has("cluster")) {
    JsonReader c = r.child("cluster");
    std::string v = esc(c.get_string("name", "?")) + ": " + std::to_string(c.get_int("num_nodes", 1)) + " node(s) &times; " +
                    std::to_string(c.get_int("gpus_per_node", 1));
    if (c.has("device")) {
      JsonReader d = c.child("device");
      v += " " + esc(d.get_string("name", "?"));
      if (d.has("memory_gib")) v += " (" + fmt_fixed(get_num(d, "memory_gib"), 1) + " GiB)";
    }
    if (c.has("intra_node")) v += " &middot; inside a node: " + esc(c.child("intra_node").get_string("name", "?"));
    if (c.has("inter_node")) v += " &middot; across nodes: " + esc(c.child("inter_node").get_string("name", "?"));
    if (c.has("backend")) v += " &middot; " + esc(c.get_string("backend"));
    f.push_back({"cluster", v});
  }
  return f;
}

std::string split_label(const Plan& p) { return "dp=" + std::to_string(p.dp) + " \xC3\x97 tp=" + std::to_string(p.tp); }

// Memory stacked bars (GiB) for labelled candidates, with the device capacity.
std::string memory_chart(const std::string& title, const std::vector<std::pair<std::string, CandidateView>>& items,
                         const std::vector<bool>& highlight) {
  HBarChart ch;
  ch.title = title;
  ch.axis_label = "memory per GPU (GiB)";
  for (const auto& l : memory_lines()) ch.series.push_back({l.label, l.color});
  double cap = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [label, c] = items[i];
    HBar b;
    b.label = label;
    for (size_t k = 0; k < c.memory_bytes.size(); ++k) {
      b.values.push_back(bytes_to_gib(c.memory_bytes[k]));
      b.tips.push_back(label + " - " + memory_lines()[k].label + ": " + fmt_gib(c.memory_bytes[k]) + " (" +
                       memory_lines()[k].note + ")");
    }
    b.annotation = fmt_gib(c.total_bytes) + (c.fits ? "" : "  DOES NOT FIT") + "  \xC2\xB7 " + knobs_label(c.plan);
    b.muted = !c.fits;
    b.highlight = i < highlight.size() && highlight[i];
    cap = std::max(cap, c.capacity_bytes);
    ch.bars.push_back(b);
  }
  if (cap > 0) {
    ch.has_ref = true;
    ch.ref_value = bytes_to_gib(cap);
    ch.ref_label = "device capacity " + fmt_gib(cap);
  }
  return hbar_chart_svg(ch);
}

std::string time_chart(const std::string& title, const std::vector<std::pair<std::string, CandidateView>>& items,
                       const std::vector<bool>& highlight) {
  HBarChart ch;
  ch.title = title;
  // The axis in s, ms or us, whichever keeps the longest step above 1.
  double longest = 0;
  for (const auto& it : items) longest = std::max({longest, it.second.step_s, it.second.fsdp_overlapped_s});
  const double k_unit = longest >= 1 ? 1.0 : longest >= 1e-3 ? 1e3 : 1e6;
  const std::string unit = longest >= 1 ? "s" : longest >= 1e-3 ? "ms" : "us";
  ch.axis_label = "time per optimizer step (" + unit + ")";
  ch.series = time_series();
  ch.under_style = overlapped_style();
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [label, c] = items[i];
    HBar b;
    b.label = label;
    b.values = time_values(c);
    for (size_t k = 0; k < b.values.size(); ++k) {
      b.tips.push_back(label + " - " + ch.series[k].name + ": " + fmt_s(b.values[k]));
      b.values[k] *= k_unit;
    }
    b.under = c.fsdp_overlapped_s * k_unit;
    b.under_tip = label + " - FSDP all-gather + reduce-scatter hidden behind compute: " + fmt_s(c.fsdp_overlapped_s) +
                  " (of " + fmt_s(c.fsdp_all_gather_s + c.fsdp_reduce_scatter_s) + " on the comm stream)";
    b.annotation = fmt_s(c.step_s) + "/step \xC2\xB7 " + fmt_count(c.tokens_per_s) + " tokens/s" + (c.fits ? "" : " (does not fit)");
    b.muted = !c.fits || !c.feasible;
    b.highlight = i < highlight.size() && highlight[i];
    ch.bars.push_back(b);
  }
  return hbar_chart_svg(ch);
}

std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure>" + svg + "<figcaption>" + esc(caption) + "</figcaption></figure>\n";
}

std::string memory_table_html(const CandidateView& c) {
  HtmlTable t;
  t.headers = {"line", "per GPU", "bytes", "what"};
  t.numeric_cols = {1, 2};
  for (size_t k = 0; k < memory_lines().size(); ++k) {
    const auto& l = memory_lines()[k];
    t.rows.push_back({esc(l.label), fmt_gib(c.memory_bytes[k]), fmt_count(c.memory_bytes[k]), esc(l.note)});
    t.row_classes.push_back("");
    if (std::string(l.key) == "comm_buffers_bytes") {
      t.rows.push_back({"= peak allocated", fmt_gib(c.peak_allocated_bytes), fmt_count(c.peak_allocated_bytes),
                        "compare with torch.cuda.max_memory_allocated()"});
      t.row_classes.push_back("best");
    }
  }
  t.rows.push_back({"= total", fmt_gib(c.total_bytes), fmt_count(c.total_bytes),
                    "of " + fmt_gib(c.capacity_bytes) + ": " +
                        (c.fits ? "<span class=\"ok\">fits</span>" : "<span class=\"fail\">does not fit</span>")});
  t.row_classes.push_back("best");
  return render_table(t);
}

std::string time_table_html(const CandidateView& c) {
  HtmlTable t;
  t.headers = {"part", "seconds", "share of the step", "what"};
  t.numeric_cols = {1, 2};
  auto row = [&](const std::string& name, double s, const std::string& what, bool in_step) {
    t.rows.push_back({esc(name), fmt_s(s), in_step && c.step_s > 0 ? fmt_pct(s / c.step_s) : "", esc(what)});
  };
  row("forward", c.forward_s, "compute stream", true);
  row("backward", c.backward_s, "compute stream", true);
  row("recompute", c.recompute_s, "activation checkpointing", true);
  row("TP collectives (exposed)", c.tp_comm_s, "on the critical path", true);
  row("FSDP comm exposed", c.fsdp_exposed_s, "compute waits for all-gather / reduce-scatter", true);
  row("optimizer", c.optimizer_s, "AdamW on the shard, grad norm", true);
  row("FSDP all-gather", c.fsdp_all_gather_s, "comm stream", false);
  row("FSDP reduce-scatter", c.fsdp_reduce_scatter_s, "comm stream", false);
  row("FSDP comm overlapped", c.fsdp_overlapped_s, "hidden behind compute", false);
  t.rows.push_back({"= step", fmt_s(c.step_s), "100%", std::to_string(c.grad_accum) + " micro-batch(es) per step"});
  t.row_classes.assign(t.rows.size() - 1, "");
  t.row_classes.push_back("best");
  return render_table(t);
}

// ---------------------------------------------------------------- plan search

std::string render_plan_search(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  const std::string model = r.has("model") ? r.child("model").get_string("name", "?") : "?";
  const JsonReader cl = r.child("cluster");
  const int64_t nodes = cl.get_int("num_nodes", 1), gpn = cl.get_int("gpus_per_node", 1);
  *title = "Plan search: " + model + " on " + std::to_string(nodes) + " \xC3\x97 " + std::to_string(gpn) + " " +
           (cl.has("device") ? cl.child("device").get_string("name", "GPU") : "GPU");
  *sub = source + " \xC2\xB7 planner-plan-search/1 \xC2\xB7 " + fmt_count(get_num(r, "evaluated", 0)) + " candidates evaluated";

  std::vector<CandidateView> ranked;
  const Json& rk = get_array(r, "ranked");
  for (size_t i = 0; i < rk.size(); ++i) ranked.push_back(read_candidate(element(r, "ranked", i)));
  struct Split {
    int64_t dp = 0, tp = 0, evaluated = 0, feasible = 0;
    bool has_best = false, has_rejected = false;
    CandidateView c;
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
      x.c = read_candidate(s.child("best"));
    } else if (s.has("rejected")) {
      x.has_rejected = true;
      x.c = read_candidate(s.child("rejected"));
    }
    splits.push_back(x);
  }

  std::ostringstream body;
  // Summary.
  std::ostringstream sum;
  sum << render_facts(setup_facts(r));
  if (!ranked.empty()) {
    const auto& b = ranked.front();
    sum << "<div class=\"verdict good\"><b>Best split: " << esc(plan_label(b.plan)) << "</b><br>" << fmt_count(b.tokens_per_s)
        << " tokens/s (" << fmt_count(b.tokens_per_s_per_gpu) << " per GPU, MFU " << fmt_pct(b.mfu) << "), "
        << fmt_s(b.step_s) << " per step, " << fmt_gib(b.total_bytes) << " of " << fmt_gib(b.capacity_bytes)
        << " per GPU.";
    if (r.has("lightning_auto")) {
      CandidateView a = read_candidate(r.child("lightning_auto"));
      if (a.feasible && a.tokens_per_s > 0)
        sum << "<br>Lightning's \"auto\" split (" << esc(plan_label(a.plan)) << "): " << fmt_count(a.tokens_per_s)
            << " tokens/s; "
            << (b.tokens_per_s / a.tokens_per_s - 1.0 < 0.0005 ? std::string("as fast as the best.")
                                                               : "the best is " + fmt_pct(b.tokens_per_s / a.tokens_per_s - 1.0) + " faster.");
    }
    sum << "</div>\n";
  } else {
    sum << "<div class=\"verdict bad\"><b>No split fits.</b> The rejected splits below say why.</div>\n";
  }
  body << section("summary", "Summary", "", sum.str());

  // Charts per split.
  std::vector<std::pair<std::string, CandidateView>> items;
  std::vector<bool> hl;
  for (const auto& s : splits) {
    if (!(s.has_best || (s.has_rejected && s.c.has_prediction))) continue;
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
      const auto& c = ranked[i];
      t.rows.push_back({std::to_string(i + 1), std::to_string(c.plan.dp), std::to_string(c.plan.tp),
                        std::to_string(c.plan.micro_batch), esc(to_string(c.plan.ac)), c.plan.sequence_parallel ? "on" : "off",
                        c.plan.reshard_after_forward ? "on" : "off", esc(to_string(c.plan.grad_sync)),
                        std::to_string(c.grad_accum), fmt_s(c.step_s), fmt_count(c.tokens_per_s),
                        fmt_count(c.tokens_per_s_per_gpu), fmt_pct(c.mfu), fmt_fixed(bytes_to_gib(c.total_bytes), 2)});
      t.row_classes.push_back(i == 0 ? "best" : "");
    }
    body << section("ranked", "Ranked candidates", "Feasible settings, fastest first (ties: less memory first).",
                    render_table(t));
  }
  // Snippets.
  if (r.has("lightning") || r.has("torchtitan")) {
    std::ostringstream sn;
    if (r.has("lightning"))
      sn << "<h3>PyTorch Lightning</h3><pre>from lightning.pytorch.strategies import ModelParallelStrategy\nstrategy = "
         << esc(r.get_string("lightning")) << "</pre>\n";
    if (r.has("torchtitan")) sn << "<h3>torchtitan (job config TOML)</h3><pre>" << esc(r.get_string("torchtitan")) << "</pre>\n";
    body << section("snippets", "Use the best split", "Paste into your training script or job config.", sn.str());
  }
  // Rejected splits.
  HtmlTable rej;
  rej.headers = {"dp", "tp", "settings tried", "limit", "why (closest setting)"};
  rej.numeric_cols = {0, 1, 2};
  for (const auto& s : splits) {
    if (s.has_best) continue;
    rej.rows.push_back({std::to_string(s.dp), std::to_string(s.tp), std::to_string(s.evaluated),
                        s.has_rejected ? esc(s.c.limit) : "", s.has_rejected ? esc(s.c.reason) : "no setting evaluated"});
    rej.row_classes.push_back("bad");
  }
  if (!rej.rows.empty())
    body << section("rejected", "Rejected splits", "Splits where no knob setting can run, with the reason.", render_table(rej));
  return body.str();
}

// ---------------------------------------------------------------- simulate detail

std::string render_simulate(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  const CandidateView c = read_candidate(r);
  const std::string model = r.has("model") ? r.child("model").get_string("name", "?") : "?";
  *title = "Simulation: " + model + ", " + plan_label(c.plan);
  *sub = source + " \xC2\xB7 simulate detail \xC2\xB7 kernels: " + r.get_string("kernels", "?");
  std::ostringstream body, sum;
  sum << render_facts(setup_facts(r));
  if (!c.feasible)
    sum << "<div class=\"verdict bad\"><b>Infeasible (" << esc(c.limit) << ").</b> " << esc(c.reason) << "</div>\n";
  else
    sum << "<div class=\"verdict good\"><b>" << fmt_count(c.tokens_per_s) << " tokens/s</b> (" << fmt_count(c.tokens_per_s_per_gpu)
        << " per GPU), " << fmt_s(c.step_s) << " per step, " << fmt_fixed(c.model_tflops_per_gpu, 1)
        << " model TFLOP/s per GPU, MFU " << fmt_pct(c.mfu) << "; " << fmt_gib(c.total_bytes) << " of "
        << fmt_gib(c.capacity_bytes) << " per GPU.</div>\n";
  body << section("summary", "Summary", "", sum.str());
  if (c.has_prediction) {
    std::vector<std::pair<std::string, CandidateView>> items{{split_label(c.plan), c}};
    body << section("memory", "Memory per GPU at the peak", "The peak is at the " + c.peak_at + ".",
                    figure(memory_chart("Predicted memory per GPU", items, {true}), "Hover a segment for its size.") +
                        memory_table_html(c));
    body << section("time", "Step time", "",
                    figure(time_chart("Predicted seconds per optimizer step", items, {true}),
                           "The thin bar is FSDP communication hidden behind compute.") +
                        time_table_html(c));
  }
  if (r.has("parameters")) {
    HtmlTable t;
    t.headers = {"module", "TP style", "count", "shape", "TP-local shape", "FSDP shard (elements per tensor per rank)"};
    t.numeric_cols = {2, 5};
    const Json& ps = get_array(r, "parameters");
    for (size_t i = 0; i < ps.size(); ++i) {
      JsonReader p = element(r, "parameters", i);
      auto shape = [&](const char* key) {
        const Json& s = get_array(p, key);
        std::string out;
        for (size_t k = 0; k < s.size(); ++k) out += (k ? " \xC3\x97 " : "") + (s[k].is_number() ? fmt_count(s[k].get<double>()) : std::string("?"));
        return out;
      };
      t.rows.push_back({code(p.get_string("module")), esc(p.get_string("tp_style", "")), std::to_string(p.get_int("count", 0)),
                        shape("shape"), shape("tp_local_shape"), fmt_count(get_num(p, "fsdp_shard_numel"))});
    }
    body << section("parameters", "Parameters per rank", "Each tensor after TP (column/row-wise split) and then FSDP (dim 0 sharded over dp, padded).",
                    render_table(t));
  }
  if (r.has("activations_per_layer")) {
    HtmlTable t;
    t.headers = {"tensor saved for backward", "bytes per token", "kept or recomputed"};
    t.numeric_cols = {1};
    const Json& as = get_array(r, "activations_per_layer");
    for (size_t i = 0; i < as.size(); ++i) {
      JsonReader a = element(r, "activations_per_layer", i);
      const bool kept = a.get_bool("kept");
      t.rows.push_back({esc(a.get_string("tensor")), fmt_sig(get_num(a, "bytes_per_token"), 5), kept ? "kept" : "recomputed"});
      t.row_classes.push_back(kept ? "" : "muted");
    }
    std::string lead = "One layer, per token of the micro-batch, after TP/SP sharding.";
    if (r.has("activation_bytes_per_layer"))
      lead += " Kept per layer at this micro-batch: " + fmt_gib(get_num(r, "activation_bytes_per_layer")) + ".";
    body << section("activations", "Activations per layer", lead, render_table(t));
  }
  return body.str();
}

// ---------------------------------------------------------------- suggest

std::string render_suggest(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
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
    CandidateView c;
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
      x.c = read_candidate(p.child("best"));
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
  sum << "<div class=\"verdict " << (rec_nodes > 0 ? "good" : "bad") << "\"><b>" << esc(r.get_string("verdict", "")) << "</b></div>\n";
  body << section("summary", "Summary", "", sum.str());

  LineSeries tps{"tokens/s", "#1f5fa8", {}}, days{"days", "#c55a11", {}}, eff{"scaling efficiency", "#548235", {}},
      cost{"cost", "#7030a0", {}};
  for (const auto& p : pts) {
    if (!p.fits) continue;
    const bool hl = p.nodes == rec_nodes;
    const std::string head = std::to_string(p.gpus) + " GPUs (" + std::to_string(p.nodes) + " nodes), " + plan_label(p.c.plan) + ": ";
    tps.points.push_back({static_cast<double>(p.gpus), p.c.tokens_per_s, head + fmt_count(p.c.tokens_per_s) + " tokens/s", hl});
    days.points.push_back({static_cast<double>(p.gpus), p.days,
                           head + fmt_sig(p.days, 4) + " days" + (deadline > 0 ? (p.meets ? " (meets the deadline)" : " (misses the deadline)") : ""),
                           hl});
    eff.points.push_back({static_cast<double>(p.gpus), 100.0 * p.eff, head + fmt_pct(p.eff) + " of the smallest fitting size's tokens/s per GPU", hl});
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
    c.hlines.push_back({100.0, "linear scaling", "#5b6472"});
    ch << figure(line_chart_svg(c), "Tokens/s per GPU relative to the smallest size that fits.");
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
      t.rows.push_back({std::to_string(p.nodes), std::to_string(p.gpus), esc(plan_label(p.c.plan)), fmt_count(p.c.tokens_per_s),
                        fmt_pct(p.c.mfu), fmt_sig(p.days, 4), fmt_count(p.gpu_hours), price > 0 ? fmt_count(p.cost) : "",
                        fmt_pct(p.eff), deadline > 0 ? (p.meets ? "<span class=\"ok\">meets</span>" : "<span class=\"fail\">misses</span>") : ""});
      t.row_classes.push_back(p.nodes == rec_nodes ? "best" : "");
    } else {
      t.rows.push_back({std::to_string(p.nodes), std::to_string(p.gpus), "nothing fits: " + esc(p.why), "", "", "", "", "", "", ""});
      t.row_classes.push_back("muted");
    }
  }
  body << section("sizes", "Every size tried", rec_nodes > 0 ? "The recommended size is highlighted." : "", render_table(t));
  return body.str();
}

}  // namespace

// Defined in report_more.cc.
std::string render_run(const Json& doc, const std::string& source, std::string* title, std::string* sub);
std::string render_topology(const Json& doc, const std::string& source, std::string* title, std::string* sub);
std::string render_validate(const Json& doc, const std::string& source, std::string* title, std::string* sub);
std::string render_benchmark(const Json& doc, const std::string& source, std::string* title, std::string* sub);

std::string render_html_report(const Json& doc, const std::string& source_name) {
  const DocKind kind = document_kind(doc, source_name);
  std::string title, sub, body;
  try {
    switch (kind) {
      case DocKind::plan_search: body = render_plan_search(doc, source_name, &title, &sub); break;
      case DocKind::simulate: body = render_simulate(doc, source_name, &title, &sub); break;
      case DocKind::suggest: body = render_suggest(doc, source_name, &title, &sub); break;
      case DocKind::run: body = render_run(doc, source_name, &title, &sub); break;
      case DocKind::topology: body = render_topology(doc, source_name, &title, &sub); break;
      case DocKind::validate: body = render_validate(doc, source_name, &title, &sub); break;
      case DocKind::benchmark: body = render_benchmark(doc, source_name, &title, &sub); break;
    }
  } catch (const Json::exception& e) {  // a wrong type deep inside that the typed getters did not catch
    throw InputError(source_name, "", "not a valid " + to_string(kind) + " document: " + e.what());
  }
  return html_page(title, sub, body);
}

}  // namespace planner::reports
