#include "reports/candidate_view.h"

#include <algorithm>

#include "core/units.h"
#include "reports/charts.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "simulator/prediction_json.h"

namespace planner::reports {

const std::vector<MemLine>& memory_lines() {
  using M = MemoryBreakdown;
  static const std::vector<MemLine> lines = {
      {"master_params_bytes", &M::master_params_bytes, "master params (shard)", "#1f4e79", "FSDP shard of the TP-local parameters"},
      {"grads_bytes", &M::grads_bytes, "grads (shard)", "#2e75b6", "after reduce-scatter"},
      {"optimizer_bytes", &M::optimizer_bytes, "optimizer states (shard)", "#9dc3e6", "AdamW exp_avg + exp_avg_sq"},
      {"gathered_params_bytes", &M::gathered_params_bytes, "gathered params", "#548235", "root + current + prefetched unit(s)"},
      {"unsharded_grads_bytes", &M::unsharded_grads_bytes, "unsharded grads", "#a9d18e", "awaiting reduce-scatter"},
      {"activations_bytes", &M::activations_bytes, "activations", "#c55a11", "saved for backward, all layers"},
      {"logits_bytes", &M::logits_bytes, "logits / loss", "#f4b183", "vocab-sized temporaries"},
      {"comm_buffers_bytes", &M::comm_buffers_bytes, "comm buffers", "#7030a0", "reduce-scatter staging, TP buffers"},
      {"allocator_reserve_bytes", &M::allocator_reserve_bytes, "allocator reserve", "#b9b9b9", "caching allocator's extra"},
      {"runtime_reserved_bytes", &M::runtime_reserved_bytes, "runtime (CUDA/NCCL)", "#6e6e6e", "context and workspaces, not tensors"},
  };
  return lines;
}

std::string knobs_label(const Plan& p) {
  return "mb=" + std::to_string(p.micro_batch) + " ac=" + to_string(p.ac) + " sp=" + (p.sequence_parallel ? "on" : "off") +
         " reshard=" + (p.reshard_after_forward ? "on" : "off") + " sync=" + to_string(p.grad_sync);
}

std::string split_label(const Plan& p) { return "dp=" + std::to_string(p.dp) + " \xC3\x97 tp=" + std::to_string(p.tp); }

std::vector<std::pair<std::string, std::string>> setup_facts(const JsonReader& r) {
  std::vector<std::pair<std::string, std::string>> f;
  if (r.has("model")) {
    JsonReader m = r.child("model");
    std::string v = html_escape(m.get_string("name", "?"));
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
                                 html_escape(t.get_string("precision", "?"))});
  }
  if (r.has("cluster")) {
    JsonReader c = r.child("cluster");
    std::string v = html_escape(c.get_string("name", "?")) + ": " + std::to_string(c.get_int("num_nodes", 1)) + " node(s) &times; " +
                    std::to_string(c.get_int("gpus_per_node", 1));
    if (c.has("device")) {
      JsonReader d = c.child("device");
      v += " " + html_escape(d.get_string("name", "?"));
      if (d.has("memory_gib")) v += " (" + fmt_fixed(get_num(d, "memory_gib"), 1) + " GiB)";
    }
    if (c.has("intra_node")) v += " &middot; inside a node: " + html_escape(c.child("intra_node").get_string("name", "?"));
    if (c.has("inter_node")) v += " &middot; across nodes: " + html_escape(c.child("inter_node").get_string("name", "?"));
    if (c.has("backend")) v += " &middot; " + html_escape(c.get_string("backend"));
    f.push_back({"cluster", v});
  }
  return f;
}

std::string memory_chart(const std::string& title, const LabelledCandidates& items, const std::vector<bool>& highlight) {
  HBarChart ch;
  ch.title = title;
  ch.axis_label = "memory per GPU (GiB)";
  for (const auto& l : memory_lines()) ch.series.push_back({l.label, l.color});
  double cap = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [label, c] = items[i];
    const MemoryBreakdown& m = c.prediction.memory;
    HBar b;
    b.label = label;
    for (const auto& l : memory_lines()) {
      b.values.push_back(bytes_to_gib(m.*l.bytes));
      b.tips.push_back(label + " - " + l.label + ": " + fmt_gib(m.*l.bytes) + " (" + l.note + ")");
    }
    b.annotation = fmt_gib(m.total_bytes()) + (m.tight() ? "  TIGHT" : m.fits() ? "" : "  DOES NOT FIT") + "  \xC2\xB7 " +
                   knobs_label(c.plan);
    b.muted = !m.fits();
    b.highlight = i < highlight.size() && highlight[i];
    cap = std::max(cap, m.capacity_bytes);
    ch.bars.push_back(b);
  }
  if (cap > 0) {
    ch.has_ref = true;
    ch.ref_value = bytes_to_gib(cap);
    ch.ref_label = "device capacity " + fmt_gib(cap);
  }
  return hbar_chart_svg(ch);
}

std::string time_chart(const std::string& title, const LabelledCandidates& items, const std::vector<bool>& highlight) {
  HBarChart ch;
  ch.title = title;
  // The axis in s, ms or us, whichever keeps the longest step above 1.
  double longest = 0;
  for (const auto& it : items) longest = std::max({longest, it.second.prediction.time.step_s, it.second.prediction.time.fsdp_overlapped_s()});
  const double k_unit = longest >= 1 ? 1.0 : longest >= 1e-3 ? 1e3 : 1e6;
  const std::string unit = longest >= 1 ? "s" : longest >= 1e-3 ? "ms" : "us";
  ch.axis_label = "time per optimizer step (" + unit + ")";
  ch.series = {{"forward", "#1f4e79"},          {"backward", "#2e75b6"},          {"recompute", "#9dc3e6"},
               {"exposed TP comm", "#c55a11"},  {"exposed FSDP comm", "#7030a0"}, {"optimizer", "#548235"}};
  ch.under_style = {"FSDP comm hidden behind compute (overlapped)", "#c9b3e0"};
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [label, c] = items[i];
    const TimeBreakdown& t = c.prediction.time;
    HBar b;
    b.label = label;
    b.values = {t.forward_s, t.backward_s, t.recompute_s, t.tp_comm_s, t.fsdp_exposed_s, t.optimizer_s};
    for (size_t k = 0; k < b.values.size(); ++k) {
      b.tips.push_back(label + " - " + ch.series[k].name + ": " + fmt_s(b.values[k]));
      b.values[k] *= k_unit;
    }
    b.under = t.fsdp_overlapped_s() * k_unit;
    b.under_tip = label + " - FSDP all-gather + reduce-scatter hidden behind compute: " + fmt_s(t.fsdp_overlapped_s()) +
                  " (of " + fmt_s(t.fsdp_all_gather_s + t.fsdp_reduce_scatter_s) + " on the comm stream)";
    const bool fits = c.prediction.memory.fits();
    b.annotation = fmt_s(t.step_s) + "/step \xC2\xB7 " + fmt_count(c.prediction.throughput.tokens_per_s) + " tokens/s" +
                   (fits ? "" : " (does not fit)");
    b.muted = !fits || !c.feasible();
    b.highlight = i < highlight.size() && highlight[i];
    ch.bars.push_back(b);
  }
  return hbar_chart_svg(ch);
}

std::vector<std::string> prediction_csv_header() {
  std::vector<std::string> h;
  for (const auto& l : memory_lines()) h.push_back(l.key);
  for (const char* k : {"peak_allocated_bytes", "total_bytes", "capacity_bytes", "fits", "step_s", "forward_s", "backward_s",
                        "recompute_s", "tp_comm_s", "fsdp_all_gather_s", "fsdp_reduce_scatter_s", "fsdp_exposed_s",
                        "fsdp_overlapped_s", "optimizer_s", "grad_accum", "tokens_per_s", "tokens_per_s_per_gpu", "mfu"})
    h.push_back(k);
  return h;
}

std::vector<std::string> prediction_csv_fields(const Candidate& c) {
  if (!has_prediction(c)) return std::vector<std::string>(prediction_csv_header().size());
  const MemoryBreakdown& m = c.prediction.memory;
  const TimeBreakdown& t = c.prediction.time;
  const Throughput& th = c.prediction.throughput;
  std::vector<std::string> f;
  for (const auto& l : memory_lines()) f.push_back(csv_num(m.*l.bytes));
  for (double v : {m.peak_allocated_bytes, m.total_bytes(), m.capacity_bytes}) f.push_back(csv_num(v));
  f.push_back(csv_bool(m.fits()));
  for (double v : {t.step_s, t.forward_s, t.backward_s, t.recompute_s, t.tp_comm_s, t.fsdp_all_gather_s, t.fsdp_reduce_scatter_s,
                   t.fsdp_exposed_s, t.fsdp_overlapped_s(), t.optimizer_s})
    f.push_back(csv_num(v));
  f.push_back(std::to_string(t.grad_accum));
  for (double v : {th.tokens_per_s, th.tokens_per_s_per_gpu, th.mfu}) f.push_back(csv_num(v));
  return f;
}

}  // namespace planner::reports
