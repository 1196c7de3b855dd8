// The ops of one repeated FSDP unit of a model (a Llama transformer block, or the whole seed
// FeedForward), in forward order: the one description that the simulator prices (GEMM shapes,
// norms, attention) and that the executor builds its forward from (weights looked up by name).
// Shapes are full (before tensor parallel); how they are sharded is the TP plan's business
// (core/parallel_plan.h), so nothing here mentions ranks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_spec.h"

namespace planner {

// One Linear, y = x W^T, with W of shape (out_features, in_features) as in torch.nn.Linear.
struct LinearOp {
  std::string module;        // the parameter's module name as in parameter_tensors(): "layers.*.attention.wq", "w1"
  std::string name;          // the same inside its unit: "attention.wq", "feed_forward.w1", "w1"
  int64_t out_features = 0;
  int64_t in_features = 0;
  bool input_needs_grad = true;  // false where x is the data (the FeedForward's input): no dgrad GEMM
};

// What one unit computes, in forward order:
//   llama:       h = x + wo(attention(rope(wq(n1)), rope(wk(n1)), wv(n1))),  n1 = attention_norm(x)
//                y = h + w2(silu(w1(n2)) * w3(n2)),                          n2 = ffn_norm(h)
//   feedforward: y = w2(silu(w1(x)) * w3(x))
struct BlockOps {
  std::vector<LinearOp> linears;    // forward order: wq wk wv wo w1 w3 w2 (llama), w1 w3 w2 (feedforward)
  std::vector<std::string> norms;   // RMSNorm weights in forward order (names inside the unit)
  bool attention = false;           // rotary causal (grouped-query) attention between wq/wk/wv and wo
  bool residual = false;            // two residual adds (llama); the FeedForward has none

  // The Linear whose weight is `name` (inside the unit); InternalError if there is none.
  const LinearOp& linear(const std::string& name) const;
};

BlockOps block_ops(const ModelSpec& m);

// The module name of a unit's parameter, as the TP plan and parameter_tensors() key it:
// llama "attention.wq" -> "layers.*.attention.wq"; the FeedForward's names are unchanged.
std::string block_module(const ModelSpec& m, const std::string& name);

}  // namespace planner
