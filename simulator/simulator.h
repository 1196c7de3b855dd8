// The cost model: for a model, a training setup, a cluster and the runtime that trains, predict
// per-GPU memory and step time of a Plan. Formulas and sources: docs/cost-model.md. Pure C++, no
// LibTorch. It joins four parts, each its own file:
//   plan_shape.h  shapes after TP, FSDP shards, per-rank activation widths (arithmetic only)
//   memory.h      the memory lines and the peak
//   unit_costs.h  each unit's compute, TP collectives, FSDP collectives; the optimizer
//   timeline.h    those costs on a compute and a comm stream over the optimizer step
// and checks feasibility here (an infeasible plan is a Candidate with its limit and reason).
//
// Usage: Simulator sim(model, training, cluster, runtime); Candidate c = sim.evaluate(plan);
// evaluate() is the hot path of the planner (no allocation after the first call per tp);
// detail() adds the per-tensor memory table, the per-op activation table and the timeline.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/block_ops.h"
#include "core/cluster_spec.h"
#include "core/model_spec.h"
#include "core/parallel_plan.h"
#include "core/training_spec.h"
#include "simulator/memory.h"
#include "simulator/plan_shape.h"
#include "simulator/prediction.h"
#include "simulator/runtime.h"
#include "simulator/timeline.h"
#include "simulator/unit_costs.h"

namespace planner {

// One parameter tensor at this plan (llm.c-style table line).
struct ParamLine {
  std::string module;
  std::string tp_style;
  int64_t count = 1;               // tensors of this kind (layers)
  int64_t rows = 0, cols = 0;      // full shape
  int64_t local_rows = 0, local_cols = 0;  // after TP
  int64_t shard_numel = 0;         // after FSDP (per tensor, per rank, dim 0 padded to dp)
};

struct SimulationDetail {
  Candidate candidate;
  KernelFlavor kernels = KernelFlavor::fused;
  std::vector<ParamLine> params;
  std::vector<ActivationLine> activations;  // one transformer block (or the FeedForward)
  double activation_bytes_per_layer = 0;    // kept lines x tokens
  std::vector<TraceEvent> trace;            // the whole optimizer step, compute and comm streams
  // Why `trace` is empty for a step of more than kMaxTracedMicroBatches micro-batches ("" when
  // it is not): its events grow with the micro-batches, the prediction does not.
  std::string trace_omitted;
};

// The most micro-batches (gradient accumulation steps) a traced step has.
constexpr int64_t kMaxTracedMicroBatches = 4096;

class Simulator {
 public:
  Simulator(ModelSpec model, TrainingSpec training, ClusterSpec cluster, Runtime runtime);
  // The runtime a user of this cluster trains with (default_runtime: FSDP2 on GPUs, planner's
  // executor on a CPU cluster).
  Simulator(ModelSpec model, TrainingSpec training, ClusterSpec cluster);

  // explain=false skips formatting the reason text of memory-infeasible candidates (the search's
  // hot path); limit and memory_excess_bytes are still set.
  Candidate evaluate(const Plan& plan, bool explain = true) const;
  SimulationDetail detail(const Plan& plan) const;

  const ModelSpec& model() const { return model_; }
  const TrainingSpec& training() const { return training_; }
  const ClusterSpec& cluster() const { return cluster_; }
  const Runtime& runtime() const { return runtime_; }
  KernelFlavor kernels() const { return runtime_.kernels; }

  // Model FLOPs per token, 6N + 12 L h s (PaLM, Chowdhery et al. 2022, appendix B; torchtitan's
  // MFU): N = matmul parameters (input embedding excluded), attention counted non-causal.
  double model_flops_per_token() const { return model_flops_per_token_; }

 private:
  const TpShapes& shapes(int64_t tp) const;
  const GemmTimes& gemm_times(int64_t tp, int64_t tokens, int bytes_per_elt) const;
  Candidate evaluate_impl(const Plan& plan, std::vector<TraceEvent>* trace, bool explain) const;

  ModelSpec model_;
  TrainingSpec training_;
  ClusterSpec cluster_;
  Runtime runtime_;
  std::vector<TpRule> tp_plan_;
  BlockOps block_ops_;
  double model_flops_per_token_;  // computed once: parameter_tensors() allocates
  mutable std::vector<std::pair<int64_t, TpShapes>> shape_cache_;  // caches: not thread-safe
  mutable GemmTimes gemm_cache_;
};

}  // namespace planner
