// The quantities of one plan that the memory, unit-cost and timeline models share: each
// parameter's shape after tensor parallel, the FSDP shard and unit sizes, and the per-rank
// dimensions of the activations after TP and sequence parallel. Pure arithmetic on the model and
// the plan; nothing here prices anything.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_spec.h"
#include "core/parallel_plan.h"
#include "core/training_spec.h"

namespace planner {

// Every parameter tensor after tensor parallel, at one tp.
struct TensorShard {
  int64_t local_rows, local_cols, count;
  bool per_layer;
};
struct TpShapes {
  bool ok = true;
  std::string why;                  // when !ok: which dim tp does not divide
  std::vector<TensorShard> tensors;  // parameter_tensors() order
  double block_local_numel = 0;     // one transformer block (FSDP unit), after TP
  double root_local_numel = 0;      // embeddings + final norm + output head, after TP
  double embedding_local_numel = 0;  // the input embedding alone, after TP
};
TpShapes tp_shapes(const ModelSpec& m, const std::vector<TpRule>& tp_plan, int64_t tp);

// FSDP2 shards (dim 0 of every TP-local tensor padded to a multiple of dp), in elements.
struct FsdpShards {
  double shard_numel = 0;        // everything this rank keeps
  double block_shard_numel = 0;  // one block's shard
  double root_shard_numel = 0;   // the root unit's shard (embedding, final norm, head)
  double block_unit_numel = 0;   // one block gathered (padded): block_shard_numel * dp
  double root_unit_numel = 0;    // the root gathered (padded)
  bool has_root = false;         // the model has a root unit (Llama; not the FeedForward)
  double embedding_numel = 0;    // the input embedding's TP-local elements (in the root unit)
};
FsdpShards fsdp_shards(const TpShapes& s, int64_t dp);

// Per-rank widths of one token's activations, in elements (bytes for c).
struct LocalDims {
  double c = 0;      // bytes per element of compute (activations, gathered params)
  double h = 0;      // hidden size (full: the input of colwise layers)
  double q = 0, kv = 0, f = 0, heads = 0;  // after TP
  double hs = 0;     // residual-stream width on this rank: h / tp under SP, else h
  double s = 0;      // sequence length
  bool sp = false;   // sequence parallel in effect (tp > 1)
};

// One plan at one training set-up.
struct PlanShape {
  bool llama = false;
  int64_t n_layers = 0;
  int64_t tokens = 0;          // per micro-batch on this rank: micro_batch * seq_len
  double tokens_d = 0;
  int64_t grad_accum = 1;
  bool sp = false;
  PrecisionBytes bytes{};      // per element, per tensor class
  LocalDims d;
  FsdpShards shards;
};
PlanShape plan_shape(const ModelSpec& m, const TrainingSpec& t, const Plan& p, const TpShapes& s);

}  // namespace planner
