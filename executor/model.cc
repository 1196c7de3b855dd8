#include "executor/model.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "executor/seed.h"

namespace planner::executor {

namespace {

// The BlockWeights field of a block_ops() name: its last part ("feed_forward.w1" -> w1).
at::Tensor BlockWeights::*block_field(const std::string& name) {
  const size_t dot = name.rfind('.');
  const std::string last = dot == std::string::npos ? name : name.substr(dot + 1);
  static const std::pair<const char*, at::Tensor BlockWeights::*> fields[] = {
      {"attention_norm", &BlockWeights::attention_norm},
      {"wq", &BlockWeights::wq},
      {"wk", &BlockWeights::wk},
      {"wv", &BlockWeights::wv},
      {"wo", &BlockWeights::wo},
      {"ffn_norm", &BlockWeights::ffn_norm},
      {"w1", &BlockWeights::w1},
      {"w2", &BlockWeights::w2},
      {"w3", &BlockWeights::w3},
  };
  for (const auto& [field_name, field] : fields)
    if (last == field_name) return field;
  PLANNER_CHECK(false, "block_ops() names '" << name << "', which no BlockWeights field holds");
  return nullptr;  // unreachable
}

size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return i;
  PLANNER_CHECK(false, "the unit has no parameter '" << name << "'");
  return 0;  // unreachable
}

}  // namespace

BlockWeightIndex::BlockWeightIndex(const BlockOps& ops, const std::vector<std::string>& names) {
  for (const auto& l : ops.linears) fields_.emplace_back(block_field(l.name), index_of(names, l.name));
  for (const auto& n : ops.norms) fields_.emplace_back(block_field(n), index_of(names, n));
  PLANNER_CHECK(fields_.size() == names.size(),
                "the unit has " << names.size() << " parameters, block_ops() names " << fields_.size());
}

BlockWeights BlockWeightIndex::bind(const std::vector<at::Tensor>& params) const {
  PLANNER_CHECK(params.size() == fields_.size(), "binding " << params.size() << " tensors to " << fields_.size() << " weights");
  BlockWeights w;
  for (const auto& [field, i] : fields_) w.*field = params[i];
  return w;
}

RootWeights bind_root_weights(const ModelSpec& m, const std::vector<std::string>& names,
                              const std::vector<at::Tensor>& params) {
  PLANNER_CHECK(params.size() == names.size(), "binding " << params.size() << " tensors to " << names.size() << " names");
  RootWeights w;
  w.tok_embeddings = params[index_of(names, "tok_embeddings")];
  w.norm = params[index_of(names, "norm")];
  w.output = m.tie_word_embeddings ? w.tok_embeddings : params[index_of(names, "output")];
  PLANNER_CHECK(names.size() == (m.tie_word_embeddings ? 2u : 3u), "root unit of " << names.size() << " parameters");
  return w;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  // torchtitan's RMSNorm: the statistics in fp32 (x.float()), the result cast back to x's dtype,
  // then scaled by the weight. Both casts are no-ops on fp32 tensors.
  const at::Tensor xf = x.to(at::kFloat);
  return (xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps)).to(x.scalar_type()) * w.view({-1});
}

at::Tensor mm_t(const at::Tensor& x, const at::Tensor& w) { return at::matmul(x, w.t()); }

at::Tensor swiglu_w2(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2) {
  return mm_t(at::silu(a) * b, w2);
}

void RopeTables::ensure(const ModelSpec& m, int64_t seq_len, const at::TensorOptions& compute) {
  if (cos.defined() && cos.size(0) >= seq_len) return;
  const int64_t half = m.head_dim / 2;
  at::Tensor inv = at::pow(m.rope_theta, -at::arange(0, half, at::kDouble) * 2.0 / m.head_dim);
  at::Tensor ang = at::outer(at::arange(0, seq_len, at::kDouble), inv);
  cos = ang.cos().to(compute);
  sin = ang.sin().to(compute);
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  auto sizes = x.sizes().vec();
  at::Tensor xp = x.reshape({sizes[0], sizes[1], sizes[2], sizes[3] / 2, 2});
  at::Tensor x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
  at::Tensor c = cos.view({1, sizes[1], 1, sizes[3] / 2}), s = sin.view({1, sizes[1], 1, sizes[3] / 2});
  return at::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).reshape(sizes);
}

at::Tensor llama_block(const ModelSpec& m, const at::Tensor& x, const BlockWeights& w, const RopeTables& rope,
                       const PlanHooks& plan) {
  // One function on purpose: under full checkpointing the block runs without autograd, so its
  // intermediates live exactly until it returns; splitting it into functions would free some of
  // them earlier and change the peak memory.
  const int64_t hd = m.head_dim;
  const int64_t hl = w.wq.size(0) / hd, kvl = w.wk.size(0) / hd;  // this rank's heads
  auto qkv = plan.norm_linears(x, w.attention_norm, {w.wq, w.wk, w.wv}, m.norm_eps);
  const int64_t B = x.size(0), S = qkv[0].size(1);
  at::Tensor q = qkv[0].view({B, S, hl, hd});
  at::Tensor k = qkv[1].view({B, S, kvl, hd});
  at::Tensor v = qkv[2].view({B, S, kvl, hd});
  at::Tensor cos = rope.cos.narrow(0, 0, S), sin = rope.sin.narrow(0, 0, S);
  q = apply_rope(q, cos, sin);
  k = apply_rope(k, cos, sin);
  if (hl != kvl) {
    k = k.repeat_interleave(hl / kvl, 2);
    v = v.repeat_interleave(hl / kvl, 2);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  v = v.transpose(1, 2);
  at::Tensor attn;
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) {
    // GPU: fused causal attention (FlashAttention / memory-efficient kernels), as torchtitan runs
    // it and as the simulator prices GPU attention (docs/cost-model.md).
    attn = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true).transpose(1, 2).reshape({B, S, hl * hd});
  }
#endif
  if (!attn.defined()) {
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(hd)));
    at::Tensor mask = at::ones({S, S}, at::TensorOptions().dtype(at::kBool).device(q.device())).triu(1);
    scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
    attn = at::matmul(at::softmax(scores, -1), v).transpose(1, 2).reshape({B, S, hl * hd});
  }
  at::Tensor h = x + plan.row_output(mm_t(attn, w.wo));
  auto ab = plan.norm_linears(h, w.ffn_norm, {w.w1, w.w3}, m.norm_eps);
  return h + plan.row_output(plan.swiglu_w2(ab[0], ab[1], w.w2));
}

at::Tensor feed_forward(const at::Tensor& x, const BlockWeights& w, const PlanHooks& plan) {
  at::Tensor xf = plan.column_input(x);
  return plan.row_output(plan.swiglu_w2(mm_t(xf, w.w1), mm_t(xf, w.w3), w.w2));
}

at::Tensor initial_parameter(const std::string& name, ModuleType type, int64_t rows, int64_t cols, uint64_t seed) {
  if (type == ModuleType::norm) return at::ones({rows, cols});
  auto gen = seeded_generator(splitmix64(seed ^ hash_string(name)));
  return at::normal(0.0, 0.02, {rows, cols}, gen);
}

}  // namespace planner::executor
