#include "executor/optimizer.h"

#include <torch/torch.h>

#include <cmath>

namespace planner::executor {

void adamw_step(Unit& u, const AdamWConfig& a, int64_t t) {
  at::NoGradGuard ng;
  at::Tensor p = u.shard.detach();
  at::Tensor g = u.shard.grad();
  if (!g.defined()) g = at::zeros_like(p);
  if (!u.exp_avg.defined()) {
    u.exp_avg = at::zeros_like(p);
    u.exp_avg_sq = at::zeros_like(p);
  }
  p.mul_(1.0 - a.lr * a.weight_decay);
  u.exp_avg.mul_(a.beta1).add_(g, 1.0 - a.beta1);
  u.exp_avg_sq.mul_(a.beta2).addcmul_(g, g, 1.0 - a.beta2);
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(t));
  at::Tensor denom = (u.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(a.eps);
  p.addcdiv_(u.exp_avg, denom, -a.lr / bc1);
  u.shard.mutable_grad() = at::Tensor();  // free the sharded gradient (FSDP sets it to None)
}

}  // namespace planner::executor
