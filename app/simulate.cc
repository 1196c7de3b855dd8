#include "app/simulate.h"

#include <iostream>
#include <sstream>

#include "core/error.h"
#include "core/limits.h"
#include "core/plan_file.h"
#include "core/units.h"
#include "planner/output.h"
#include "reports/chrome_trace.h"
#include "reports/report.h"

namespace planner::app {

namespace {

std::string detail_table(const Simulator& sim, const SimulationDetail& d) {
  std::ostringstream os;
  const Candidate& c = d.candidate;
  os << describe_setup(sim) << "\nPlan: " << plan_label(c.plan) << "\n";
  if (!c.feasible()) os << "INFEASIBLE (" << to_string(c.limit) << "): " << c.reason << "\n";
  if (!c.feasible() && c.limit != Limit::memory) return os.str();
  char buf[300];
  os << "\nParameters per rank (TP then FSDP):\n";
  std::snprintf(buf, sizeof buf, "  %-28s %-9s %5s %17s %17s %14s\n", "module", "tp", "count", "shape", "tp-local",
                "fsdp shard");
  os << buf;
  for (const auto& p : d.params) {
    std::snprintf(buf, sizeof buf, "  %-28s %-9s %5lld %8lld x %-6lld %8lld x %-6lld %14lld\n", p.module.c_str(),
                  p.tp_style.c_str(), (long long)p.count, (long long)p.rows, (long long)p.cols, (long long)p.local_rows,
                  (long long)p.local_cols, (long long)p.shard_numel);
    os << buf;
  }
  os << "\nSaved for backward, per layer, per token of the micro-batch (" << (d.kernels == KernelFlavor::fused ? "fused" : "composed")
     << " kernels):\n";
  for (const auto& a : d.activations) {
    std::snprintf(buf, sizeof buf, "  %-46s %10.1f B  %s\n", a.name.c_str(), a.bytes_per_token,
                  a.kept ? "kept" : "recomputed");
    os << buf;
  }
  std::snprintf(buf, sizeof buf, "  per layer at micro_batch %lld x seq_len %lld: %s\n", (long long)c.plan.micro_batch,
                (long long)sim.training().seq_len, format_bytes_gib(d.activation_bytes_per_layer).c_str());
  os << buf;
  os << "\nMemory per GPU at the peak (" << c.prediction.memory.peak_at << "):\n" << memory_table(c.prediction.memory);
  os << "\nStep time:\n" << time_table(c.prediction.time);
  const auto& th = c.prediction.throughput;
  std::snprintf(buf, sizeof buf,
                "\nThroughput: %.4g tokens/s (%.4g per GPU), %.1f model TFLOP/s per GPU, MFU %.1f%% "
                "(6N + 12 L h s = %.4g FLOP/token)\n",
                th.tokens_per_s, th.tokens_per_s_per_gpu, th.model_tflops_per_gpu, 100.0 * th.mfu,
                th.model_flops_per_token);
  os << buf;
  return os.str();
}

}  // namespace

int run_simulate(const SimulateOptions& o) {
  Setup s;
  Plan p;
  if (!o.plan_file.empty()) {
    PlanFile f = read_plan_file(o.plan_file);
    s.model = f.model;
    s.training = f.training;
    if (f.cluster) {
      s.cluster = *f.cluster;
    } else {
      if (o.setup.model.empty()) {
        SetupOptions so = o.setup;
        so.model = "feedforward";  // only to resolve the cluster options
        s.cluster = resolve_setup(so).cluster;
      } else {
        s.cluster = resolve_setup(o.setup).cluster;
      }
    }
    p = f.plan;
  } else {
    if (o.setup.model.empty()) throw InputError("--model", "", "required (or give --plan FILE)");
    s = resolve_setup(o.setup);
    const int64_t world = s.cluster.world();
    int64_t tp = 0;
    if (o.tp == "auto") {
      tp = std::min(s.cluster.gpus_per_node, world);
    } else {
      try {
        size_t pos = 0;
        tp = std::stoll(o.tp, &pos);
        if (pos != o.tp.size()) tp = 0;
      } catch (const std::exception&) {
        tp = 0;
      }
      if (tp <= 0 || tp > limits::kMaxWorld)
        throw InputError("--tp", "", "'" + quote_for_error(o.tp) + "' is not 'auto' or an integer in [1, " +
                                         std::to_string(limits::kMaxWorld) + "]");
    }
    int64_t dp = o.dp > 0 ? o.dp : world / tp;
    if (dp * tp != world)
      throw InputError("--dp", "", "dp(" + std::to_string(dp) + ") * tp(" + std::to_string(tp) + ") = " +
                                       std::to_string(dp * tp) + " != world size " + std::to_string(world) + " (" +
                                       std::to_string(s.cluster.num_nodes) + " nodes x " +
                                       std::to_string(s.cluster.gpus_per_node) + " GPUs)");
    p.dp = dp;
    p.tp = tp;
    p.micro_batch = o.micro_batch;
    p.ac = ac_from_string(o.ac, "--ac", "");
    p.sequence_parallel = o.sp == "on";
    p.reshard_after_forward = o.reshard == "on";
    p.grad_sync = grad_sync_from_string(o.grad_sync, "--grad-sync", "");
  }
  Simulator sim(s.model, s.training, s.cluster);
  SimulationDetail d = sim.detail(p);
  Json j = detail_to_json(d);
  j["format"] = "planner-simulate/1";
  j["tool"] = tool_json();
  j["model"] = model_to_json(s.model);
  j["training"] = training_to_json(s.training);
  j["cluster"] = cluster_to_json(s.cluster);
  if (!o.trace.empty()) {
    if (!d.trace_omitted.empty()) throw InputError("--trace", "", d.trace_omitted + " (give a larger --micro-batch)");
    reports::write_chrome_trace(o.trace, d);
  }
  if (!o.report.empty()) write_file_atomic(o.report, reports::render_html_report(j, "planner simulate"));
  if (o.format == "json") {
    write_output(o.output, j.dump(2) + "\n");
  } else if (o.format == "csv") {
    write_output(o.output, candidates_csv({d.candidate}));
  } else {
    write_output(o.output, detail_table(sim, d));
  }
  return d.candidate.feasible() ? 0 : 1;
}

CLI::App* add_simulate(CLI::App& cli, SimulateOptions* o) {
  CLI::App* cmd = cli.add_subcommand("simulate", "Predict memory and step time of one split, with the full breakdown");
  add_setup_options(cmd, &o->setup);
  cmd->add_option("--plan", o->plan_file, "A plan file (planner plan --write-plan) instead of the flags below");
  cmd->add_option("--dp", o->dp, "Data-parallel (FSDP) size [world / tp]")->check(int_in(1, limits::kMaxWorld));
  cmd->add_option("--tp", o->tp, "Tensor-parallel size, or auto (GPUs per node)")->capture_default_str();
  cmd->add_option("--micro-batch", o->micro_batch, "Sequences per dp rank per forward/backward")
      ->check(int_in(1, limits::kMaxBatch))
      ->capture_default_str();
  cmd->add_option("--ac", o->ac, "Activation checkpointing: none, selective, full")
      ->check(CLI::IsMember(ac_names()))
      ->capture_default_str();
  add_switch_option(cmd, "--sp", &o->sp, "Sequence parallel", false);
  add_switch_option(cmd, "--reshard-after-forward", &o->reshard, "FSDP reshard after forward", false);
  cmd->add_option("--grad-sync", o->grad_sync, "every, last")->check(CLI::IsMember(grad_sync_names()))->capture_default_str();
  add_format_option(cmd, &o->format);
  add_output_option(cmd, &o->output, "Write the output to a file (default: stdout)");
  cmd->add_option("--trace", o->trace, "Write the simulated step as a Chrome trace (chrome://tracing, Perfetto)");
  cmd->add_option("--report", o->report, "Write a self-contained HTML report");
  return cmd;
}

}  // namespace planner::app
