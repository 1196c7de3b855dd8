#include "executor/model.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace planner::executor {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t hash_string(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

at::Generator generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

Comm* comm_from(AutogradContext* ctx, const char* key) {
  return reinterpret_cast<Comm*>(ctx->saved_data[key].toInt());
}

// ---------------------------------------------------------------- tensor-parallel autograd ops

// f: identity forward, all-reduce (sum) of the input gradient over the TP group in backward.
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

// g: all-reduce (sum) forward, identity backward.
struct ReduceFromTp : public torch::autograd::Function<ReduceFromTp> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, int64_t comm) {
    at::Tensor y = x.contiguous().clone();
    reinterpret_cast<Comm*>(comm)->all_reduce(y, ReduceKind::sum);
    return y;
  }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0], at::Tensor()}; }
};

at::Tensor copy_to_tp(const at::Tensor& x, Comm* tp) {
  if (tp->size() == 1) return x;
  return CopyToTp::apply(x, reinterpret_cast<int64_t>(tp));
}
at::Tensor reduce_from_tp(const at::Tensor& x, Comm* tp) {
  if (tp->size() == 1) return x;
  return ReduceFromTp::apply(x, reinterpret_cast<int64_t>(tp));
}

// ---------------------------------------------------------------- sequence-parallel autograd ops
// Tensors are (B, S, ...); the sequence (dim 1) is split into tp equal chunks, TP rank r holding
// chunk r. The collectives run on flat (S, B, ...) buffers so each rank's chunk is contiguous.

at::Tensor seq_all_gather_raw(const at::Tensor& x, Comm* tp) {
  at::Tensor in = x.transpose(0, 1).contiguous();  // (S/tp, B, ...)
  auto sizes = in.sizes().vec();
  sizes[0] *= tp->size();
  at::Tensor out = at::empty({in.numel() * tp->size()}, in.options());
  tp->all_gather(in.view({-1}), out);
  return out.view(sizes).transpose(0, 1).contiguous();
}

at::Tensor seq_reduce_scatter_raw(const at::Tensor& x, Comm* tp) {
  at::Tensor in = x.transpose(0, 1).contiguous();  // (S, B, ...)
  auto sizes = in.sizes().vec();
  PLANNER_CHECK(sizes[0] % tp->size() == 0, "sequence " << sizes[0] << " not divisible by tp " << tp->size());
  sizes[0] /= tp->size();
  at::Tensor out = at::empty({in.numel() / tp->size()}, in.options());
  tp->reduce_scatter(in.view({-1}), out, ReduceKind::sum);
  return out.view(sizes).transpose(0, 1).contiguous();
}

// All-gather along the sequence forward; reduce-scatter (sum) of the gradient backward.
struct GatherSeq : public torch::autograd::Function<GatherSeq> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return seq_all_gather_raw(x, reinterpret_cast<Comm*>(comm));
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {seq_reduce_scatter_raw(g[0], comm_from(ctx, "comm")), at::Tensor()};
  }
};

// Reduce-scatter (sum) along the sequence forward; all-gather of the gradient backward.
struct ScatterSeq : public torch::autograd::Function<ScatterSeq> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return seq_reduce_scatter_raw(x, reinterpret_cast<Comm*>(comm));
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {seq_all_gather_raw(g[0], comm_from(ctx, "comm")), at::Tensor()};
  }
};

// Cross-entropy over vocab-sharded logits (loss parallel): max, sum-exp and the target logit are
// all-reduced over the TP group; full logits are never gathered. Mean over the N rows.
struct VocabParallelCrossEntropy : public torch::autograd::Function<VocabParallelCrossEntropy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets,
                            int64_t comm, int64_t vocab_start) {
    Comm* tp = reinterpret_cast<Comm*>(comm);
    const int64_t n = logits.size(0), v_local = logits.size(1);
    at::Tensor m = std::get<0>(logits.max(1)).contiguous();
    tp->all_reduce(m, ReduceKind::max);
    at::Tensor shifted = logits - m.unsqueeze(1);
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
    return loss;
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    auto s = ctx->get_saved_variables();
    at::Tensor grad = s[0].clone();  // softmax
    at::Tensor hit = s[2].logical_not().to(grad.scalar_type());
    grad.scatter_add_(1, s[1].unsqueeze(1), -hit.unsqueeze(1));
    grad.mul_(g[0] / static_cast<double>(ctx->saved_data["n"].toInt()));
    return {grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// ---------------------------------------------------------------- FSDP autograd op

// Forward: returns the unit's unsharded parameters (gathered by ShardedModel::gather); backward:
// reduce-scatters their gradients into the shard's gradient and frees the unsharded parameters.
struct GatherUnit : public torch::autograd::Function<GatherUnit> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& shard, int64_t model, int64_t unit) {
    (void)shard;
    ctx->saved_data["model"] = model;
    ctx->saved_data["unit"] = unit;
    auto* m = reinterpret_cast<ShardedModel*>(model);
    Unit& u = m->units()[unit];
    variable_list out;
    for (const at::Tensor& f : u.full) {
      // A new tensor on the same storage: freeing / refilling that storage reaches the copies
      // autograd saved, and writing into it never bumps these tensors' version counters.
      out.push_back(at::empty({0}, f.options()).set_(f.storage(), 0, f.sizes(), f.strides()));
    }
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* m = reinterpret_cast<ShardedModel*>(ctx->saved_data["model"].toInt());
    Unit& u = m->units()[ctx->saved_data["unit"].toInt()];
    at::Tensor g = m->reduce_grads(u, grads);
    m->free_unsharded(u);
    return {g, at::Tensor(), at::Tensor()};
  }
};

// dp = 1: the unit's parameters are slices of its flat shard. Taken with narrow(), each slice's
// gradient goes through SliceBackward, which allocates a zeroed tensor of the whole unit, and
// autograd then sums one such tensor per parameter: measured with `perf record` on llama-tiny
// dp=1 tp=1, slice_backward and those sums were 20% of a step. Here the forward hands out tensors
// on the shard's storage and the backward writes each gradient into its place in one flat
// gradient, once (what FSDP's flat parameter does with its views).
struct SplitUnit : public torch::autograd::Function<SplitUnit> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& shard, int64_t model, int64_t unit) {
    ctx->saved_data["model"] = model;
    ctx->saved_data["unit"] = unit;
    const Unit& u = reinterpret_cast<ShardedModel*>(model)->units()[unit];
    variable_list out;
    for (const auto& p : u.params)
      out.push_back(at::empty({0}, shard.options())
                        .set_(shard.storage(), shard.storage_offset() + p.offset, {p.local.rows, p.local.cols},
                              {p.local.cols, 1}));
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Unit& u = reinterpret_cast<ShardedModel*>(ctx->saved_data["model"].toInt())->units()[ctx->saved_data["unit"].toInt()];
    int64_t covered = 0;
    for (size_t i = 0; i < u.params.size(); ++i)
      if (grads[i].defined()) covered += u.params[i].local.rows * u.params[i].local.cols;
    const auto o = u.shard.options();
    at::Tensor g = covered == u.shard_numel ? at::empty({u.shard_numel}, o) : at::zeros({u.shard_numel}, o);
    for (size_t i = 0; i < u.params.size(); ++i) {
      if (!grads[i].defined()) continue;
      const auto& p = u.params[i];
      g.narrow(0, p.offset, p.local.rows * p.local.cols).view({p.local.rows, p.local.cols}).copy_(grads[i]);
    }
    return {g, at::Tensor(), at::Tensor()};
  }
};

// Full activation checkpointing: keeps only the block input; the block (with its TP collectives)
// runs again in backward.
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

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w.view({-1});
}

at::Tensor mm_t(const at::Tensor& x, const at::Tensor& w) { return at::matmul(x, w.t()); }

// ---------------------------------------------------------------- selective activation checkpointing

// rms_norm(x, w) -> [TP: f operator, or under SP an all-gather along the sequence] -> y_i = xn W_i^T.
// Saves the norm input x, the norm weight and the W_i, not the norm output: backward recomputes
// the norm (and under SP its all-gather, whose backward is the reduce-scatter), then forms the
// linears' gradients from the recomputed output. tp_comm: the TP Comm; sp: 1 under SP.
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
    const int64_t comm = ctx->saved_data["comm"].toInt();
    const bool sp = ctx->saved_data["sp"].toInt() != 0;
    at::Tensor x = s[0].detach().requires_grad_(true), w = s[1].detach().requires_grad_(true);
    at::Tensor xn;
    {
      at::AutoGradMode enable(true);
      xn = rms_norm(x, w, eps);
      Comm* tp = reinterpret_cast<Comm*>(comm);
      if (sp)
        xn = GatherSeq::apply(xn, comm);
      else if (tp->size() > 1)
        xn = CopyToTp::apply(xn, comm);
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

// y = (silu(a) * b) W2^T, saving a, b (the w1 and w3 outputs) and W2: the silu and the product
// (w2's input) are recomputed in backward.
struct SwiGluW2 : public torch::autograd::Function<SwiGluW2> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2) {
    ctx->save_for_backward({a, b, w2});
    return mm_t(at::silu(a) * b, w2);
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

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  // x: (B, S, H, hd); adjacent pairs (2i, 2i+1) rotate together (torchtitan's complex view).
  auto sizes = x.sizes().vec();
  at::Tensor xp = x.reshape({sizes[0], sizes[1], sizes[2], sizes[3] / 2, 2});
  at::Tensor x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
  at::Tensor c = cos.view({1, sizes[1], 1, sizes[3] / 2}), s = sin.view({1, sizes[1], 1, sizes[3] / 2});
  return at::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).reshape(sizes);
}

}  // namespace

void check_tp_divides(const ModelSpec& model, int64_t tp, const std::string& where) {
  if (tp < 1) throw InputError(where, "tp", "must be >= 1, got " + std::to_string(tp));
  for (const auto& t : parameter_tensors(model)) {
    LocalShape s;
    std::string why;
    if (!tp_local_shape(t, tp_style_for(default_tp_plan(model.kind), t.module), tp, &s, &why))
      throw InputError(where, "tp", why);
  }
  if (model.kind == ModelKind::llama) {
    if (model.n_kv_heads % tp != 0)
      throw InputError(where, "tp", "tp (" + std::to_string(tp) + ") must divide num_key_value_heads (" +
                                        std::to_string(model.n_kv_heads) + ")");
    if (model.n_heads % tp != 0)
      throw InputError(where, "tp", "tp (" + std::to_string(tp) + ") must divide num_attention_heads (" +
                                        std::to_string(model.n_heads) + ")");
  }
}

std::vector<Unit> build_units(const ModelSpec& model, int64_t dp, int64_t tp) {
  std::vector<Unit> units;
  const auto plan = default_tp_plan(model.kind);
  auto add_param = [&](Unit& u, const TensorSpec& t, const std::string& name) {
    ParamInfo p;
    p.name = name;
    p.type = t.type;
    p.style = tp_style_for(plan, t.module);
    p.full_rows = t.rows;
    p.full_cols = t.cols;
    std::string why;
    PLANNER_CHECK(tp_local_shape(t, p.style, tp, &p.local, &why), why);
    p.tp_dim = tp == 1 ? -1 : tp_shard_dim(p.style, t.type);
    p.shard_rows = (p.local.rows + dp - 1) / dp;
    PLANNER_CHECK(p.shard_numel() == fsdp_shard_numel(p.local, dp), "shard numel");
    p.offset = u.shard_numel;
    u.shard_numel += p.shard_numel();
    u.params.push_back(p);
  };
  const auto tensors = parameter_tensors(model);
  if (model.kind == ModelKind::feedforward) {
    Unit u;
    u.name = "feed_forward";
    for (const auto& t : tensors) add_param(u, t, t.module);
    units.push_back(std::move(u));
  } else {
    Unit root;
    root.name = "root";
    for (const auto& t : tensors)
      if (!t.per_layer) add_param(root, t, t.module);
    units.push_back(std::move(root));
    for (int64_t l = 0; l < model.n_layers; ++l) {
      Unit u;
      u.name = "layers." + std::to_string(l);
      for (const auto& t : tensors) {
        if (!t.per_layer) continue;
        std::string name = t.module;
        name.replace(name.find('*'), 1, std::to_string(l));
        add_param(u, t, name);
      }
      units.push_back(std::move(u));
    }
  }
  return units;
}

ShardedModel::ShardedModel(const ModelSpec& model, int64_t dp, int64_t tp, const Mesh& mesh, Comms* comms,
                           const ExecOptions& opts, uint64_t seed)
    : model_(model), dp_(dp), tp_(tp), mesh_(mesh), comms_(comms), opts_(opts) {
  check_tp_divides(model, tp, "--tp");
  units_ = build_units(model, dp, tp);
  // Initialise: the full tensor from (seed, name), then this rank's TP slice, then its FSDP rows.
  at::NoGradGuard ng;
  for (auto& u : units_) {
    at::Tensor host = at::zeros({u.shard_numel}, at::kFloat);
    for (const auto& p : u.params) {
      at::Tensor full;
      if (p.type == ModuleType::norm) {
        full = at::ones({p.full_rows, p.full_cols});
      } else {
        auto gen = generator(splitmix64(seed ^ hash_string(p.name)));
        full = at::normal(0.0, 0.02, {p.full_rows, p.full_cols}, gen);
      }
      copy_rank_slice(full, p, mesh, host);
    }
    u.shard = opts_.device.is_cpu() ? host : host.to(opts_.device);
    u.shard.requires_grad_(true);
    if (dp_ > 1) {
      for (const auto& p : u.params) u.full.push_back(at::empty({p.local.rows, p.local.cols}, f32()));
      free_unsharded(u);
    }
  }
  if (model.kind == ModelKind::llama) {
    // Rotary tables (S grows on demand in forward).
    rope_cos_ = at::Tensor();
  }
}

void copy_rank_slice(const at::Tensor& full, const ParamInfo& p, const Mesh& mesh, at::Tensor& flat) {
  at::Tensor local = full;
  if (p.tp_dim >= 0) {
    const int64_t n = p.tp_dim == 0 ? p.local.rows : p.local.cols;
    local = full.narrow(p.tp_dim, mesh.tp_index() * n, n);
  }
  const int64_t r0 = mesh.dp_index() * p.shard_rows;
  const int64_t rows = std::max<int64_t>(0, std::min(p.shard_rows, p.local.rows - r0));
  if (rows > 0) flat.narrow(0, p.offset, rows * p.local.cols).view({rows, p.local.cols}).copy_(local.narrow(0, r0, rows));
}

ShardedModel::~ShardedModel() = default;

void ShardedModel::free_unsharded(Unit& u) {
  if (dp_ == 1) return;
  for (auto& f : u.full) {
    auto* impl = f.storage().unsafeGetStorageImpl();
    impl->set_data_ptr_noswap(at::DataPtr(nullptr, f.device()));
    impl->set_nbytes(0);
  }
  u.gathered = false;
}

void ShardedModel::prefetch(Unit& u) {
  if (dp_ == 1 || u.gathered || u.pending || !opts_.prefetch) return;
  u.gather_buffer = at::empty({dp_ * u.shard_numel}, f32());
  u.pending = comms_->dp->all_gather_async(u.shard.detach(), u.gather_buffer);
}

void ShardedModel::gather(Unit& u) {
  if (dp_ == 1 || u.gathered) return;
  if (u.pending) {
    u.pending->wait();
    u.pending.reset();
  } else if (!u.landed) {
    u.gather_buffer = at::empty({dp_ * u.shard_numel}, f32());
    comms_->dp->all_gather(u.shard.detach(), u.gather_buffer);
  }
  at::NoGradGuard ng;
  for (size_t i = 0; i < u.params.size(); ++i) {
    const auto& p = u.params[i];
    auto* impl = u.full[i].storage().unsafeGetStorageImpl();
    const size_t nbytes = static_cast<size_t>(p.local.rows * p.local.cols) * sizeof(float);
    impl->set_data_ptr_noswap(impl->allocator()->allocate(nbytes));
    impl->set_nbytes(nbytes);
    at::Tensor dst = at::from_blob(u.full[i].data_ptr(), {p.local.rows, p.local.cols}, f32());
    for (int64_t r = 0; r < dp_; ++r) {
      const int64_t r0 = r * p.shard_rows;
      const int64_t rows = std::min(p.shard_rows, p.local.rows - r0);
      if (rows <= 0) break;
      dst.narrow(0, r0, rows)
          .copy_(u.gather_buffer.narrow(0, r * u.shard_numel + p.offset, rows * p.local.cols).view({rows, p.local.cols}));
    }
  }
  u.gather_buffer = at::Tensor();
  u.landed = false;
  u.gathered = true;
}

at::Tensor ShardedModel::reduce_grads(Unit& u, const std::vector<at::Tensor>& grads_in) {
  at::NoGradGuard ng;
  std::vector<at::Tensor> grads(u.params.size());
  for (size_t i = 0; i < u.params.size(); ++i)
    grads[i] = grads_in[i].defined() ? grads_in[i]
                                     : at::zeros({u.params[i].local.rows, u.params[i].local.cols}, f32());
  if (opts_.grad_sync == GradSync::last_micro_batch && !last_micro_batch_) {
    if (u.accumulated_grads.empty())
      for (auto& g : grads) u.accumulated_grads.push_back(g.clone());
    else
      for (size_t i = 0; i < grads.size(); ++i) u.accumulated_grads[i].add_(grads[i]);
    return at::Tensor();
  }
  if (!u.accumulated_grads.empty()) {
    for (size_t i = 0; i < grads.size(); ++i) grads[i] = grads[i] + u.accumulated_grads[i];
    u.accumulated_grads.clear();
  }
  // Gloo runs a group's collectives one at a time on its worker thread, so this reduce-scatter
  // cannot start before a prefetch in flight has finished anyway. Finish it before this reduce's
  // buffers are allocated: Gloo's flat all_gather output is then freed first, and the peak does
  // not depend on whether the prefetch happened to land in time (measured: llama-tiny dp=2 tp=2
  // peaked 32,037,132 or 33,612,044 B from run to run).
  if (comms_->dp->backend() == "gloo")
    for (auto& o : units_)
      if (o.pending) {
        o.pending->wait();
        o.pending.reset();
        o.landed = true;
      }
  at::Tensor buf = at::zeros({dp_ * u.shard_numel}, f32());
  for (size_t i = 0; i < u.params.size(); ++i) {
    const auto& p = u.params[i];
    at::Tensor g = grads[i].reshape({p.local.rows, p.local.cols});
    for (int64_t r = 0; r < dp_; ++r) {
      const int64_t r0 = r * p.shard_rows;
      const int64_t rows = std::min(p.shard_rows, p.local.rows - r0);
      if (rows <= 0) break;
      buf.narrow(0, r * u.shard_numel + p.offset, rows * p.local.cols).view({rows, p.local.cols}).copy_(g.narrow(0, r0, rows));
    }
  }
  at::Tensor out = at::empty({u.shard_numel}, f32());
  comms_->dp->reduce_scatter(buf, out, ReduceKind::avg);
  return out;
}

std::vector<at::Tensor> ShardedModel::unit_params(int index) {
  Unit& u = units_[index];
  if (dp_ == 1) return SplitUnit::apply(u.shard, reinterpret_cast<int64_t>(this), static_cast<int64_t>(index));
  gather(u);
  return GatherUnit::apply(u.shard, reinterpret_cast<int64_t>(this), static_cast<int64_t>(index));
}

void ShardedModel::reshard_all() {
  for (auto& u : units_) {
    if (u.pending) {
      u.pending->wait();
      u.pending.reset();
    }
    u.gather_buffer = at::Tensor();
    u.landed = false;
    free_unsharded(u);
  }
}

std::vector<at::Tensor> ShardedModel::norm_linears(const at::Tensor& x, const at::Tensor& norm_w,
                                                   const std::vector<at::Tensor>& ws) {
  Comm* tp = comms_->tp.get();
  // Under SP each TP rank sees only its tokens, so the (replicated) norm weight's gradient is
  // partial: the f operator on the weight all-reduces it over the TP group in backward.
  at::Tensor w = sp() ? copy_to_tp(norm_w, tp) : norm_w;
  if (opts_.ac == ActivationCheckpointing::selective)
    return NormLinears::apply(x, w, at::TensorList(ws), model_.norm_eps, reinterpret_cast<int64_t>(tp),
                              sp() ? 1 : 0);
  at::Tensor xn = rms_norm(x, w, model_.norm_eps);
  xn = sp() ? GatherSeq::apply(xn, reinterpret_cast<int64_t>(tp)) : copy_to_tp(xn, tp);
  std::vector<at::Tensor> out;
  for (const auto& W : ws) out.push_back(mm_t(xn, W));
  return out;
}

at::Tensor ShardedModel::swiglu_w2(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2) {
  if (opts_.ac == ActivationCheckpointing::selective) return SwiGluW2::apply(a, b, w2);
  return mm_t(at::silu(a) * b, w2);
}

at::Tensor ShardedModel::tp_reduce_out(const at::Tensor& y) {
  Comm* tp = comms_->tp.get();
  return sp() ? ScatterSeq::apply(y, reinterpret_cast<int64_t>(tp)) : reduce_from_tp(y, tp);
}

at::Tensor ShardedModel::ff_forward(const at::Tensor& x, const std::vector<at::Tensor>& p) {
  // p: w1, w2, w3 (plan: w1, w3 colwise; w2 rowwise). Under SP x holds this rank's S/tp rows.
  Comm* tp = comms_->tp.get();
  at::Tensor xf = sp() ? GatherSeq::apply(x, reinterpret_cast<int64_t>(tp)) : copy_to_tp(x, tp);
  return tp_reduce_out(swiglu_w2(mm_t(xf, p[0]), mm_t(xf, p[2]), p[1]));
}

at::Tensor ShardedModel::block_forward(const at::Tensor& x, const std::vector<at::Tensor>& p) {
  // p: attention_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3. Under SP x is (B, S/tp, dim).
  const int64_t B = x.size(0), S = sp() ? x.size(1) * tp_ : x.size(1), hd = model_.head_dim;
  const int64_t hl = model_.n_heads / tp_, kvl = model_.n_kv_heads / tp_;
  auto qkv = norm_linears(x, p[0], {p[1], p[2], p[3]});
  at::Tensor q = qkv[0].view({B, S, hl, hd});
  at::Tensor k = qkv[1].view({B, S, kvl, hd});
  at::Tensor v = qkv[2].view({B, S, kvl, hd});
  at::Tensor cos = rope_cos_.narrow(0, 0, S), sin = rope_sin_.narrow(0, 0, S);
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
  if (opts_.device.is_cuda()) {
    // GPU: fused causal attention (FlashAttention / memory-efficient kernels), as torchtitan runs
    // it and as the simulator prices GPU attention (docs/cost-model.md).
    attn = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true).transpose(1, 2).reshape({B, S, hl * hd});
  }
#endif
  if (!attn.defined()) {
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(hd)));
    at::Tensor mask = at::ones({S, S}, at::TensorOptions().dtype(at::kBool).device(opts_.device)).triu(1);
    scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
    attn = at::matmul(at::softmax(scores, -1), v).transpose(1, 2).reshape({B, S, hl * hd});
  }
  at::Tensor h = x + tp_reduce_out(mm_t(attn, p[4]));
  auto ab = norm_linears(h, p[5], {p[6], p[8]});
  return h + tp_reduce_out(swiglu_w2(ab[0], ab[1], p[7]));
}

at::Tensor ShardedModel::forward_loss(const Batch& batch) {
  Comm* tp = comms_->tp.get();
  if (model_.kind == ModelKind::feedforward) {
    auto p = unit_params(0);
    // Under SP every TP rank holds rows [r * S/tp, (r+1) * S/tp) of each sequence.
    at::Tensor input = batch.input, target = batch.target;
    if (sp()) {
      const int64_t s_local = input.size(1) / tp_;
      input = input.narrow(1, mesh_.tp_index() * s_local, s_local);
      target = target.narrow(1, mesh_.tp_index() * s_local, s_local);
    }
    at::Tensor y;
    keep_fns_.clear();
    if (opts_.ac == ActivationCheckpointing::full) {
      keep_fns_.push_back(std::make_unique<BlockFn>(
          [this](const at::Tensor& x, const std::vector<at::Tensor>& ps) { return ff_forward(x, ps); }));
      y = CheckpointBlock::apply(input, at::TensorList(p), reinterpret_cast<int64_t>(keep_fns_.back().get()))[0];
    } else {
      y = ff_forward(input, p);
    }
    if (opts_.reshard_after_forward) free_unsharded(units_[0]);
    // Re-gather before this unit's backward.
    if (dp_ > 1 && opts_.reshard_after_forward && y.requires_grad())
      y.register_hook([this](const at::Tensor&) { gather(units_[0]); });
    if (sp()) {
      // Sum of this rank's squared errors, all-reduced (identity backward) over the TP group,
      // divided by the full micro-batch's element count: the same mean on every TP rank.
      return reduce_from_tp((y - target).pow(2).sum(), tp) / static_cast<double>(batch.target.numel());
    }
    return (y - target).pow(2).mean();
  }
  // Llama.
  const int64_t S = batch.input.size(1);
  if (!rope_cos_.defined() || rope_cos_.size(0) < S) {
    const int64_t half = model_.head_dim / 2;
    at::Tensor inv = at::pow(model_.rope_theta, -at::arange(0, half, at::kDouble) * 2.0 / model_.head_dim);
    at::Tensor ang = at::outer(at::arange(0, S, at::kDouble), inv);
    rope_cos_ = ang.cos().to(f32());
    rope_sin_ = ang.sin().to(f32());
  }
  const int n_blocks = static_cast<int>(model_.n_layers);
  auto root = unit_params(0);  // tok_embeddings, norm, output (tied: no output)
  if (n_blocks > 0) prefetch(units_[1]);
  const ParamInfo& emb = units_[0].params[0];
  const int64_t vocab_start = mesh_.tp_index() * emb.local.rows;
  at::Tensor local = batch.input - vocab_start;
  at::Tensor outside = local.lt(0).logical_or(local.ge(emb.local.rows));
  at::Tensor h = at::embedding(root[0], local.masked_fill(outside, 0)).masked_fill(outside.unsqueeze(-1), 0.0);
  // Partial sums over the vocab shards: all-reduce, or under SP reduce-scatter into sequence shards.
  h = tp_reduce_out(h);
  keep_fns_.clear();
  for (int i = 1; i <= n_blocks; ++i) {
    auto p = unit_params(i);
    if (i + 1 <= n_blocks) prefetch(units_[i + 1]);
    at::Tensor out;
    if (opts_.ac == ActivationCheckpointing::full) {
      keep_fns_.push_back(std::make_unique<BlockFn>(
          [this](const at::Tensor& x, const std::vector<at::Tensor>& ps) { return block_forward(x, ps); }));
      out = CheckpointBlock::apply(h, at::TensorList(p), reinterpret_cast<int64_t>(keep_fns_.back().get()))[0];
    } else {
      out = block_forward(h, p);
    }
    if (opts_.reshard_after_forward) free_unsharded(units_[i]);
    if (dp_ > 1 && opts_.reshard_after_forward && out.requires_grad()) {
      out.register_hook([this, i](const at::Tensor&) {
        gather(units_[i]);
        if (i - 1 >= 1) prefetch(units_[i - 1]);
      });
    }
    h = out;
  }
  at::Tensor w_out = model_.tie_word_embeddings ? root[0] : root[2];
  // Final norm (under SP all-gathered along the sequence), then the vocab-parallel output head.
  at::Tensor logits = norm_linears(h, root[1], {w_out})[0];  // (B, S, V/tp)
  const int64_t v_local = logits.size(-1);
  return VocabParallelCrossEntropy::apply(logits.reshape({-1, v_local}), batch.target.reshape({-1}),
                                          reinterpret_cast<int64_t>(tp), vocab_start);
}

std::map<std::string, at::Tensor> ShardedModel::full_parameters() {
  at::NoGradGuard ng;
  std::map<std::string, at::Tensor> out;
  for (auto& u : units_) {
    at::Tensor all = u.shard.detach();
    if (dp_ > 1) {
      all = at::empty({dp_ * u.shard_numel}, f32());
      comms_->dp->all_gather(u.shard.detach(), all);
    }
    for (const auto& p : u.params) {
      at::Tensor local = at::zeros({p.local.rows, p.local.cols}, f32());
      for (int64_t r = 0; r < dp_; ++r) {
        const int64_t r0 = r * p.shard_rows;
        const int64_t rows = std::min(p.shard_rows, p.local.rows - r0);
        if (rows <= 0) break;
        local.narrow(0, r0, rows).copy_(all.narrow(0, r * u.shard_numel + p.offset, rows * p.local.cols).view({rows, p.local.cols}));
      }
      at::Tensor full = local;
      if (p.tp_dim >= 0) {
        at::Tensor g = at::empty({tp_ * local.numel()}, f32());
        comms_->tp->all_gather(local.reshape({-1}), g);
        std::vector<at::Tensor> parts;
        for (int64_t t = 0; t < tp_; ++t) parts.push_back(g.narrow(0, t * local.numel(), local.numel()).view(local.sizes()));
        full = at::cat(parts, p.tp_dim);
      }
      out[p.name] = full.cpu();
    }
  }
  return out;
}

Batch make_batch(const ModelSpec& model, int64_t seq_len, int64_t global_batch, int64_t dp, int dp_index,
                 int64_t micro_batch, int64_t micro_index, int64_t step, uint64_t seed) {
  const int64_t per_dp = global_batch / dp;
  const int64_t first = dp_index * per_dp + micro_index * micro_batch;
  std::vector<at::Tensor> ins, tgts;
  for (int64_t j = 0; j < micro_batch; ++j) {
    const uint64_t g = static_cast<uint64_t>(first + j);
    auto gen = generator(splitmix64(splitmix64(seed ^ 0xDA7AULL) ^ splitmix64(static_cast<uint64_t>(step) * 1000003ULL + g)));
    if (model.kind == ModelKind::feedforward) {
      ins.push_back(at::normal(0.0, 1.0, {seq_len, model.dim}, gen));
      tgts.push_back(at::normal(0.0, 1.0, {seq_len, model.dim}, gen));
    } else {
      at::Tensor tok = at::randint(0, model.vocab_size, {seq_len + 1}, gen, at::kLong);
      ins.push_back(tok.narrow(0, 0, seq_len));
      tgts.push_back(tok.narrow(0, 1, seq_len));
    }
  }
  return {at::stack(ins), at::stack(tgts)};
}

}  // namespace planner::executor
