// Per-GPU memory of one plan, one line per tensor class (docs/cost-model.md, "Memory"): the FSDP
// shards of params, grads and AdamW states, the gathered units, unsharded grads, the saved
// activations (one line per saved tensor of a block), the logits/loss tensors and comm buffers.
// Under FSDP2 the peak is the sum of every line's maximum (the start of backward); under the
// executor it is the largest of its allocation instants (docs/cost-model.md, "Memory of the
// executor").
#pragma once
#include <array>
#include <string>
#include <vector>

#include "core/cluster_spec.h"
#include "core/model_spec.h"
#include "core/training_spec.h"
#include "simulator/plan_shape.h"
#include "simulator/prediction.h"
#include "simulator/runtime.h"

namespace planner {

// Saved-for-backward tensors of one block, bytes per token of the micro-batch (docs/cost-model.md,
// "Activations"). `selective_keep`: kept under selective checkpointing (matmul and attention
// outputs, and the residual stream needed to recompute the norms). Fixed storage: the search's
// hot path must not allocate.
struct ActItem {
  const char* name;
  double bytes_per_token;
  bool selective_keep;
};
struct ActTable {
  static constexpr int kMaxItems = 20;
  std::array<ActItem, kMaxItems> items;
  int n = 0;
  void add(const char* name, double b, bool sel) { items[n++] = {name, b, sel}; }
};
// gather_per_linear (TpPlanOptions): under SP each colwise Linear saves its own all-gathered input.
// ac, selective: under selective AC with torchtitan's op-level policy the table is that policy's
// own (its lines and `selective_keep` flags); otherwise the lines of one block.
ActTable block_activations(const ModelSpec& m, const LocalDims& d, KernelFlavor k, bool fused_norms,
                           bool gather_per_linear, ActivationCheckpointing ac, SelectiveAc selective);

// One tensor saved for backward, per layer, at this plan (for reports).
struct ActivationLine {
  std::string name;
  double bytes_per_token = 0;  // after TP/SP sharding
  bool kept = true;            // false: recomputed in backward (activation checkpointing)
};
// The table of one block at this plan, with the full-checkpointing input line first when it
// applies; *kept_bytes_per_layer: the kept lines times the micro-batch's tokens.
std::vector<ActivationLine> activation_lines(const ModelSpec& m, const Plan& p, const PlanShape& s, KernelFlavor k,
                                             bool fused_norms, bool gather_per_linear, SelectiveAc selective,
                                             double* kept_bytes_per_layer);

// The memory lines of one plan and its peak (MemoryBreakdown::peak_allocated_bytes), plus the
// allocator's reserve, the runtime's own reserve and the capacity.
MemoryBreakdown predict_memory(const ModelSpec& m, const TrainingSpec& t, const ClusterSpec& c, const Runtime& r,
                               const Plan& p, const PlanShape& s);

}  // namespace planner
