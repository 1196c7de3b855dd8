// The simulate detail (planner simulate --format json): the page (memory and step time with their
// tables, parameters per rank, activations per layer) and the CSV (one row per parameter tensor).
#include <sstream>

#include "core/error.h"
#include "reports/candidate_view.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"
#include "simulator/prediction_json.h"

namespace planner::reports {

namespace {

std::string code(const std::string& s) { return "<code>" + html_escape(s) + "</code>"; }

std::string memory_table_html(const MemoryBreakdown& m) {
  HtmlTable t;
  t.headers = {"line", "per GPU", "bytes", "what"};
  t.numeric_cols = {1, 2};
  for (const auto& l : memory_lines()) {
    t.rows.push_back({html_escape(l.label), fmt_gib(m.*l.bytes), fmt_count(m.*l.bytes), html_escape(l.note)});
    t.row_classes.push_back("");
    if (l.bytes == &MemoryBreakdown::comm_buffers_bytes) {  // the last line of the peak
      t.rows.push_back({"= peak allocated", fmt_gib(m.peak_allocated_bytes), fmt_count(m.peak_allocated_bytes),
                        "compare with torch.cuda.max_memory_allocated()"});
      t.row_classes.push_back("best");
    }
  }
  t.rows.push_back({"= total", fmt_gib(m.total_bytes()), fmt_count(m.total_bytes()),
                    "of " + fmt_gib(m.capacity_bytes) + ": " +
                        (m.tight() ? "<span class=\"fail\">tight: fits only without the allocator reserve</span>"
                                   : m.fits() ? "<span class=\"ok\">fits</span>"
                                              : "<span class=\"fail\">does not fit</span>")});
  t.row_classes.push_back("best");
  return render_table(t);
}

std::string time_table_html(const TimeBreakdown& tb) {
  HtmlTable t;
  t.headers = {"part", "seconds", "share of the step", "what"};
  t.numeric_cols = {1, 2};
  auto row = [&](const std::string& name, double s, const std::string& what, bool in_step) {
    t.rows.push_back({html_escape(name), fmt_s(s), in_step && tb.step_s > 0 ? fmt_pct(s / tb.step_s) : "", html_escape(what)});
  };
  row("forward", tb.forward_s, "compute stream", true);
  row("backward", tb.backward_s, "compute stream", true);
  row("recompute", tb.recompute_s, "activation checkpointing", true);
  row("TP collectives (exposed)", tb.tp_comm_s, "on the critical path", true);
  row("FSDP comm exposed", tb.fsdp_exposed_s, "compute waits for all-gather / reduce-scatter", true);
  row("optimizer", tb.optimizer_s, "AdamW on the shard, grad norm", true);
  row("FSDP all-gather", tb.fsdp_all_gather_s, "comm stream", false);
  row("FSDP reduce-scatter", tb.fsdp_reduce_scatter_s, "comm stream", false);
  row("FSDP comm overlapped", tb.fsdp_overlapped_s(), "hidden behind compute", false);
  t.rows.push_back({"= step", fmt_s(tb.step_s), "100%", std::to_string(tb.grad_accum) + " micro-batch(es) per step"});
  t.row_classes.assign(t.rows.size() - 1, "");
  t.row_classes.push_back("best");
  return render_table(t);
}

}  // namespace

std::string render_simulate_html(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  const Candidate c = candidate_from_json(r);
  const std::string model = r.has("model") ? r.child("model").get_string("name", "?") : "?";
  *title = "Simulation: " + model + ", " + plan_label(c.plan);
  *sub = source + " \xC2\xB7 simulate detail \xC2\xB7 kernels: " + r.get_string("kernels", "?");
  std::ostringstream body, sum;
  sum << render_facts(setup_facts(r));
  const MemoryBreakdown& m = c.prediction.memory;
  const Throughput& th = c.prediction.throughput;
  if (!c.feasible())
    sum << "<div class=\"verdict bad\"><b>Infeasible (" << html_escape(to_string(c.limit)) << ").</b> " << html_escape(c.reason)
        << "</div>\n";
  else
    sum << "<div class=\"verdict good\"><b>" << fmt_count(th.tokens_per_s) << " tokens/s</b> (" << fmt_count(th.tokens_per_s_per_gpu)
        << " per GPU), " << fmt_s(c.prediction.time.step_s) << " per step, " << fmt_fixed(th.model_tflops_per_gpu, 1)
        << " model TFLOP/s per GPU, MFU " << fmt_pct(th.mfu) << "; " << fmt_gib(m.total_bytes()) << " of "
        << fmt_gib(m.capacity_bytes) << " per GPU.</div>\n";
  body << section("summary", "Summary", "", sum.str());
  if (has_prediction(c)) {
    const LabelledCandidates items{{split_label(c.plan), c}};
    body << section("memory", "Memory per GPU at the peak", std::string("The peak is at the ") + m.peak_at + ".",
                    figure(memory_chart("Predicted memory per GPU", items, {true}), "Hover a segment for its size.") +
                        memory_table_html(m));
    body << section("time", "Step time", "",
                    figure(time_chart("Predicted seconds per optimizer step", items, {true}),
                           "The thin bar is FSDP communication hidden behind compute.") +
                        time_table_html(c.prediction.time));
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
      t.rows.push_back({code(p.get_string("module")), html_escape(p.get_string("tp_style", "")), std::to_string(p.get_int("count", 0)),
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
      t.rows.push_back({html_escape(a.get_string("tensor")), fmt_sig(get_num(a, "bytes_per_token"), 5), kept ? "kept" : "recomputed"});
      t.row_classes.push_back(kept ? "" : "muted");
    }
    std::string lead = "One layer, per token of the micro-batch, after TP/SP sharding.";
    if (r.has("activation_bytes_per_layer"))
      lead += " Kept per layer at this micro-batch: " + fmt_gib(get_num(r, "activation_bytes_per_layer")) + ".";
    body << section("activations", "Activations per layer", lead, render_table(t));
  }
  return body.str();
}

std::string render_simulate_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  std::string out = csv_row({"module", "tp_style", "count", "rows", "cols", "tp_local_rows", "tp_local_cols", "fsdp_shard_numel"});
  const Json& ps = get_array(r, "parameters");
  for (size_t i = 0; i < ps.size(); ++i) {
    JsonReader p = element(r, "parameters", i);
    const std::vector<double> s = get_numbers(p, "shape"), l = get_numbers(p, "tp_local_shape");
    if (s.size() != 2 || l.size() != 2)
      throw InputError(source, p.field_path("shape"), "expected [rows, cols] in shape and tp_local_shape");
    out += csv_row({p.get_string("module"), p.get_string("tp_style", ""), std::to_string(p.get_int("count", 0, 0)), csv_num(s[0]), csv_num(s[1]),
                    csv_num(l[0]), csv_num(l[1]), csv_num(get_num(p, "fsdp_shard_numel"))});
  }
  return out;
}

}  // namespace planner::reports
