#include "executor/tp_ops.h"

#include <torch/torch.h>

#include "core/error.h"

namespace planner::executor {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

// Autograd functions take their Comm as an int64 argument (what saved_data can hold).
int64_t comm_arg(Comm* c) { return reinterpret_cast<int64_t>(c); }
Comm* comm_from(AutogradContext* ctx, const char* key) { return reinterpret_cast<Comm*>(ctx->saved_data[key].toInt()); }

struct CopyToTp : public torch::autograd::Function<CopyToTp> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return x.view_as(x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    at::Tensor grad = g[0].contiguous().clone();
    comm_from(ctx, "comm")->all_reduce(grad, ReduceKind::sum);
    return {grad, at::Tensor()};
  }
};

struct ReduceFromTp : public torch::autograd::Function<ReduceFromTp> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, int64_t comm) {
    at::Tensor y = x.contiguous().clone();
    reinterpret_cast<Comm*>(comm)->all_reduce(y, ReduceKind::sum);
    return y;
  }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0], at::Tensor()}; }
};

at::Tensor seq_reduce_scatter_raw(const at::Tensor& x, Comm* tp) {
  at::Tensor in = x.transpose(0, 1).contiguous();  // (S, B, ...)
  auto sizes = in.sizes().vec();
  PLANNER_CHECK(sizes[0] % tp->size() == 0, "sequence " << sizes[0] << " not divisible by tp " << tp->size());
  sizes[0] /= tp->size();
  at::Tensor out = at::empty({in.numel() / tp->size()}, in.options());
  tp->reduce_scatter(in.view({-1}), out, ReduceKind::sum);
  return out.view(sizes).transpose(0, 1).contiguous();
}

struct GatherSeq : public torch::autograd::Function<GatherSeq> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return seq_all_gather_raw(x, reinterpret_cast<Comm*>(comm));
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {seq_reduce_scatter_raw(g[0], comm_from(ctx, "comm")), at::Tensor()};
  }
};

struct ScatterSeq : public torch::autograd::Function<ScatterSeq> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return seq_reduce_scatter_raw(x, reinterpret_cast<Comm*>(comm));
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {seq_all_gather_raw(g[0], comm_from(ctx, "comm")), at::Tensor()};
  }
};

struct VocabParallelCrossEntropy : public torch::autograd::Function<VocabParallelCrossEntropy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets,
                            int64_t comm, int64_t vocab_start) {
    Comm* tp = reinterpret_cast<Comm*>(comm);
    const int64_t n = logits.size(0), v_local = logits.size(1);
    // The loss in fp32 whatever the compute dtype (torchtitan's pred.float()): the upcast copy
    // lives until the shift (logits itself when they are fp32).
    at::Tensor m, shifted;
    {
      const at::Tensor lf = logits.to(at::kFloat);
      m = std::get<0>(lf.max(1)).contiguous();
      tp->all_reduce(m, ReduceKind::max);
      shifted = lf - m.unsqueeze(1);
    }
    at::Tensor e = shifted.exp();
    at::Tensor local = targets - vocab_start;
    at::Tensor outside = local.lt(0).logical_or(local.ge(v_local));
    at::Tensor idx = local.masked_fill(outside, 0);
    at::Tensor target_logit = shifted.gather(1, idx.unsqueeze(1)).squeeze(1).masked_fill(outside, 0);
    at::Tensor both = at::stack({e.sum(1), target_logit}).contiguous();  // (2, N): one all-reduce
    tp->all_reduce(both, ReduceKind::sum);
    at::Tensor sumexp = both[0];
    at::Tensor loss = (sumexp.log() - both[1]).mean();
    ctx->save_for_backward({e.div_(sumexp.unsqueeze(1)), idx, outside});
    ctx->saved_data["n"] = n;
    ctx->saved_data["dtype"] = static_cast<int64_t>(logits.scalar_type());
    return loss;
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto s = ctx->get_saved_variables();
    at::Tensor grad = s[0].clone();  // softmax
    at::Tensor hit = s[2].logical_not().to(grad.scalar_type());
    grad.scatter_add_(1, s[1].unsqueeze(1), -hit.unsqueeze(1));
    grad.mul_(g[0] / static_cast<double>(ctx->saved_data["n"].toInt()));
    // The gradient in the logits' dtype (a no-op for fp32).
    return {grad.to(static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt())), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor copy_to_tp(const at::Tensor& x, Comm* tp) {
  if (tp->size() == 1) return x;
  return CopyToTp::apply(x, comm_arg(tp));
}

at::Tensor reduce_from_tp(const at::Tensor& x, Comm* tp) {
  if (tp->size() == 1) return x;
  return ReduceFromTp::apply(x, comm_arg(tp));
}

at::Tensor seq_all_gather_raw(const at::Tensor& x, Comm* tp) {
  at::Tensor in = x.transpose(0, 1).contiguous();  // (S/tp, B, ...)
  auto sizes = in.sizes().vec();
  sizes[0] *= tp->size();
  at::Tensor out = at::empty({in.numel() * tp->size()}, in.options());
  tp->all_gather(in.view({-1}), out);
  return out.view(sizes).transpose(0, 1).contiguous();
}

at::Tensor gather_seq(const at::Tensor& x, Comm* tp) { return GatherSeq::apply(x, comm_arg(tp)); }

at::Tensor scatter_seq(const at::Tensor& x, Comm* tp) { return ScatterSeq::apply(x, comm_arg(tp)); }

at::Tensor vocab_parallel_cross_entropy(const at::Tensor& logits, const at::Tensor& targets, Comm* tp,
                                        int64_t vocab_start) {
  return VocabParallelCrossEntropy::apply(logits, targets, comm_arg(tp), vocab_start);
}

}  // namespace planner::executor
