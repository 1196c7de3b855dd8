// Synthetic training data, keyed on (seed, step, sequence) so that every split sees the same
// global batch (docs/executor.md, "Mesh, data").
#pragma once
#include <ATen/ATen.h>
#include <cstdint>

#include "core/model_spec.h"

namespace planner::executor {

// One micro-batch: feedforward: x, target (B, S, dim); llama: tokens, targets (B, S) int64.
struct Batch {
  at::Tensor input;
  at::Tensor target;
};

// Sequence g of optimizer step s is generated from (seed, s, g) alone. DP rank d takes sequences
// [d * global/dp, (d+1) * global/dp) of each step, micro-batch m the m-th run of micro_batch of
// those; the TP rank is not an argument, so every rank of a TP group gets the identical batch.
// Feedforward: x, target ~ N(0, 1); llama: seq_len + 1 tokens uniform in [0, vocab), the target
// being the input shifted by one.
Batch make_batch(const ModelSpec& model, int64_t seq_len, int64_t global_batch, int64_t dp, int dp_index,
                 int64_t micro_batch, int64_t micro_index, int64_t step, uint64_t seed);

}  // namespace planner::executor
