#include "executor/activation_checkpointing.h"

#include <torch/torch.h>

#include "executor/model.h"
#include "executor/tp_ops.h"

namespace planner::executor {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

struct CheckpointBlock : public torch::autograd::Function<CheckpointBlock> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList params, int64_t fn) {
    ctx->saved_data["fn"] = fn;
    variable_list save{x};
    for (auto& p : params) save.push_back(p);
    ctx->save_for_backward(save);
    at::Tensor y;
    {
      at::NoGradGuard ng;
      y = (*reinterpret_cast<BlockFn*>(fn))(x, params.vec());
    }
    return {y};
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto saved = ctx->get_saved_variables();
    auto* fn = reinterpret_cast<BlockFn*>(ctx->saved_data["fn"].toInt());
    variable_list inputs;
    for (auto& s : saved) inputs.push_back(s.detach().requires_grad_(true));
    std::vector<at::Tensor> params(inputs.begin() + 1, inputs.end());
    at::Tensor y;
    {
      at::AutoGradMode enable(true);
      y = (*fn)(inputs[0], params);
    }
    auto grads = torch::autograd::grad({y}, inputs, {g[0]}, false, false, true);
    variable_list out{grads[0]};
    // Params arrive as one variable_list argument: autograd expects one gradient per tensor.
    for (size_t i = 1; i < grads.size(); ++i) out.push_back(grads[i]);
    out.push_back(at::Tensor());
    return out;
  }
};

// tp_comm: the TP Comm; sp: 1 under sequence parallel.
struct NormLinears : public torch::autograd::Function<NormLinears> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, at::TensorList ws,
                               double eps, int64_t tp_comm, int64_t sp) {
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["comm"] = tp_comm;
    ctx->saved_data["sp"] = sp;
    variable_list save{x, w};
    for (auto& W : ws) save.push_back(W);
    ctx->save_for_backward(save);
    at::Tensor xn = rms_norm(x, w, eps);
    if (sp) xn = seq_all_gather_raw(xn, reinterpret_cast<Comm*>(tp_comm));
    variable_list out;
    for (auto& W : ws) out.push_back(mm_t(xn, W));
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto s = ctx->get_saved_variables();
    const double eps = ctx->saved_data["eps"].toDouble();
    Comm* tp = reinterpret_cast<Comm*>(ctx->saved_data["comm"].toInt());
    const bool sp = ctx->saved_data["sp"].toInt() != 0;
    at::Tensor x = s[0].detach().requires_grad_(true), w = s[1].detach().requires_grad_(true);
    at::Tensor xn;
    {
      at::AutoGradMode enable(true);
      xn = rms_norm(x, w, eps);
      xn = sp ? gather_seq(xn, tp) : copy_to_tp(xn, tp);
    }
    const int64_t in = xn.size(-1);
    at::Tensor xn2 = xn.detach().reshape({-1, in});
    at::Tensor dxn = at::zeros_like(xn2);
    variable_list dws;
    for (size_t i = 2; i < s.size(); ++i) {
      const at::Tensor& W = s[i];
      const at::Tensor& gi = g[i - 2];
      if (!gi.defined()) {
        dws.push_back(at::zeros_like(W));
        continue;
      }
      at::Tensor g2 = gi.reshape({-1, W.size(0)});
      dws.push_back(g2.t().mm(xn2));
      dxn.addmm_(g2, W);
    }
    auto gx = torch::autograd::grad({xn}, {x, w}, {dxn.view(xn.sizes())}, false, false, true);
    variable_list out{gx[0], gx[1]};
    for (auto& d : dws) out.push_back(d);
    out.push_back(at::Tensor());
    out.push_back(at::Tensor());
    out.push_back(at::Tensor());
    return out;
  }
};

struct SwiGluW2 : public torch::autograd::Function<SwiGluW2> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2) {
    ctx->save_for_backward({a, b, w2});
    return swiglu_w2(a, b, w2);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto s = ctx->get_saved_variables();
    const at::Tensor &a = s[0], &b = s[1], &w2 = s[2];
    at::Tensor act = at::silu(a);
    at::Tensor h = act * b;
    at::Tensor g2 = g[0].reshape({-1, w2.size(0)});
    at::Tensor dw2 = g2.t().mm(h.reshape({-1, h.size(-1)}));
    at::Tensor dh = g2.mm(w2).view(h.sizes());
    at::Tensor db = dh * act;
    at::Tensor da = at::silu_backward(dh * b, a);
    return {da, db, dw2};
  }
};

}  // namespace

at::Tensor FullCheckpointing::run(BlockFn fn, const at::Tensor& x, const std::vector<at::Tensor>& params) {
  fns_.push_back(std::make_unique<BlockFn>(std::move(fn)));
  return CheckpointBlock::apply(x, at::TensorList(params), reinterpret_cast<int64_t>(fns_.back().get()))[0];
}

std::vector<at::Tensor> norm_linears_recomputed(const at::Tensor& x, const at::Tensor& w,
                                                const std::vector<at::Tensor>& ws, double eps, Comm* tp_comm,
                                                bool sp) {
  return NormLinears::apply(x, w, at::TensorList(ws), eps, reinterpret_cast<int64_t>(tp_comm), sp ? 1 : 0);
}

at::Tensor swiglu_w2_recomputed(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2) {
  return SwiGluW2::apply(a, b, w2);
}

}  // namespace planner::executor
