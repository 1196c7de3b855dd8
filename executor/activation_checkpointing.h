// Activation checkpointing (docs/executor.md, "FSDP"): full (only each unit's input is kept and
// the unit, with its TP collectives, runs again in backward) and selective (the norm outputs and
// the SwiGLU product are recomputed in backward; no matmul is).
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "executor/comm.h"

namespace planner::executor {

// A unit's forward: (input, the unit's parameters in the unit's order) -> output.
using BlockFn = std::function<at::Tensor(const at::Tensor&, const std::vector<at::Tensor>&)>;

// Full checkpointing of the units of one forward.
class FullCheckpointing {
 public:
  // Forgets the previous forward's unit functions; call at the start of a forward (its backward
  // has run by then).
  void clear() { fns_.clear(); }
  // fn(x, params) without autograd, saving only x and params; backward runs fn again with
  // autograd and differentiates it. fn is kept until the next clear().
  at::Tensor run(BlockFn fn, const at::Tensor& x, const std::vector<at::Tensor>& params);

 private:
  std::vector<std::unique_ptr<BlockFn>> fns_;  // alive until backward
};

// Selective checkpointing.
// rms_norm(x, w) -> [tp_comm of more than one rank: Megatron's f; under sp an all-gather along
// the sequence] -> y_i = xn W_i^T. Saves the norm input x, the norm weight and the W_i, not the
// norm output: backward recomputes the norm (and under sp its all-gather, whose backward is the
// reduce-scatter), then forms the Linears' gradients from the recomputed output.
std::vector<at::Tensor> norm_linears_recomputed(const at::Tensor& x, const at::Tensor& w,
                                                const std::vector<at::Tensor>& ws, double eps, Comm* tp_comm,
                                                bool sp);
// y = (silu(a) * b) W2^T, saving a, b (the w1 and w3 outputs) and W2: the silu and the product
// (w2's input) are recomputed in backward.
at::Tensor swiglu_w2_recomputed(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2);

}  // namespace planner::executor
