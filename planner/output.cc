#include "planner/output.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/units.h"
#include "planner/exports.h"

namespace planner {

static std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string planner_version() { return PLANNER_VERSION; }

std::string planner_version_line() {
#ifdef PLANNER_HAVE_TORCH
  return "planner " + planner_version() + " (with the LibTorch executor: train, calibrate, validate)";
#else
  return "planner " + planner_version() + " (without the LibTorch executor: no train, calibrate or validate runs)";
#endif
}

Json tool_json() { return Json{{"name", "planner"}, {"version", planner_version()}}; }

std::string format_bytes_gib(double bytes) { return fmt("%.2f GiB", bytes_to_gib(bytes)); }

std::string format_seconds(double s) {
  if (s >= 1.0) return fmt("%.3f s", s);
  if (s >= 1e-3) return fmt("%.2f ms", s * 1e3);
  return fmt("%.1f us", s * 1e6);
}

Json detail_to_json(const SimulationDetail& d) {
  Json j = candidate_to_json(d.candidate);
  j["kernels"] = d.kernels == KernelFlavor::fused ? "fused" : "composed";
  Json params = Json::array();
  for (const auto& p : d.params)
    params.push_back({{"module", p.module}, {"tp_style", p.tp_style}, {"count", p.count}, {"shape", {p.rows, p.cols}},
                      {"tp_local_shape", {p.local_rows, p.local_cols}}, {"fsdp_shard_numel", p.shard_numel}});
  j["parameters"] = params;
  Json acts = Json::array();
  for (const auto& a : d.activations)
    acts.push_back({{"tensor", a.name}, {"bytes_per_token", a.bytes_per_token}, {"kept", a.kept}});
  j["activations_per_layer"] = acts;
  j["activation_bytes_per_layer"] = d.activation_bytes_per_layer;
  return j;
}

static Json setup_json(const Simulator& sim) {
  return Json{{"model", model_to_json(sim.model())},
              {"training", training_to_json(sim.training())},
              {"cluster", cluster_to_json(sim.cluster())}};
}

Json search_to_json(const Simulator& sim, const PlanSearchResult& r) {
  Json j = setup_json(sim);
  j["format"] = "planner-plan-search/1";
  j["tool"] = tool_json();
  j["evaluated"] = r.evaluated;
  Json ranked = Json::array();
  for (const auto& c : r.ranked) ranked.push_back(candidate_to_json(c));
  j["ranked"] = ranked;
  Json splits = Json::array();
  for (const auto& s : r.splits) {
    Json sj{{"dp", s.dp}, {"tp", s.tp}, {"evaluated", s.evaluated}, {"feasible", s.feasible}};
    if (s.best) sj["best"] = candidate_to_json(*s.best);
    if (!s.best && s.closest) sj["rejected"] = candidate_to_json(*s.closest);
    splits.push_back(sj);
  }
  j["splits"] = splits;
  if (r.auto_choice) j["lightning_auto"] = candidate_to_json(*r.auto_choice);
  if (!r.ranked.empty())
    j["exports"] = exports_to_json(all_exports(r.ranked.front().plan, sim.training(), sim.model(),
                                               sim.cluster().gpus_per_node, sim.cluster().num_nodes));
  return j;
}

Json suggest_to_json(const SuggestResult& r, const SuggestGoal& goal) {
  Json j{{"format", "planner-suggest/1"},
         {"tool", tool_json()},
         {"goal",
          {{"token_budget", goal.token_budget},
           {"deadline_days", goal.deadline_days},
           {"max_nodes", goal.max_nodes},
           {"price_per_gpu_hour", goal.price_per_gpu_hour},
           {"minimize_cost", goal.minimize_cost}}},
         {"evaluated", r.evaluated},
         {"verdict", r.verdict}};
  Json sweep = Json::array();
  for (const auto& p : r.sweep) {
    Json pj{{"nodes", p.nodes}, {"gpus", p.gpus}};
    if (p.best) {
      pj["best"] = candidate_to_json(*p.best);
      pj["days"] = p.days;
      pj["gpu_hours"] = p.gpu_hours;
      if (goal.price_per_gpu_hour > 0) pj["cost"] = p.cost;  // no price, no cost
      pj["scaling_efficiency"] = p.scaling_efficiency;
      pj["meets_deadline"] = p.meets_deadline;
    } else {
      pj["why_none"] = p.why_none;
    }
    sweep.push_back(pj);
  }
  j["sweep"] = sweep;
  if (r.recommended) j["recommended_nodes"] = r.sweep[*r.recommended].nodes;
  if (!r.skipped_nodes.empty()) j["skipped"] = {{"nodes", r.skipped_nodes}, {"why", r.skipped_reason}};
  j["min_gpus_for_states"] = r.min_gpus_for_states;
  return j;
}

// A number as C writes it ("-1.5", "+2", "-3e-05"): left alone by the formula guard below.
static bool plain_number(const std::string& f) {
  if (f.empty()) return false;
  char* end = nullptr;
  std::strtod(f.c_str(), &end);
  return end == f.c_str() + f.size() && f.find_first_not_of("0123456789+-.eE") == std::string::npos;
}

std::string csv_escape(const std::string& given) {
  std::string f = given;
  // CSV injection (OWASP): a spreadsheet runs a cell starting with = + - @ (or a tab or carriage
  // return before one) as a formula. Such a text cell gets a leading apostrophe, which the
  // spreadsheet shows as text; numbers (-1.5) stay numbers.
  if (!f.empty() && std::string("=+-@\t\r").find(f[0]) != std::string::npos && !plain_number(f)) f = "'" + f;
  if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
  std::string out = "\"";
  for (char ch : f) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string csv_row(const std::vector<std::string>& fields) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) s += (i ? "," : "") + csv_escape(fields[i]);
  return s + "\r\n";
}

static std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::vector<std::string> candidate_csv_header() {
  return {"dp", "tp", "micro_batch", "activation_checkpointing", "sequence_parallel", "reshard_after_forward",
          "grad_sync", "feasible", "limit", "reason", "grad_accum", "step_time_s", "tokens_per_s",
          "tokens_per_s_per_gpu", "model_tflops_per_gpu", "mfu", "memory_total_gib", "memory_capacity_gib",
          "master_params_gib", "grads_gib", "optimizer_gib", "gathered_params_gib", "unsharded_grads_gib",
          "activations_gib", "logits_gib", "comm_buffers_gib", "allocator_reserve_gib", "runtime_reserved_gib",
          "forward_s", "backward_s", "recompute_s", "tp_comm_s", "fsdp_all_gather_s", "fsdp_reduce_scatter_s",
          "fsdp_exposed_s", "optimizer_s"};
}

std::vector<std::string> candidate_csv_fields(const Candidate& c) {
  const Plan& p = c.plan;
  std::vector<std::string> f{std::to_string(p.dp), std::to_string(p.tp), std::to_string(p.micro_batch),
                             to_string(p.ac), p.sequence_parallel ? "true" : "false",
                             p.reshard_after_forward ? "true" : "false", to_string(p.grad_sync),
                             c.feasible() ? "true" : "false", to_string(c.limit), c.reason};
  const bool has = c.feasible() || c.limit == Limit::memory;
  const auto& m = c.prediction.memory;
  const auto& t = c.prediction.time;
  const auto& th = c.prediction.throughput;
  auto g = [&](double b) { return has ? num(bytes_to_gib(b)) : std::string(); };
  auto v = [&](double x) { return has ? num(x) : std::string(); };
  std::vector<std::string> rest{has ? std::to_string(t.grad_accum) : "", v(t.step_s), v(th.tokens_per_s),
                                v(th.tokens_per_s_per_gpu), v(th.model_tflops_per_gpu), v(th.mfu),
                                g(m.total_bytes()), g(m.capacity_bytes), g(m.master_params_bytes), g(m.grads_bytes),
                                g(m.optimizer_bytes), g(m.gathered_params_bytes), g(m.unsharded_grads_bytes),
                                g(m.activations_bytes), g(m.logits_bytes), g(m.comm_buffers_bytes),
                                g(m.allocator_reserve_bytes), g(m.runtime_reserved_bytes), v(t.forward_s),
                                v(t.backward_s), v(t.recompute_s), v(t.tp_comm_s), v(t.fsdp_all_gather_s),
                                v(t.fsdp_reduce_scatter_s), v(t.fsdp_exposed_s), v(t.optimizer_s)};
  f.insert(f.end(), rest.begin(), rest.end());
  return f;
}

std::string candidates_csv(const std::vector<Candidate>& cs) {
  std::string s = csv_row(candidate_csv_header());
  for (const auto& c : cs) s += csv_row(candidate_csv_fields(c));
  return s;
}

std::string suggest_csv(const SuggestResult& r, const SuggestGoal& goal) {
  std::vector<std::string> h{"nodes", "gpus", "fits", "days", "gpu_hours", "cost", "scaling_efficiency",
                             "meets_deadline", "recommended", "why_none"};
  for (const auto& c : candidate_csv_header()) h.push_back("best_" + c);
  std::string s = csv_row(h);
  for (size_t i = 0; i < r.sweep.size(); ++i) {
    const auto& p = r.sweep[i];
    std::vector<std::string> f{std::to_string(p.nodes), std::to_string(p.gpus), p.best ? "true" : "false",
                               p.best ? num(p.days) : "", p.best ? num(p.gpu_hours) : "",
                               p.best && goal.price_per_gpu_hour > 0 ? num(p.cost) : "",
                               p.best ? num(p.scaling_efficiency) : "", p.meets_deadline ? "true" : "false",
                               (r.recommended && *r.recommended == i) ? "true" : "false", p.why_none};
    if (p.best) {
      auto cf = candidate_csv_fields(*p.best);
      f.insert(f.end(), cf.begin(), cf.end());
    } else {
      f.resize(h.size());
    }
    s += csv_row(f);
  }
  return s;
}

std::string memory_table(const MemoryBreakdown& m) {
  std::ostringstream os;
  auto line = [&](const char* name, double b, const char* note) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-26s %12s  %s\n", name, format_bytes_gib(b).c_str(), note);
    os << buf;
  };
  line("master params (shard)", m.master_params_bytes, "");
  line("grads (shard)", m.grads_bytes, "");
  line("optimizer states (shard)", m.optimizer_bytes, "AdamW exp_avg + exp_avg_sq");
  line("gathered params", m.gathered_params_bytes, "root + current + prefetched unit(s)");
  line("unsharded grads", m.unsharded_grads_bytes, "awaiting reduce-scatter");
  line("activations", m.activations_bytes, "saved for backward, all layers");
  line("logits / loss", m.logits_bytes, "vocab-sized temporaries");
  line("comm buffers", m.comm_buffers_bytes, "reduce-scatter staging");
  line("= peak allocated", m.peak_allocated_bytes, "compare: max_memory_allocated");
  line("+ allocator reserve", m.allocator_reserve_bytes, "compare: max_memory_reserved");
  line("+ runtime (CUDA/NCCL)", m.runtime_reserved_bytes, "not tensors");
  char buf[200];
  std::snprintf(buf, sizeof buf, "  %-26s %12s of %s: %s\n", "= total", format_bytes_gib(m.total_bytes()).c_str(),
                format_bytes_gib(m.capacity_bytes).c_str(),
                m.tight() ? "TIGHT (fits only if the allocator releases its cache: cudaMalloc retries, or "
                            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True)"
                          : (m.fits() ? "fits" : "DOES NOT FIT"));
  os << buf;
  return os.str();
}

std::string time_table(const TimeBreakdown& t) {
  std::ostringstream os;
  auto line = [&](const char* name, double s, const char* note) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-26s %12s  %s\n", name, format_seconds(s).c_str(), note);
    os << buf;
  };
  line("forward", t.forward_s, "compute");
  line("backward", t.backward_s, "compute");
  line("recompute", t.recompute_s, "activation checkpointing");
  line("TP collectives", t.tp_comm_s, "on the critical path");
  line("FSDP all-gather", t.fsdp_all_gather_s, "comm stream");
  line("FSDP reduce-scatter", t.fsdp_reduce_scatter_s, "comm stream");
  line("  exposed", t.fsdp_exposed_s, "compute waits for FSDP comm");
  line("  overlapped", t.fsdp_overlapped_s(), "hidden behind compute");
  line("optimizer", t.optimizer_s, "AdamW on the shard");
  char buf[200];
  std::snprintf(buf, sizeof buf, "  %-26s %12s  (%lld micro-batches)\n", "= step", format_seconds(t.step_s).c_str(),
                (long long)t.grad_accum);
  os << buf;
  return os.str();
}

std::string describe_setup(const Simulator& sim) {
  const auto& m = sim.model();
  const auto& t = sim.training();
  const auto& c = sim.cluster();
  char buf[600];
  std::ostringstream os;
  std::snprintf(buf, sizeof buf, "model    %s: %.3g parameters (%s, dim %lld, ffn %lld, %lld layers)\n", m.name.c_str(),
                static_cast<double>(parameter_count(m)), to_string(m.kind).c_str(), (long long)m.dim,
                (long long)m.ffn_hidden, (long long)m.n_layers);
  os << buf;
  std::snprintf(buf, sizeof buf, "training seq_len %lld, global_batch %lld sequences (%.3g tokens/step), %s\n",
                (long long)t.seq_len, (long long)t.global_batch, static_cast<double>(t.seq_len * t.global_batch),
                to_string(t.precision).c_str());
  os << buf;
  std::snprintf(buf, sizeof buf, "cluster  %s: %lld node(s) x %lld %s (%.0f GiB), %s; %s across nodes [%s]\n",
                c.name.c_str(), (long long)c.num_nodes, (long long)c.gpus_per_node, c.device.name.c_str(),
                bytes_to_gib(c.device.memory_bytes), c.intra_node.name.c_str(), c.inter_node.name.c_str(),
                c.backend.c_str());
  os << buf;
  return os.str();
}

static std::string candidate_row(const Candidate& c) {
  const auto& p = c.plan;
  char buf[300];
  std::snprintf(buf, sizeof buf, "%4lld %4lld %4lld %-9s %-3s %-7s %-5s %5lld %11.4g %9.1f %6.1f%% %10s%s\n",
                (long long)p.dp, (long long)p.tp, (long long)p.micro_batch, to_string(p.ac).c_str(),
                p.sequence_parallel ? "on" : "off", p.reshard_after_forward ? "on" : "off",
                to_string(p.grad_sync).c_str(), (long long)c.prediction.time.grad_accum,
                c.prediction.throughput.tokens_per_s, c.prediction.throughput.model_tflops_per_gpu,
                100.0 * c.prediction.throughput.mfu, format_bytes_gib(c.prediction.memory.total_bytes()).c_str(),
                c.prediction.memory.tight() ? " TIGHT (fits without the allocator reserve only)" : "");
  return buf;
}

static const char* kHeader =
    "  dp   tp   mb ac        sp  reshard sync     ga    tokens/s  TFLOP/s    MFU     memory\n";

std::string search_table(const Simulator& sim, const PlanSearchResult& r, size_t top) {
  std::ostringstream os;
  os << describe_setup(sim) << "\n";
  os << "Splits (dp x tp = " << sim.cluster().world() << "), best knobs of each:\n" << kHeader;
  for (const auto& s : r.splits) {
    if (s.best) {
      os << candidate_row(*s.best);
    } else {
      char buf[100];
      std::snprintf(buf, sizeof buf, "%4lld %4lld  rejected: ", (long long)s.dp, (long long)s.tp);
      os << buf << (s.closest ? s.closest->reason : "no candidate") << "\n";
    }
  }
  os << "\nTop " << std::min(top, r.ranked.size()) << " of " << r.ranked.size() << " feasible candidates ("
     << r.evaluated << " evaluated):\n" << kHeader;
  for (size_t i = 0; i < r.ranked.size() && i < top; ++i) os << candidate_row(r.ranked[i]);
  if (r.ranked.empty()) {
    os << "  none fits.\n";
    return os.str();
  }
  const Candidate& best = r.ranked.front();
  os << "\nBest: " << plan_label(best.plan) << "\n";
  if (r.auto_choice) {
    const double diff = best.prediction.throughput.tokens_per_s / r.auto_choice->prediction.throughput.tokens_per_s - 1.0;
    os << "Lightning \"auto\" (tp = GPUs per node = " << r.auto_choice->plan.tp << "): "
       << plan_label(r.auto_choice->plan) << " -> best is " << fmt("%.1f", 100.0 * diff) << "% faster\n";
  } else {
    os << "Lightning \"auto\" (tp = " << std::min(sim.cluster().gpus_per_node, sim.cluster().world())
       << "): no feasible setting\n";
  }
  os << "\nMemory per GPU (best):\n" << memory_table(best.prediction.memory);
  os << "\nStep time (best):\n" << time_table(best.prediction.time);
  os << "\nLightning:  " << lightning_strategy(best.plan) << "\n";
  os << "Exports of the best plan (planner plan ... --export NAME prints one):\n";
  for (const auto& e : all_exports(best.plan, sim.training(), sim.model(), sim.cluster().gpus_per_node,
                                   sim.cluster().num_nodes)) {
    os << "  " << e.name << ": " << e.target << "\n";
    for (const auto& w : e.warnings) os << "    warning: " << w << "\n";
  }
  return os.str();
}

std::string suggest_table(const SuggestResult& r, const SuggestGoal& goal) {
  std::ostringstream os;
  char buf[400];
  std::snprintf(buf, sizeof buf, "Goal: %.3g tokens%s%s\n", goal.token_budget,
                goal.deadline_days > 0 ? fmt(" within %.1f days", goal.deadline_days).c_str() : "",
                goal.price_per_gpu_hour > 0 ? fmt(" at %.2f per GPU-hour", goal.price_per_gpu_hour).c_str() : "");
  os << buf;
  os << " nodes  GPUs  best split                                           tokens/s    MFU     days   GPU-hours        cost  scaling\n";
  for (size_t i = 0; i < r.sweep.size(); ++i) {
    const auto& p = r.sweep[i];
    const char* mark = (r.recommended && *r.recommended == i) ? "*" : (p.meets_deadline ? " " : "-");
    if (!p.best) {
      std::snprintf(buf, sizeof buf, "%s%5lld %5lld  nothing fits: %s\n", mark, (long long)p.nodes, (long long)p.gpus,
                    p.why_none.c_str());
    } else {
      const std::string cost = goal.price_per_gpu_hour > 0 ? fmt("%.0f", p.cost) : "-";
      std::snprintf(buf, sizeof buf, "%s%5lld %5lld  %-50s %10.4g %5.1f%% %8.2f %11.0f %11s %7.1f%%%s\n", mark,
                    (long long)p.nodes, (long long)p.gpus, plan_label(p.best->plan).c_str(),
                    p.best->prediction.throughput.tokens_per_s, 100.0 * p.best->prediction.throughput.mfu, p.days,
                    p.gpu_hours, cost.c_str(), 100.0 * p.scaling_efficiency,
                    p.best->prediction.memory.tight() ? "  TIGHT (fits without the allocator reserve only)" : "");
    }
    os << buf;
  }
  os << "(* recommended, - misses the deadline; scaling: per-GPU tokens/s relative to the best of the sweep; "
     << r.evaluated << " candidates evaluated)\n";
  if (!r.skipped_nodes.empty()) {
    os << "Skipped " << r.skipped_nodes.size() << " node count(s) (";
    for (size_t i = 0; i < r.skipped_nodes.size() && i < 12; ++i) os << (i ? ", " : "") << r.skipped_nodes[i];
    os << (r.skipped_nodes.size() > 12 ? ", ..." : "") << "): " << r.skipped_reason << "\n";
  }
  os << r.verdict << "\n";
  return os.str();
}

}  // namespace planner
