#include "simulator/simulator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/units.h"
#include "simulator/collectives.h"
#include "simulator/compute.h"

namespace planner {

std::string to_string(Limit l) {
  switch (l) {
    case Limit::none: return "none";
    case Limit::tp_divisibility: return "tp_divisibility";
    case Limit::sp_divisibility: return "sp_divisibility";
    case Limit::batch_divisibility: return "batch_divisibility";
    case Limit::world_size: return "world_size";
    case Limit::memory: return "memory";
    case Limit::backend: return "backend";
  }
  return "?";
}

Simulator::Simulator(ModelSpec model, TrainingSpec training, ClusterSpec cluster, Runtime runtime)
    : model_(std::move(model)),
      training_(training),
      cluster_(std::move(cluster)),
      runtime_(runtime),
      tp_plan_(default_tp_plan(model_.kind, training_.tp_plan)),
      block_ops_(block_ops(model_)) {
  validate_model(model_, model_.name);
  PLANNER_CHECK(training_.seq_len >= 1 && training_.global_batch >= 1, "bad training spec");
  // Model FLOPs per token, 6N + 12 L h s (PaLM, Chowdhery et al. 2022, appendix B; torchtitan's
  // MFU): N = matmul parameters (input embedding excluded), attention counted non-causal.
  const double n = static_cast<double>(matmul_parameter_count(model_));
  double attn = 0;
  if (model_.kind == ModelKind::llama)
    attn = 12.0 * model_.n_layers * static_cast<double>(model_.q_dim()) * static_cast<double>(training_.seq_len);
  model_flops_per_token_ = 6.0 * n + attn;
}

Simulator::Simulator(ModelSpec model, TrainingSpec training, ClusterSpec cluster)
    : Simulator(std::move(model), training, cluster, default_runtime(cluster)) {}

const TpShapes& Simulator::shapes(int64_t tp) const {
  for (const auto& e : shape_cache_)
    if (e.first == tp) return e.second;
  shape_cache_.emplace_back(tp, tp_shapes(model_, tp_plan_, tp));
  return shape_cache_.back().second;
}

Candidate Simulator::evaluate(const Plan& plan, bool explain) const { return evaluate_impl(plan, nullptr, explain); }

const GemmTimes& Simulator::gemm_times(int64_t tp, int64_t T, int cb) const {
  GemmTimes& g = gemm_cache_;
  if (g.tp == tp && g.tokens == T && g.bytes_per_elt == cb) return g;
  g = planner::gemm_times(cluster_, model_, block_ops_, tp_plan_, tp, T, cb);
  return g;
}

Candidate Simulator::evaluate_impl(const Plan& plan, std::vector<TraceEvent>* trace, bool explain) const {
  Candidate cand;
  cand.plan = plan;
  const int64_t dp = plan.dp, tp = plan.tp;
  PLANNER_CHECK(dp >= 1 && tp >= 1 && plan.micro_batch >= 1, plan_label(plan));
  char buf[512];

  if (dp * tp != cluster_.world()) {
    cand.limit = Limit::world_size;
    std::snprintf(buf, sizeof buf, "dp(%lld) * tp(%lld) = %lld != world size %lld", (long long)dp, (long long)tp,
                  (long long)(dp * tp), (long long)cluster_.world());
    cand.reason = buf;
    return cand;
  }
  const TpShapes& sh = shapes(tp);
  if (!sh.ok) {
    cand.limit = Limit::tp_divisibility;
    cand.reason = sh.why;
    return cand;
  }
  const int64_t s = training_.seq_len;
  if (plan.sequence_parallel && s % tp != 0) {
    cand.limit = Limit::sp_divisibility;
    std::snprintf(buf, sizeof buf, "sequence parallel: tp(%lld) does not divide seq_len (%lld)", (long long)tp, (long long)s);
    cand.reason = buf;
    return cand;
  }
  if (training_.global_batch % (dp * plan.micro_batch) != 0) {
    cand.limit = Limit::batch_divisibility;
    std::snprintf(buf, sizeof buf, "global_batch %lld is not divisible by dp(%lld) * micro_batch(%lld) = %lld",
                  (long long)training_.global_batch, (long long)dp, (long long)plan.micro_batch,
                  (long long)(dp * plan.micro_batch));
    cand.reason = buf;
    return cand;
  }

  const PlanShape ps = plan_shape(model_, training_, plan, sh);
  const ClusterSpec& cl = cluster_;
  const int cb = ps.bytes.compute;
  const int64_t ga = ps.grad_accum;

  MemoryBreakdown& mem = cand.prediction.memory;
  mem = predict_memory(model_, training_, cl, runtime_, plan, ps);

  const UnitCosts costs = unit_costs(model_, training_, cl, runtime_, plan, ps, gemm_times(tp, ps.tokens, cb));

  TimelineSpec ts;
  ts.n_layers = ps.n_layers;
  ts.llama = ps.llama;
  ts.has_root = ps.shards.has_root;
  ts.reshard_after_forward = plan.reshard_after_forward;
  ts.grad_sync = plan.grad_sync;
  ts.grad_accum = ga;
  ts.comm_overlaps_compute = cl.comm_overlaps_compute;
  // The executor over Gloo prefetches the next unit's all-gather on Gloo's worker thread while
  // this unit computes, reduce-scatters synchronously after a unit's backward (after the prefetch
  // in flight: Gloo runs a group's collectives in order), and gathers the last block for backward
  // when its output's gradient arrives. Its ranks share the cores with that thread, so at most
  // part of an all-gather hides behind compute: a profile may give that fraction per group
  // (hidden_fraction; `planner calibrate` measures it into its calibration document only), the
  // rest running on the compute stream when it is issued.
  ts.gloo_prefetch = !cl.comm_overlaps_compute && cl.backend == "gloo";
  // A profile's measured fraction (-1: none). Without one, a prefetch over Gloo hides behind the
  // blocking waits of the TP collectives that run while it is in flight, and behind nothing else:
  // with more ranks than cores the compute beside it is time its transfer must share, while a rank
  // blocked in a TP collective yields its core to the transfer (docs/cost-model.md, "Overlap on a
  // CPU host"). On a GPU's comm stream everything hides.
  ts.ag_hidden_fraction = collective_hidden_fraction(cl, CollectiveKind::all_gather, dp, tp, -1.0);
  const StepTimes st = schedule_step(costs, ts, trace);
  const double t = st.step_s;
  const double opt_s = st.optimizer_s;

  TimeBreakdown& tb = cand.prediction.time;
  tb.step_s = t;
  tb.forward_s = st.fwd_s;
  tb.backward_s = st.bwd_s;
  tb.recompute_s = st.recompute_s;
  tb.tp_comm_s = st.tp_s;
  tb.fsdp_all_gather_s = st.ag_s;
  tb.fsdp_reduce_scatter_s = st.rs_s;
  tb.fsdp_exposed_s = st.exposed_s;
  tb.optimizer_s = opt_s;
  tb.grad_accum = ga;

  Throughput& th = cand.prediction.throughput;
  const double tokens_per_step = static_cast<double>(training_.global_batch) * static_cast<double>(s);
  th.tokens_per_s = tokens_per_step / t;
  th.tokens_per_s_per_gpu = th.tokens_per_s / static_cast<double>(cluster_.world());
  th.model_flops_per_token = model_flops_per_token();
  th.model_tflops_per_gpu = th.model_flops_per_token * th.tokens_per_s_per_gpu / kTera;
  th.mfu = th.model_flops_per_token * th.tokens_per_s_per_gpu / peak_flops_per_s(cl, cb);

  if (!mem.fits()) {
    cand.limit = Limit::memory;
    cand.memory_excess_bytes = mem.required_bytes() - mem.capacity_bytes;
    if (!explain) return cand;
    struct Line {
      const char* name;
      double bytes;
    } lines[] = {{"activations", mem.activations_bytes},   {"optimizer states", mem.optimizer_bytes},
                 {"master params", mem.master_params_bytes}, {"grads", mem.grads_bytes},
                 {"gathered params", mem.gathered_params_bytes}, {"unsharded grads", mem.unsharded_grads_bytes},
                 {"logits/loss", mem.logits_bytes},          {"comm buffers", mem.comm_buffers_bytes}};
    std::sort(std::begin(lines), std::end(lines), [](const Line& a, const Line& b) { return a.bytes > b.bytes; });
    std::snprintf(buf, sizeof buf,
                  "memory %.1f GiB > %.1f GiB (over by %.1f GiB, before the allocator reserve): %s %.1f GiB, %s %.1f "
                  "GiB at micro_batch %lld, ac %s",
                  bytes_to_gib(mem.required_bytes()), bytes_to_gib(mem.capacity_bytes),
                  bytes_to_gib(cand.memory_excess_bytes), lines[0].name, bytes_to_gib(lines[0].bytes), lines[1].name,
                  bytes_to_gib(lines[1].bytes), (long long)plan.micro_batch, to_string(plan.ac).c_str());
    cand.reason = buf;
  }
  return cand;
}

SimulationDetail Simulator::detail(const Plan& plan) const {
  SimulationDetail out;
  out.kernels = runtime_.kernels;
  int64_t per_micro_step = 0;
  const bool traced = plan.dp >= 1 && plan.micro_batch >= 1 &&
                      !__builtin_mul_overflow(plan.dp, plan.micro_batch, &per_micro_step) &&
                      training_.global_batch / per_micro_step <= kMaxTracedMicroBatches;
  if (!traced)
    out.trace_omitted = "the step has " + std::to_string(per_micro_step > 0 ? training_.global_batch / per_micro_step : 0) +
                        " micro-batches; a trace is written for at most " + std::to_string(kMaxTracedMicroBatches);
  out.candidate = evaluate_impl(plan, traced ? &out.trace : nullptr, true);
  const auto& c = out.candidate;
  if (c.limit == Limit::world_size || c.limit == Limit::backend || c.limit == Limit::tp_divisibility) return out;
  for (const auto& t : parameter_tensors(model_)) {
    ParamLine pl;
    pl.module = t.module;
    TpStyle style = tp_style_for(tp_plan_, t.module);
    pl.tp_style = to_string(style);
    pl.count = t.count;
    pl.rows = t.rows;
    pl.cols = t.cols;
    LocalShape ls;
    tp_local_shape(t, style, plan.tp, &ls, nullptr);
    pl.local_rows = ls.rows;
    pl.local_cols = ls.cols;
    pl.shard_numel = fsdp_shard_numel(ls, plan.dp);
    out.params.push_back(pl);
  }
  const PlanShape ps = plan_shape(model_, training_, plan, shapes(plan.tp));
  out.activations = activation_lines(model_, plan, ps, runtime_.kernels, training_.compiled,
                                     training_.tp_plan.gather_per_linear, training_.selective_ac,
                                     &out.activation_bytes_per_layer);
  return out;
}

}  // namespace planner
