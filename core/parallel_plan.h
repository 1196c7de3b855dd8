// The tensor-parallel plan, kept apart from the model (torchtitan's parallelize_*, Lightning's
// configure_model): a list of rules keyed on module names. Both the simulator (memory and
// collectives) and the executor (real sharding) read the same plan.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_spec.h"

namespace planner {

enum class TpStyle {
  replicate,  // full copy on every TP rank (norm weights; SequenceParallel shards activations only)
  colwise,    // Linear: weight dim 0 (out_features) sharded; output sharded on the last dim
  rowwise,    // Linear: weight dim 1 (in_features) sharded, output partial-sum -> all-reduce (or
              // reduce-scatter under sequence parallel); Embedding: dim 0 (vocab) sharded
};

struct TpRule {
  std::string module;  // exact module name, "*" standing for the layer index
  TpStyle style;
};

// How the vocabulary-sized ends of a decoder are split over TP. torchtitan shards both (the
// defaults); Lightning's ModelParallelStrategy example gathers the logits
// (ColwiseParallel(output_layouts=Replicate())), KempnerForge also keeps the embedding whole.
struct TpPlanOptions {
  bool shard_embedding = true;  // tok_embeddings RowwiseParallel (vocab-sharded); false: replicated
  bool loss_parallel = true;    // logits stay vocab-sharded and the loss is vocab-parallel; false:
                                // the logits are all-gathered to the full vocabulary on every TP rank
  // How a sub-layer's colwise Linears get their replicated input. false (torchtitan, Lightning's
  // example, the executor): one PrepareModuleInput on the attention / feed-forward module gathers
  // it once (one all-gather under SP; one backward all-reduce without SP) and wq/wk/wv (w1/w3)
  // share it. true (KempnerForge): each ColwiseParallel(input_layouts=Shard(1)) redistributes its
  // own input, so each colwise Linear pays its own all-gather forward and reduce-scatter (or
  // all-reduce without SP) backward, and saves its own gathered copy.
  bool gather_per_linear = false;
};

// {w1: colwise, w2: rowwise, w3: colwise} for the FeedForward; for the Llama decoder q/k/v
// colwise, o rowwise, the MLP as above, tok_embeddings rowwise (vocab; replicated when
// !shard_embedding), output colwise (vocab), norms replicated.
std::vector<TpRule> default_tp_plan(ModelKind kind, const TpPlanOptions& options = {});
TpStyle tp_style_for(const std::vector<TpRule>& plan, const std::string& module);

// Which tensor dim a style shards for a module type (-1: none).
int tp_shard_dim(TpStyle style, ModuleType type);

// Per-rank shape of a tensor after TP sharding. Returns false (and a reason) if tp does not
// divide the sharded dim.
struct LocalShape {
  int64_t rows = 0;
  int64_t cols = 0;
};
bool tp_local_shape(const TensorSpec& t, TpStyle style, int64_t tp, LocalShape* out, std::string* why);

// FSDP2 shards every (TP-local) parameter along dim 0 into dp chunks, padding dim 0 up to a
// multiple of dp: per-rank elements = ceil(rows / dp) * cols.
int64_t fsdp_shard_numel(const LocalShape& s, int64_t dp);

std::string to_string(TpStyle s);

}  // namespace planner
