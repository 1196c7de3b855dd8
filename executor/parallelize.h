// A model with its parallel plan applied (torchtitan's parallelize_*): the TP plan's operators
// (core/parallel_plan.h, executor/tp_ops.h) and sequence parallel at the model's PlanHooks
// points, activation checkpointing (executor/activation_checkpointing.h) and FSDP units around
// the blocks (executor/fsdp.h). ShardedModel is what the trainer trains; the model's own math
// (executor/model.h) never sees a rank.
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model_spec.h"
#include "core/parallel_plan.h"
#include "core/training_spec.h"
#include "executor/activation_checkpointing.h"
#include "executor/comm.h"
#include "executor/data.h"
#include "executor/fsdp.h"
#include "executor/model.h"

namespace planner::executor {

struct ExecOptions {
  bool reshard_after_forward = true;
  ActivationCheckpointing ac = ActivationCheckpointing::none;
  GradSync grad_sync = GradSync::every_micro_batch;
  bool prefetch = true;
  // Megatron-style sequence parallel (tp > 1): residual stream and norms on seq_len/tp tokens.
  bool sequence_parallel = false;
  // Where parameters, activations and collectives live: CPU (Gloo) or the rank's GPU (NCCL).
  // Parameters are initialised on the CPU (the same values on every device) and copied there.
  at::Device device = at::kCPU;
  // FSDP2's MixedPrecisionPolicy (docs/executor.md, "Precision"): bf16-mixed computes in bf16 on
  // fp32 master shards and AdamW states and reduces gradients in fp32 (or reduce_dtype).
  Precision precision = Precision::fp32;
  ReduceDtype reduce_dtype = ReduceDtype::automatic;
};

class ShardedModel {
 public:
  // Builds the units and initialises parameters deterministically from `seed` (the same values
  // for every (dp, tp): each full tensor is generated, then TP- and FSDP-sliced).
  ShardedModel(const ModelSpec& model, int64_t dp, int64_t tp, const Mesh& mesh, Comms* comms,
               const ExecOptions& opts, uint64_t seed);
  ~ShardedModel();

  // Forward + loss of one micro-batch (mean over its elements, replicated on every TP rank).
  at::Tensor forward_loss(const Batch& batch);
  // grad_sync=last: set before each micro-batch's backward.
  void set_last_micro_batch(bool last) { fsdp_.set_last_micro_batch(last); }

  std::vector<Unit>& units() { return fsdp_.units(); }
  const ModelSpec& model() const { return model_; }
  // Every parameter, unsharded (DP all-gather + TP all-gather), as fp32 on the CPU, on every rank: for tests.
  std::map<std::string, at::Tensor> full_parameters();
  // Frees unsharded parameters (end of a step).
  void reshard_all() { fsdp_.reshard_all(); }

 private:
  bool sp() const { return opts_.sequence_parallel && tp_ > 1; }
  // Tensors of the compute (param) dtype on this rank's device.
  at::TensorOptions compute() const {
    return at::TensorOptions().dtype(fsdp_.options().param_dtype).device(opts_.device);
  }

  ModelSpec model_;
  int64_t dp_, tp_;
  Mesh mesh_;
  Comms* comms_;
  ExecOptions opts_;
  Fsdp fsdp_;  // llama: [root, layers.0, ...]; feedforward: [feed_forward]
  std::unique_ptr<PlanHooks> hooks_;
  BlockWeightIndex block_weights_;  // the same in every block unit
  RopeTables rope_;
  FullCheckpointing full_ac_;
};

// Checks that the plan can run with this model (tp divides heads, kv heads, dims, vocab).
void check_tp_divides(const ModelSpec& model, int64_t tp, const std::string& where);

}  // namespace planner::executor
