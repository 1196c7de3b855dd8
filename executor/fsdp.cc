#include "executor/fsdp.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"

namespace planner::executor {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

// The autograd functions take the Fsdp and the unit index as int64 arguments (what saved_data
// can hold).
Unit& unit_of(AutogradContext* ctx) {
  auto* f = reinterpret_cast<Fsdp*>(ctx->saved_data["fsdp"].toInt());
  return f->units()[static_cast<size_t>(ctx->saved_data["unit"].toInt())];
}

// Forward: returns the unit's unsharded parameters (gathered by Fsdp::gather); backward:
// reduce-scatters their gradients into the shard's gradient and frees the unsharded parameters.
struct GatherUnit : public torch::autograd::Function<GatherUnit> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& shard, int64_t fsdp, int64_t unit) {
    (void)shard;
    ctx->saved_data["fsdp"] = fsdp;
    ctx->saved_data["unit"] = unit;
    Unit& u = unit_of(ctx);
    variable_list out;
    for (const at::Tensor& f : u.full) {
      // A new tensor on the same storage: freeing / refilling that storage reaches the copies
      // autograd saved, and writing into it never bumps these tensors' version counters.
      out.push_back(at::empty({0}, f.options()).set_(f.storage(), 0, f.sizes(), f.strides()));
    }
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* f = reinterpret_cast<Fsdp*>(ctx->saved_data["fsdp"].toInt());
    Unit& u = unit_of(ctx);
    at::Tensor g = f->reduce_grads(u, grads);
    f->free_unsharded(u);
    return {g, at::Tensor(), at::Tensor()};
  }
};

// dp = 1: the unit's parameters are slices of its flat shard (of a copy of it cast to the param
// dtype when that differs from the master dtype: the cast is the gather). Taken with narrow(), each slice's
// gradient goes through SliceBackward, which allocates a zeroed tensor of the whole unit, and
// autograd then sums one such tensor per parameter: measured with `perf record` on llama-tiny
// dp=1 tp=1, slice_backward and those sums were 20% of a step. Here the forward hands out tensors
// on the shard's storage and the backward writes each gradient into its place in one flat
// gradient, once (what FSDP's flat parameter does with its views).
struct SplitUnit : public torch::autograd::Function<SplitUnit> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& shard, int64_t fsdp, int64_t unit) {
    ctx->saved_data["fsdp"] = fsdp;
    ctx->saved_data["unit"] = unit;
    const Unit& u = unit_of(ctx);
    const at::ScalarType param_dtype = reinterpret_cast<Fsdp*>(fsdp)->options().param_dtype;
    // bf16-mixed: one unit-sized param-dtype copy, alive while its views are (until the unit's backward).
    const at::Tensor src = shard.scalar_type() == param_dtype ? shard : shard.to(param_dtype);
    variable_list out;
    for (const auto& p : u.params)
      out.push_back(at::empty({0}, src.options())
                        .set_(src.storage(), src.storage_offset() + p.offset, {p.local.rows, p.local.cols},
                              {p.local.cols, 1}));
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Unit& u = unit_of(ctx);
    int64_t covered = 0;
    for (size_t i = 0; i < u.params.size(); ++i)
      if (grads[i].defined()) covered += u.params[i].local.rows * u.params[i].local.cols;
    const auto o = u.shard.options();  // the master dtype: copy_ casts each gradient into it
    at::Tensor g = covered == u.shard_numel ? at::empty({u.shard_numel}, o) : at::zeros({u.shard_numel}, o);
    for (size_t i = 0; i < u.params.size(); ++i) {
      if (!grads[i].defined()) continue;
      const auto& p = u.params[i];
      g.narrow(0, p.offset, p.local.rows * p.local.cols).view({p.local.rows, p.local.cols}).copy_(grads[i]);
    }
    return {g, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::vector<std::string> Unit::names_in_unit() const {
  std::vector<std::string> names;
  for (const auto& p : params) names.push_back(p.name_in_unit);
  return names;
}

std::vector<Unit> build_units(const ModelSpec& model, int64_t dp, int64_t tp) {
  std::vector<Unit> units;
  const auto plan = default_tp_plan(model.kind);
  auto add_param = [&](Unit& u, const TensorSpec& t, const std::string& name, const std::string& name_in_unit) {
    ParamInfo p;
    p.name = name;
    p.name_in_unit = name_in_unit;
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
    for (const auto& t : tensors) add_param(u, t, t.module, t.module);
    units.push_back(std::move(u));
  } else {
    Unit root;
    root.name = "root";
    for (const auto& t : tensors)
      if (!t.per_layer) add_param(root, t, t.module, t.module);
    units.push_back(std::move(root));
    const std::string layer_prefix = "layers.*.";
    for (int64_t l = 0; l < model.n_layers; ++l) {
      Unit u;
      u.name = "layers." + std::to_string(l);
      for (const auto& t : tensors) {
        if (!t.per_layer) continue;
        PLANNER_CHECK(t.module.compare(0, layer_prefix.size(), layer_prefix) == 0,
                      "per-layer parameter '" << t.module << "' outside " << layer_prefix);
        std::string name = t.module;
        name.replace(name.find('*'), 1, std::to_string(l));
        add_param(u, t, name, t.module.substr(layer_prefix.size()));
      }
      units.push_back(std::move(u));
    }
  }
  return units;
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

Fsdp::Fsdp(std::vector<Unit> units, int64_t dp, Comm* dp_comm, const FsdpOptions& opts)
    : units_(std::move(units)), dp_(dp), dp_comm_(dp_comm), opts_(opts) {}

void set_precision(Precision precision, ReduceDtype reduce, FsdpOptions* o) {
  TrainingSpec t;
  t.precision = precision;
  t.reduce_dtype = reduce;
  const PrecisionBytes b = precision_bytes(t);
  auto dtype = [](int bytes) { return bytes == 2 ? at::kBFloat16 : at::kFloat; };
  o->master_dtype = dtype(b.master_param);
  o->param_dtype = dtype(b.compute);
  o->reduce_dtype = dtype(b.reduce);
}

void Fsdp::init_shards(const Mesh& mesh, const std::function<at::Tensor(const ParamInfo&)>& full_of) {
  at::NoGradGuard ng;
  for (auto& u : units_) {
    at::Tensor host = at::zeros({u.shard_numel}, at::kFloat);
    for (const auto& p : u.params) {
      at::Tensor full = full_of(p);
      copy_rank_slice(full, p, mesh, host);
    }
    // Drawn in fp32 (the same values for every precision), kept in the master dtype.
    u.shard = host.to(on_device(opts_.master_dtype));
    u.shard.requires_grad_(true);
    if (dp_ > 1) {
      for (const auto& p : u.params) u.full.push_back(at::empty({p.local.rows, p.local.cols}, on_device(opts_.param_dtype)));
      free_unsharded(u);
    }
  }
}

std::vector<at::Tensor> Fsdp::params(int unit) {
  Unit& u = units_[static_cast<size_t>(unit)];
  if (dp_ == 1) return SplitUnit::apply(u.shard, reinterpret_cast<int64_t>(this), static_cast<int64_t>(unit));
  gather(u);
  return GatherUnit::apply(u.shard, reinterpret_cast<int64_t>(this), static_cast<int64_t>(unit));
}

void Fsdp::after_forward(int unit, const at::Tensor& out, int prefetch_in_backward) {
  if (opts_.reshard_after_forward) free_unsharded(units_[static_cast<size_t>(unit)]);
  if (dp_ > 1 && opts_.reshard_after_forward && out.requires_grad()) {
    out.register_hook([this, unit, prefetch_in_backward](const at::Tensor&) {
      gather(units_[static_cast<size_t>(unit)]);
      if (prefetch_in_backward >= 0) prefetch(units_[static_cast<size_t>(prefetch_in_backward)]);
    });
  }
}

void Fsdp::free_unsharded(Unit& u) {
  if (dp_ == 1) return;
  for (auto& f : u.full) {
    auto* impl = f.storage().unsafeGetStorageImpl();
    impl->set_data_ptr_noswap(at::DataPtr(nullptr, f.device()));
    impl->set_nbytes(0);
  }
  u.gathered = false;
}

void Fsdp::prefetch(Unit& u) {
  if (dp_ == 1 || u.gathered || u.pending || !opts_.prefetch) return;
  u.gather_buffer = at::empty({dp_ * u.shard_numel}, on_device(opts_.param_dtype));
  u.pending = dp_comm_->all_gather_async(gather_input(u), u.gather_buffer);
}

at::Tensor Fsdp::gather_input(const Unit& u) const {
  // FSDP2 casts the shard to the param dtype before the all-gather (half the bytes under
  // bf16-mixed); the cast copy lives until the all-gather is waited for.
  const at::Tensor s = u.shard.detach();
  return s.scalar_type() == opts_.param_dtype ? s : s.to(opts_.param_dtype);
}

void Fsdp::gather(Unit& u) {
  if (dp_ == 1 || u.gathered) return;
  if (u.pending) {
    u.pending->wait();
    u.pending.reset();
  } else if (!u.landed) {
    u.gather_buffer = at::empty({dp_ * u.shard_numel}, on_device(opts_.param_dtype));
    dp_comm_->all_gather(gather_input(u), u.gather_buffer);
  }
  at::NoGradGuard ng;
  for (size_t i = 0; i < u.params.size(); ++i) {
    const auto& p = u.params[i];
    auto* impl = u.full[i].storage().unsafeGetStorageImpl();
    const size_t nbytes = static_cast<size_t>(p.local.rows * p.local.cols) * at::elementSize(opts_.param_dtype);
    impl->set_data_ptr_noswap(impl->allocator()->allocate(nbytes));
    impl->set_nbytes(nbytes);
    at::Tensor dst = at::from_blob(u.full[i].data_ptr(), {p.local.rows, p.local.cols}, on_device(opts_.param_dtype));
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

at::Tensor Fsdp::reduce_grads(Unit& u, const std::vector<at::Tensor>& grads_in) {
  at::NoGradGuard ng;
  std::vector<at::Tensor> grads(u.params.size());
  for (size_t i = 0; i < u.params.size(); ++i)
    grads[i] = grads_in[i].defined()
                   ? grads_in[i]
                   : at::zeros({u.params[i].local.rows, u.params[i].local.cols}, on_device(opts_.param_dtype));
  if (opts_.grad_sync == GradSync::last_micro_batch && !last_micro_batch_) {
    // Accumulated in the reduce dtype, as FSDP2 does when it differs from the param dtype.
    if (u.accumulated_grads.empty())
      for (auto& g : grads) u.accumulated_grads.push_back(g.to(opts_.reduce_dtype, false, /*copy=*/true));
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
  if (dp_comm_->backend() == "gloo")
    for (auto& o : units_)
      if (o.pending) {
        o.pending->wait();
        o.pending.reset();
        o.landed = true;
      }
  // The send buffer in the reduce dtype: copying the param-dtype gradients in casts them.
  at::Tensor buf = at::zeros({dp_ * u.shard_numel}, on_device(opts_.reduce_dtype));
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
  at::Tensor out = at::empty({u.shard_numel}, on_device(opts_.reduce_dtype));
  dp_comm_->reduce_scatter(buf, out, ReduceKind::avg);
  buf = at::Tensor();
  return out.scalar_type() == opts_.master_dtype ? out : out.to(opts_.master_dtype);
}

void Fsdp::reshard_all() {
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

}  // namespace planner::executor
