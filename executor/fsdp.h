// FSDP (docs/executor.md, "FSDP"): per-unit flat shards, all-gather before a unit's forward and
// free after, gather again for its backward, reduce-scatter of its gradients; prefetch one unit
// ahead in forward and in backward.
//
// Units: the feedforward model is one unit; for Llama every transformer block is one unit and
// the root unit (tok_embeddings + norm + output) is gathered once at the start of forward and
// kept until the end of backward. Every (TP-local) parameter is sharded FSDP2-style along dim 0
// into dp chunks of ceil(rows / dp) rows (the last chunk zero-padded); a unit's shards are
// concatenated into one flat tensor per rank, so its all-gather and its reduce-scatter are one
// collective each.
//
// Mixed precision (FSDP2's MixedPrecisionPolicy, docs/executor.md "Precision"): the flat shard
// and the AdamW states are in the master dtype, the shard is cast to the param dtype before its
// all-gather, so the unsharded parameters (and the compute) are in the param dtype, and their
// gradients are cast to the reduce dtype for the reduce-scatter, whose output is cast to the
// master dtype for the shard's gradient.
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <functional>
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
  std::string name;          // "layers.0.attention.wq", as parameter_tensors() names it with the layer
  std::string name_in_unit;  // "attention.wq": as core/block_ops.h names it ("tok_embeddings" in the root)
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

struct Unit {
  std::string name;  // "root", "layers.3", "feed_forward"
  std::vector<ParamInfo> params;
  int64_t shard_numel = 0;
  at::Tensor shard;  // leaf, requires_grad, master dtype; .grad is the sharded gradient
  // Unsharded (TP-local) parameters; their storage is freed when the unit is resharded.
  std::vector<at::Tensor> full;
  bool gathered = false;
  at::Tensor gather_buffer;
  std::unique_ptr<CommHandle> pending;  // prefetch in flight into gather_buffer
  bool landed = false;  // the prefetch completed into gather_buffer, not yet copied out
  std::vector<at::Tensor> accumulated_grads;  // grad_sync=last: unsharded grads (reduce dtype) between micro-batches
  // AdamW states on the shard (master dtype).
  at::Tensor exp_avg, exp_avg_sq;
  // The parameters' names inside the unit, in the unit's order (to bind them by name).
  std::vector<std::string> names_in_unit() const;
};

// The FSDP units of a model at (dp, tp), parameters laid out in each unit's flat shard, no
// tensors allocated: llama: [root, layers.0, ...]; feedforward: [feed_forward]. Fsdp is built on
// them, and a checkpoint written at another split is read through them.
std::vector<Unit> build_units(const ModelSpec& model, int64_t dp, int64_t tp);

// Copies what this rank keeps of a full (unsharded) parameter, its TP slice and then its FSDP
// rows, into `flat`, a unit's flat shard, at the parameter's offset. Used when the parameters are
// initialised and when a checkpoint of another split is read.
void copy_rank_slice(const at::Tensor& full, const ParamInfo& p, const Mesh& mesh, at::Tensor& flat);

struct FsdpOptions {
  bool reshard_after_forward = true;
  GradSync grad_sync = GradSync::every_micro_batch;
  bool prefetch = true;
  at::Device device = at::kCPU;  // where the shards and the unsharded parameters live
  // FSDP2's MixedPrecisionPolicy: the shard and AdamW states (master), the unsharded parameters
  // and the compute (param), the gradients' reduce-scatter (reduce). All fp32 by default.
  at::ScalarType master_dtype = at::kFloat;
  at::ScalarType param_dtype = at::kFloat;
  at::ScalarType reduce_dtype = at::kFloat;
};

// The dtypes of a precision policy (core/training_spec.h): fp32: all fp32; bf16-mixed: fp32
// master, bf16 param, fp32 reduce; bf16: all bf16. `reduce` other than automatic overrides the
// reduce dtype. Sets the three dtype fields of `o`.
void set_precision(Precision precision, ReduceDtype reduce, FsdpOptions* o);

// The units of one rank and their data-parallel traffic.
class Fsdp {
 public:
  // units: build_units(model, dp, tp); dp_comm: this rank's data_parallel group (dp ranks).
  Fsdp(std::vector<Unit> units, int64_t dp, Comm* dp_comm, const FsdpOptions& opts);
  Fsdp(const Fsdp&) = delete;  // the autograd functions hold its address
  Fsdp& operator=(const Fsdp&) = delete;

  // Fills every unit's shard, unit by unit: full(p) is parameter p's full value, of which this
  // rank keeps its TP slice's FSDP rows (copy_rank_slice); at dp > 1 the unit's unsharded
  // parameters are then allocated and freed at once (gather() refills their storage).
  void init_shards(const Mesh& mesh, const std::function<at::Tensor(const ParamInfo&)>& full);

  // Unit `unit`'s unsharded parameters for its forward, in the unit's order: all-gathered at
  // dp > 1 (autograd then hands their gradients to reduce_grads and frees them), views of the
  // flat shard at dp = 1.
  std::vector<at::Tensor> params(int unit);
  // Starts unit `unit`'s all-gather asynchronously (nothing at dp = 1, without prefetch, or when
  // it is gathered or in flight already).
  void prefetch(int unit) { prefetch(units_[static_cast<size_t>(unit)]); }
  // After unit `unit`'s forward, whose output is `out`: frees its unsharded parameters
  // (reshard_after_forward), and has its backward gather it again first and prefetch unit
  // `prefetch_in_backward` (-1: none).
  void after_forward(int unit, const at::Tensor& out, int prefetch_in_backward);
  // grad_sync=last: set before each micro-batch's backward.
  void set_last_micro_batch(bool last) { last_micro_batch_ = last; }
  // Frees unsharded parameters and finishes prefetches in flight (end of a step).
  void reshard_all();

  std::vector<Unit>& units() { return units_; }
  int64_t dp() const { return dp_; }
  const FsdpOptions& options() const { return opts_; }

  // Internal, used by the autograd functions.
  void gather(Unit& u);
  void prefetch(Unit& u);
  void free_unsharded(Unit& u);
  at::Tensor reduce_grads(Unit& u, const std::vector<at::Tensor>& grads);

 private:
  // What unit u's all-gather sends: its shard, cast to the param dtype when that differs.
  at::Tensor gather_input(const Unit& u) const;
  // Tensors of `dtype` on this rank's device.
  at::TensorOptions on_device(at::ScalarType dtype) const { return at::TensorOptions().dtype(dtype).device(opts_.device); }

  std::vector<Unit> units_;
  int64_t dp_;
  Comm* dp_comm_;
  FsdpOptions opts_;
  bool last_micro_batch_ = true;
};

}  // namespace planner::executor
