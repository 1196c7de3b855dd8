// Megatron-style tensor- and sequence-parallel operators, as autograd functions over the
// tensor_parallel group's Comm (docs/executor.md, "Tensor parallel" and "Sequence parallel").
// They take a Comm, never a rank: which of them runs where is the plan's choice
// (executor/parallelize.cc), and the model (executor/model.h) calls neither directly.
#pragma once
#include <ATen/ATen.h>
#include <cstdint>

#include "executor/comm.h"

namespace planner::executor {

// f: identity forward, all-reduce (sum) of the input gradient over the TP group in backward.
// Before a column-parallel Linear, whose input gradient is partial on each TP rank. x itself
// when the group has one rank.
at::Tensor copy_to_tp(const at::Tensor& x, Comm* tp);
// g: all-reduce (sum) forward, identity backward. After a row-parallel Linear, whose output is a
// partial sum on each TP rank. x itself when the group has one rank.
at::Tensor reduce_from_tp(const at::Tensor& x, Comm* tp);

// Sequence parallel. Tensors are (B, S, ...); the sequence (dim 1) is split into tp equal chunks,
// TP rank r holding chunk r. The collectives run on flat (S, B, ...) buffers so that each rank's
// chunk is contiguous.
// All-gather along the sequence forward; reduce-scatter (sum) of the gradient backward.
at::Tensor gather_seq(const at::Tensor& x, Comm* tp);
// Reduce-scatter (sum) along the sequence forward; all-gather of the gradient backward.
at::Tensor scatter_seq(const at::Tensor& x, Comm* tp);
// gather_seq's forward alone (no autograd): for selective checkpointing, whose own backward
// re-gathers (executor/activation_checkpointing.cc).
at::Tensor seq_all_gather_raw(const at::Tensor& x, Comm* tp);

// Cross-entropy over vocab-sharded logits (loss parallel): logits (N, V/tp) hold this rank's
// vocab range [vocab_start, vocab_start + V/tp), targets (N,) are global token ids. The max,
// sum-exp and target logit are all-reduced over the TP group (the max with one all-reduce of N
// floats, [sum-exp, target logit] with one of 2N); full logits are never gathered. Mean over the
// N rows, the same on every TP rank.
at::Tensor vocab_parallel_cross_entropy(const at::Tensor& logits, const at::Tensor& targets, Comm* tp,
                                        int64_t vocab_start);

}  // namespace planner::executor
