// CSV of each document's main table (reports/report.h). Fields through planner/output.h's
// csv_row (RFC 4180); numbers with up to 10 significant digits; units in the column names.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/units.h"
#include "planner/output.h"
#include "reports/documents.h"
#include "reports/report.h"
#include "reports/report_common.h"

namespace planner::reports {

namespace {

std::string num(double v) {
  char b[64];
  if (std::floor(v) == v && std::fabs(v) < 1e15)
    std::snprintf(b, sizeof b, "%.0f", v);  // byte counts and element counts in full
  else
    std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}
std::string b2s(bool v) { return v ? "true" : "false"; }

std::vector<std::string> plan_header() {
  return {"dp", "tp", "micro_batch", "activation_checkpointing", "sequence_parallel", "reshard_after_forward", "grad_sync"};
}
std::vector<std::string> plan_fields(const Plan& p) {
  return {std::to_string(p.dp), std::to_string(p.tp), std::to_string(p.micro_batch), to_string(p.ac),
          b2s(p.sequence_parallel), b2s(p.reshard_after_forward), to_string(p.grad_sync)};
}

// Prediction columns of a candidate (the data behind the memory and step-time bars).
std::vector<std::string> prediction_header() {
  std::vector<std::string> h;
  for (const auto& l : memory_lines()) h.push_back(l.key);
  for (const char* k : {"peak_allocated_bytes", "total_bytes", "capacity_bytes", "fits", "step_s", "forward_s", "backward_s",
                        "recompute_s", "tp_comm_s", "fsdp_all_gather_s", "fsdp_reduce_scatter_s", "fsdp_exposed_s",
                        "fsdp_overlapped_s", "optimizer_s", "grad_accum", "tokens_per_s", "tokens_per_s_per_gpu", "mfu"})
    h.push_back(k);
  return h;
}
std::vector<std::string> prediction_fields(const CandidateView& c) {
  std::vector<std::string> f;
  if (!c.has_prediction) return std::vector<std::string>(prediction_header().size());
  for (double b : c.memory_bytes) f.push_back(num(b));
  for (double v : {c.peak_allocated_bytes, c.total_bytes, c.capacity_bytes}) f.push_back(num(v));
  f.push_back(b2s(c.fits));
  for (double v : {c.step_s, c.forward_s, c.backward_s, c.recompute_s, c.tp_comm_s, c.fsdp_all_gather_s, c.fsdp_reduce_scatter_s,
                   c.fsdp_exposed_s, c.fsdp_overlapped_s, c.optimizer_s})
    f.push_back(num(v));
  f.push_back(std::to_string(c.grad_accum));
  for (double v : {c.tokens_per_s, c.tokens_per_s_per_gpu, c.mfu}) f.push_back(num(v));
  return f;
}

template <typename A, typename B>
void append(A& a, const B& b) {
  a.insert(a.end(), b.begin(), b.end());
}

std::string plan_search_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  std::vector<std::string> h{"split_dp", "split_tp", "settings_evaluated", "settings_feasible", "status", "limit", "reason"};
  append(h, plan_header());
  append(h, prediction_header());
  std::string out = csv_row(h);
  const Json& sp = get_array(r, "splits");
  for (size_t i = 0; i < sp.size(); ++i) {
    JsonReader s = element(r, "splits", i);
    std::vector<std::string> f{std::to_string(s.get_int("dp", 1)), std::to_string(s.get_int("tp", 1)),
                               std::to_string(s.get_int("evaluated", 0, 0)), std::to_string(s.get_int("feasible", 0, 0))};
    if (s.has("best") || s.has("rejected")) {
      const CandidateView c = read_candidate(s.child(s.has("best") ? "best" : "rejected"));
      append(f, std::vector<std::string>{s.has("best") ? "best" : "rejected", c.limit, c.reason});
      append(f, plan_fields(c.plan));
      append(f, prediction_fields(c));
    } else {
      f.push_back("none");
    }
    f.resize(h.size());
    out += csv_row(f);
  }
  return out;
}

std::string suggest_csv_doc(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  const int64_t rec = r.has("recommended_nodes") ? r.get_int("recommended_nodes", 1) : -1;
  std::vector<std::string> h{"nodes", "gpus", "fits", "days", "gpu_hours", "cost", "scaling_efficiency", "meets_deadline",
                             "recommended", "why_none"};
  append(h, plan_header());
  append(h, prediction_header());
  std::string out = csv_row(h);
  const Json& sw = get_array(r, "sweep");
  for (size_t i = 0; i < sw.size(); ++i) {
    JsonReader p = element(r, "sweep", i);
    const int64_t nodes = p.get_int("nodes", 1);
    std::vector<std::string> f{std::to_string(nodes), std::to_string(p.get_int("gpus", 1)), b2s(p.has("best"))};
    if (p.has("best")) {
      append(f, std::vector<std::string>{num(get_nonneg(p, "days")), num(get_nonneg(p, "gpu_hours")), num(get_num(p, "cost", 0)),
                                         num(get_num(p, "scaling_efficiency", 0)), b2s(p.get_bool("meets_deadline", false)),
                                         b2s(nodes == rec), ""});
      const CandidateView c = read_candidate(p.child("best"));
      append(f, plan_fields(c.plan));
      append(f, prediction_fields(c));
    } else {
      append(f, std::vector<std::string>{"", "", "", "", "false", "false", p.get_string("why_none", "")});
    }
    f.resize(h.size());
    out += csv_row(f);
  }
  return out;
}

std::string simulate_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  std::string out = csv_row({"module", "tp_style", "count", "rows", "cols", "tp_local_rows", "tp_local_cols", "fsdp_shard_numel"});
  const Json& ps = get_array(r, "parameters");
  for (size_t i = 0; i < ps.size(); ++i) {
    JsonReader p = element(r, "parameters", i);
    const std::vector<double> s = get_numbers(p, "shape"), l = get_numbers(p, "tp_local_shape");
    if (s.size() != 2 || l.size() != 2)
      throw InputError(source, p.field_path("shape"), "expected [rows, cols] in shape and tp_local_shape");
    out += csv_row({p.get_string("module"), p.get_string("tp_style", ""), std::to_string(p.get_int("count", 0, 0)), num(s[0]), num(s[1]),
                    num(l[0]), num(l[1]), num(get_num(p, "fsdp_shard_numel"))});
  }
  return out;
}

std::string run_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  const auto st = get_numbers(r, "step_time_s");
  const auto loss = r.has("loss") ? get_numbers(r, "loss") : std::vector<double>{};
  const int64_t warmup = r.get_int("warmup_steps", 0, 0);
  std::string out = csv_row({"step", "step_time_s", "loss", "warmup"});
  for (size_t i = 0; i < st.size(); ++i)
    out += csv_row({std::to_string(i + 1), num(st[i]), i < loss.size() ? num(loss[i]) : "", b2s(static_cast<int64_t>(i) < warmup)});
  return out;
}

std::string topology_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  JsonReader m = r.child("matrix");
  const auto idx = get_numbers(m, "gpus");
  const Json& bw = get_array(m, "bw_GBps");
  const Json& ty = m.has("type") ? get_array(m, "type") : Json::array();
  std::string out = csv_row({"gpu_a", "gpu_b", "path_type", "bw_GBps"});
  for (size_t i = 0; i < idx.size() && i < bw.size(); ++i)
    for (size_t j = 0; j < idx.size() && bw[i].is_array() && j < bw[i].size(); ++j) {
      if (!bw[i][j].is_number())
        throw InputError(source, "matrix.bw_GBps[" + std::to_string(i) + "][" + std::to_string(j) + "]", "expected a number");
      const std::string type = i < ty.size() && ty[i].is_array() && j < ty[i].size() && ty[i][j].is_string() ? ty[i][j].get<std::string>() : "";
      out += csv_row({num(idx[i]), num(idx[j]), type, num(bw[i][j].get<double>())});
    }
  return out;
}

std::string validate_csv(const Json& doc, const std::string& source) {
  const ValidateDoc v = read_validate(doc, source);
  const bool speeds = std::any_of(v.rows.begin(), v.rows.end(), [](const ValidateRow& x) { return x.host_speed > 0; });
  std::vector<std::string> h = plan_header();
  append(h, std::vector<std::string>{"predicted_peak_allocated_bytes", "measured_peak_allocated_bytes", "memory_error",
                                     "predicted_step_s", "measured_step_s", "step_time_error", "predicted_best", "measured_best"});
  if (speeds) h.push_back("host_speed");
  std::string out = csv_row(h);
  for (const auto& x : v.rows) {
    auto f = plan_fields(x.plan);
    append(f, std::vector<std::string>{num(x.predicted_peak_allocated_bytes), num(x.measured_peak_allocated_bytes), num(x.memory_error),
                                       num(x.predicted_step_s), num(x.measured_step_s), num(x.step_time_error),
                                       b2s(same_plan(x.plan, v.predicted_best)), b2s(same_plan(x.plan, v.measured_best))});
    if (speeds) f.push_back(x.host_speed > 0 ? num(x.host_speed) : "");
    out += csv_row(f);
  }
  return out;
}

std::string benchmark_csv(const Json& doc, const std::string& source) {
  std::string out = csv_row({"benchmark", "real_time_ns", "cpu_time_ns", "samples", "statistic", "error"});
  for (const auto& b : read_benchmarks(doc, source))
    out += csv_row({b.name, b.error ? "" : num(b.real_time_ns), b.error ? "" : num(b.cpu_time_ns), std::to_string(b.samples),
                    b.statistic, b.error_message});
  return out;
}

}  // namespace

std::string render_csv_report(const Json& doc, const std::string& source_name) {
  const DocKind kind = document_kind(doc, source_name);
  try {
    switch (kind) {
      case DocKind::plan_search: return plan_search_csv(doc, source_name);
      case DocKind::suggest: return suggest_csv_doc(doc, source_name);
      case DocKind::simulate: return simulate_csv(doc, source_name);
      case DocKind::run: return run_csv(doc, source_name);
      case DocKind::topology: return topology_csv(doc, source_name);
      case DocKind::validate: return validate_csv(doc, source_name);
      case DocKind::benchmark: return benchmark_csv(doc, source_name);
    }
  } catch (const Json::exception& e) {
    throw InputError(source_name, "", "not a valid " + to_string(kind) + " document: " + e.what());
  }
  return "";
}

}  // namespace planner::reports
