// What each FSDP unit costs for one micro-batch on one rank (docs/cost-model.md, "Compute",
// "Collectives"): the math of its forward, backward and recompute, its tensor-parallel
// collectives (which run on the compute stream), the FSDP all-gather and reduce-scatter of its
// parameters, and the optimizer step. Nothing here orders them in time: simulator/timeline.h does.
#pragma once
#include <cstdint>

#include "core/block_ops.h"
#include "core/cluster_spec.h"
#include "core/model_spec.h"
#include "core/parallel_plan.h"
#include "core/training_spec.h"
#include "simulator/plan_shape.h"
#include "simulator/runtime.h"

namespace planner {

// The GEMMs of one unit (block_ops().linears) and the output head, forward and backward. They
// depend only on (tp, tokens per micro-batch, element size): the simulator caches the last one.
struct GemmTimes {
  int64_t tp = 0, tokens = 0;
  int bytes_per_elt = 0;
  double block_fwd_s = 0, block_bwd_s = 0;  // all Linear layers of one block
  double head_fwd_s = 0, head_bwd_s = 0;    // output head (llama)
  // Forward of the block's second, fourth and sixth matmul (wk, wo, w3): what torchtitan's
  // op-level selective AC recomputes besides the elementwise ops.
  double every_second_mm_fwd_s = 0;
};
GemmTimes gemm_times(const ClusterSpec& c, const ModelSpec& m, const BlockOps& ops, const std::vector<TpRule>& tp_plan,
                     int64_t tp, int64_t tokens, int bytes_per_elt);

// One unit, one micro-batch, one rank.
struct UnitTimes {
  double fwd_s = 0, bwd_s = 0, recompute_s = 0;           // compute math (TP comm excluded)
  double fwd_tp_s = 0, bwd_tp_s = 0, recompute_tp_s = 0;  // TP collectives on the compute stream
};

struct UnitCosts {
  UnitTimes block;  // one transformer block (or the whole FeedForward)
  UnitTimes pre;    // root unit before the blocks: the embedding
  UnitTimes post;   // root unit after the blocks: final norm, output head, loss
  // FSDP collectives over the DP group, per unit and micro-batch.
  double ag_block_s = 0, rs_block_s = 0, ag_root_s = 0, rs_root_s = 0;
  // The executor on a CPU host: copies out of a gathered flat buffer (0 elsewhere).
  double ag_block_pack_s = 0, ag_root_pack_s = 0;
  // AdamW on the shard (memory bound), its eager op overhead, and the grad-norm all-reduces.
  double optimizer_s = 0;
};

UnitCosts unit_costs(const ModelSpec& m, const TrainingSpec& t, const ClusterSpec& c, const Runtime& r, const Plan& p,
                     const PlanShape& s, const GemmTimes& g);

}  // namespace planner
