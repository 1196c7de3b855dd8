// The models (seed FeedForward, Llama-style decoder) with tensor parallel applied from the TP
// plan (core/parallel_plan.h) and our FSDP (per-unit flat shards, all-gather before a unit's
// forward, free after, re-gather for backward, reduce-scatter of gradients).
//
// FSDP units: the feedforward model is one unit; for Llama every transformer block is one unit
// and the root unit (tok_embeddings + norm + output) is gathered once at the start of forward
// and kept until the end of backward. Prefetch: one unit ahead in forward and in backward.
// Every (TP-local) parameter is sharded FSDP2-style along dim 0 into dp chunks of
// ceil(rows / dp) rows (the last chunk zero-padded); a unit's shards are concatenated into one
// flat tensor per rank (its all-gather and reduce-scatter are one collective each).
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model_spec.h"
#include "core/parallel_plan.h"
#include "core/training_spec.h"
#include "executor/comm.h"

namespace planner::executor {

// One parameter tensor of a unit.
struct ParamInfo {
  std::string name;   // "layers.0.attention.wq"
  ModuleType type;
  TpStyle style;
  int64_t full_rows = 0, full_cols = 0;  // before TP
  LocalShape local;                      // after TP
  int tp_dim = -1;                       // dim sharded by TP (-1: replicated)
  int64_t shard_rows = 0;                // ceil(local.rows / dp)
  int64_t offset = 0;                    // in the unit's flat shard
  int64_t shard_numel() const { return shard_rows * local.cols; }
};

class CommHandle;
using BlockFn = std::function<at::Tensor(const at::Tensor&, const std::vector<at::Tensor>&)>;

struct Unit {
  std::string name;  // "root", "layers.3", "feed_forward"
  std::vector<ParamInfo> params;
  int64_t shard_numel = 0;
  at::Tensor shard;  // leaf, requires_grad; .grad is the sharded gradient
  // Unsharded (TP-local) parameters; their storage is freed when the unit is resharded.
  std::vector<at::Tensor> full;
  bool gathered = false;
  at::Tensor gather_buffer;
  std::unique_ptr<CommHandle> pending;  // prefetch in flight into gather_buffer
  bool landed = false;  // the prefetch completed into gather_buffer, not yet copied out
  std::vector<at::Tensor> accumulated_grads;  // grad_sync=last: unsharded grads between micro-batches
  // AdamW states on the shard.
  at::Tensor exp_avg, exp_avg_sq;
};

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
};

// One micro-batch: feedforward: x, target (B, S, dim); llama: tokens, targets (B, S) int64.
struct Batch {
  at::Tensor input;
  at::Tensor target;
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
  void set_last_micro_batch(bool last) { last_micro_batch_ = last; }

  std::vector<Unit>& units() { return units_; }
  const ModelSpec& model() const { return model_; }
  // Every parameter, unsharded (DP all-gather + TP all-gather), on every rank: for tests.
  std::map<std::string, at::Tensor> full_parameters();
  // Frees unsharded parameters (end of a step).
  void reshard_all();

  // Internal, used by the autograd functions.
  void gather(Unit& u);
  void prefetch(Unit& u);
  void free_unsharded(Unit& u);
  at::Tensor reduce_grads(Unit& u, const std::vector<at::Tensor>& grads);
  Comms* comms() { return comms_; }

 private:
  std::vector<at::Tensor> unit_params(int index);
  at::Tensor block_forward(const at::Tensor& x, const std::vector<at::Tensor>& p);
  at::Tensor ff_forward(const at::Tensor& x, const std::vector<at::Tensor>& p);
  // norm -> (SP: all-gather along the sequence) -> the column-parallel linears `ws`. Under
  // selective checkpointing the norm output (and its all-gather) is recomputed in backward.
  std::vector<at::Tensor> norm_linears(const at::Tensor& x, const at::Tensor& norm_w, const std::vector<at::Tensor>& ws);
  // silu(a) * b -> w2 (row-parallel, before its all-reduce / reduce-scatter); under selective
  // checkpointing the silu and the product are recomputed in backward.
  at::Tensor swiglu_w2(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2);
  // Row-parallel output: all-reduce over TP, or under SP a reduce-scatter along the sequence.
  at::Tensor tp_reduce_out(const at::Tensor& y);
  bool sp() const { return opts_.sequence_parallel && tp_ > 1; }
  // fp32 tensors on this rank's device.
  at::TensorOptions f32() const { return at::TensorOptions().dtype(at::kFloat).device(opts_.device); }

  ModelSpec model_;
  int64_t dp_, tp_;
  Mesh mesh_;
  Comms* comms_;
  ExecOptions opts_;
  std::vector<Unit> units_;  // llama: [root, layers.0, ...]; feedforward: [feed_forward]
  bool last_micro_batch_ = true;
  at::Tensor rope_cos_, rope_sin_;
  std::vector<std::unique_ptr<BlockFn>> keep_fns_;  // activation checkpointing: alive until backward
};

// Deterministic synthetic data: sequence g of optimizer step s is generated from
// (seed, s, g) alone, so every split sees the same global batch. DP rank d takes sequences
// [d * global/dp, (d+1) * global/dp) of each step, micro-batch m the m-th run of micro_batch of
// those; every rank of a TP group gets the identical batch.
Batch make_batch(const ModelSpec& model, int64_t seq_len, int64_t global_batch, int64_t dp, int dp_index,
                 int64_t micro_batch, int64_t micro_index, int64_t step, uint64_t seed);

// The FSDP units of a model at (dp, tp), parameters laid out in each unit's flat shard, no
// tensors allocated: llama: [root, layers.0, ...]; feedforward: [feed_forward]. ShardedModel
// builds its units with it, and a checkpoint written at another split is read through it.
std::vector<Unit> build_units(const ModelSpec& model, int64_t dp, int64_t tp);

// Copies what this rank keeps of a full (unsharded) parameter, its TP slice and then its FSDP
// rows, into `flat`, a unit's flat shard, at the parameter's offset. Used when the parameters are
// initialised and when a checkpoint of another split is read.
void copy_rank_slice(const at::Tensor& full, const ParamInfo& p, const Mesh& mesh, at::Tensor& flat);

// Checks that the plan can run with this model (tp divides heads, kv heads, dims, vocab).
void check_tp_divides(const ModelSpec& model, int64_t tp, const std::string& where);

}  // namespace planner::executor
