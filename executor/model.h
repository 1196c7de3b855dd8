// The models' math on local tensors: the Llama transformer block, the seed FeedForward
// (SwiGLU), RMSNorm, rotary embedding, attention, and the parameters' initial values. Nothing
// here knows a rank, a Comm or a mesh (torchtitan keeps its model apart from parallelize_* the
// same way): the tensors are whatever this rank holds, and where a parallel plan may need a
// collective or a recomputation the forward calls a PlanHooks method, which
// executor/parallelize.cc implements for the TP plan, sequence parallel and selective
// checkpointing.
//
// Weights are bound by name from core/block_ops.h, the table the simulator prices: a unit's
// parameters arrive in the unit's order, and BlockWeightIndex finds each Linear and norm of
// block_ops() among them once.
#pragma once
#include <ATen/ATen.h>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/block_ops.h"
#include "core/model_spec.h"

namespace planner::executor {

// One FSDP unit's weights by name (this rank's tensors). A field is named as the last part of its
// name in block_ops() ("attention.wq" -> wq, "feed_forward.w1" and the FeedForward's "w1" -> w1);
// the FeedForward leaves the attention and norm fields undefined.
struct BlockWeights {
  at::Tensor attention_norm, wq, wk, wv, wo;
  at::Tensor ffn_norm, w1, w2, w3;
};

// Where each BlockWeights field sits in a unit's parameter list, found once by name.
class BlockWeightIndex {
 public:
  BlockWeightIndex() = default;
  // names: the unit's parameters as block_ops() names them inside a unit ("attention.wq",
  // "ffn_norm", "w1"), in the unit's order. Every Linear and norm of `ops` must be among them
  // and every name must be one of them (InternalError otherwise), so the table, the unit and the
  // forward cannot drift apart silently.
  BlockWeightIndex(const BlockOps& ops, const std::vector<std::string>& names);
  // params: the unit's tensors in the same order as `names`.
  BlockWeights bind(const std::vector<at::Tensor>& params) const;

 private:
  std::vector<std::pair<at::Tensor BlockWeights::*, size_t>> fields_;
};

// A Llama's root unit, by parameter_tensors() name: tok_embeddings, the final norm, the output
// head (tok_embeddings itself when the embeddings are tied).
struct RootWeights {
  at::Tensor tok_embeddings, norm, output;
};
RootWeights bind_root_weights(const ModelSpec& m, const std::vector<std::string>& names,
                              const std::vector<at::Tensor>& params);

// The points of the forward where a parallel plan acts. Each method computes the model's math;
// an implementation adds what its plan needs around it (an all-reduce, an all-gather along the
// sequence, a recomputation in backward) without changing the result.
class PlanHooks {
 public:
  virtual ~PlanHooks() = default;
  // y_i = rms_norm(x, norm_w) W_i^T for the Linears `ws` that read the norm's output (wq wk wv;
  // w1 w3; the output head): the column-parallel region's entry.
  virtual std::vector<at::Tensor> norm_linears(const at::Tensor& x, const at::Tensor& norm_w,
                                               const std::vector<at::Tensor>& ws, double eps) const = 0;
  // The input of Linears that read x itself rather than a norm of it (the FeedForward's data).
  virtual at::Tensor column_input(const at::Tensor& x) const = 0;
  // (silu(a) * b) W2^T: the SwiGLU product into w2.
  virtual at::Tensor swiglu_w2(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2) const = 0;
  // The output of a row-parallel Linear (wo, w2) or of the vocab-sharded embedding lookup: a
  // partial sum on each TP rank.
  virtual at::Tensor row_output(const at::Tensor& y) const = 0;
};

// x * rsqrt(mean(x^2) + eps) * w over the last dim, the statistics in fp32 (x.float()), the
// normalized x cast back to x's dtype before the weight.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps);
// y = x W^T (torch.nn.Linear without bias).
at::Tensor mm_t(const at::Tensor& x, const at::Tensor& w);
// (silu(a) * b) W2^T.
at::Tensor swiglu_w2(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2);

// Rotary tables, (S, head_dim / 2) each.
struct RopeTables {
  at::Tensor cos, sin;
  // Makes the tables cover seq_len positions (recomputed only when they are shorter), in the
  // compute dtype (computed in fp64, rounded once).
  void ensure(const ModelSpec& m, int64_t seq_len, const at::TensorOptions& compute);
};
// x: (B, S, H, head_dim); adjacent pairs (2i, 2i+1) rotate together (torchtitan's complex view).
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// One Llama transformer block (block_ops(): wq wk wv, rotary causal grouped-query attention, wo,
// residual; ffn_norm, w1 w3, SwiGLU, w2, residual). x: (B, S_x, dim), where S_x is seq_len, or
// seq_len / tp under sequence parallel: S is read from the Linears' outputs, this rank's heads
// from its wq and wk slices.
at::Tensor llama_block(const ModelSpec& m, const at::Tensor& x, const BlockWeights& w, const RopeTables& rope,
                       const PlanHooks& plan);
// The seed FeedForward: w2(silu(w1(x)) * w3(x)).
at::Tensor feed_forward(const at::Tensor& x, const BlockWeights& w, const PlanHooks& plan);

// The initial value of a full (unsharded) parameter, from (seed, name) alone: ones for norms,
// N(0, 0.02) for Linears and embeddings. Every rank draws the whole tensor and keeps its slices,
// so every split starts from the same model.
at::Tensor initial_parameter(const std::string& name, ModuleType type, int64_t rows, int64_t cols, uint64_t seed);

}  // namespace planner::executor
