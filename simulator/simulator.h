// The cost model: for a model, a training setup and a cluster, predict per-GPU memory and step
// time of a Plan. Formulas and sources: docs/cost-model.md. Pure C++, no LibTorch.
//
// Usage: Simulator sim(model, training, cluster); Candidate c = sim.evaluate(plan);
// evaluate() is the hot path of the planner (no allocation after the first call per tp);
// detail() adds the per-tensor memory table, the per-op activation table and the timeline.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/cluster_spec.h"
#include "core/model_spec.h"
#include "core/parallel_plan.h"
#include "core/training_spec.h"
#include "simulator/prediction.h"

namespace planner {

// Kernel implementations the executor runs: GPUs use fused kernels (flash attention, fused
// RMSNorm); the CPU executor (LibTorch 1.13) composes them from plain ops, which saves more.
enum class KernelFlavor { fused, composed };

// One parameter tensor at this plan (llm.c-style table line).
struct ParamLine {
  std::string module;
  std::string tp_style;
  int64_t count = 1;               // tensors of this kind (layers)
  int64_t rows = 0, cols = 0;      // full shape
  int64_t local_rows = 0, local_cols = 0;  // after TP
  int64_t shard_numel = 0;         // after FSDP (per tensor, per rank, dim 0 padded to dp)
};

// One tensor saved for backward, per layer, at this plan.
struct ActivationLine {
  std::string name;
  double bytes_per_token = 0;  // after TP/SP sharding
  bool kept = true;            // false: recomputed in backward (activation checkpointing)
};

struct TraceEvent {
  std::string name;    // "F layers.3", "AG layers.4", "RS layers.2", "TP all_reduce" ...
  std::string stream;  // "compute" or "comm"
  double start_s = 0;
  double duration_s = 0;
  int64_t micro_batch = 0;
};

struct SimulationDetail {
  Candidate candidate;
  KernelFlavor kernels = KernelFlavor::fused;
  std::vector<ParamLine> params;
  std::vector<ActivationLine> activations;  // one transformer block (or the FeedForward)
  double activation_bytes_per_layer = 0;    // kept lines x tokens
  std::vector<TraceEvent> trace;            // the whole optimizer step, compute and comm streams
};

class Simulator {
 public:
  Simulator(ModelSpec model, TrainingSpec training, ClusterSpec cluster);

  // explain=false skips formatting the reason text of memory-infeasible candidates (the search's
  // hot path); limit and memory_excess_bytes are still set.
  Candidate evaluate(const Plan& plan, bool explain = true) const;
  SimulationDetail detail(const Plan& plan) const;

  const ModelSpec& model() const { return model_; }
  const TrainingSpec& training() const { return training_; }
  const ClusterSpec& cluster() const { return cluster_; }
  KernelFlavor kernels() const { return kernels_; }

  // Model FLOPs per token, 6N + 12 L h s (PaLM, Chowdhery et al. 2022, appendix B; torchtitan's
  // MFU): N = matmul parameters (input embedding excluded), attention counted non-causal.
  double model_flops_per_token() const;

 private:
  struct TensorShard {
    int64_t local_rows, local_cols, count;
    bool per_layer;
  };
  struct TpShapes {
    bool ok = true;
    std::string why;                 // when !ok: which dim tp does not divide
    std::vector<TensorShard> tensors;
    double block_local_numel = 0;    // one transformer block (FSDP unit), after TP
    double root_local_numel = 0;     // embeddings + final norm + output head, after TP
  };
  const TpShapes& shapes(int64_t tp) const;
  struct GemmTimes {
    int64_t tp = 0, tokens = 0;
    int bytes_per_elt = 0;
    double block_fwd_s = 0, block_bwd_s = 0;  // all Linear layers of one block
    double head_fwd_s = 0, head_bwd_s = 0;    // output head
  };
  const GemmTimes& gemm_times(int64_t tp, int64_t tokens, int bytes_per_elt) const;
  Candidate evaluate_impl(const Plan& plan, std::vector<TraceEvent>* trace, bool explain) const;

  ModelSpec model_;
  TrainingSpec training_;
  ClusterSpec cluster_;
  std::vector<TpRule> tp_plan_;
  KernelFlavor kernels_;
  mutable std::vector<std::pair<int64_t, TpShapes>> shape_cache_;  // caches: not thread-safe
  mutable GemmTimes gemm_cache_;
};

}  // namespace planner
