#include "executor/parallelize.h"

#include <torch/torch.h>

#include "core/error.h"
#include "executor/tp_ops.h"

namespace planner::executor {

namespace {

// The TP plan at the model's hook points. default_tp_plan() makes wq wk wv w1 w3 and the output
// head colwise and wo w2 rowwise (the parameters are sliced so by build_units); here each
// colwise region's input goes through Megatron's f and each rowwise output through g, or under
// sequence parallel through the all-gather / reduce-scatter along the sequence. Selective
// checkpointing swaps in the functions that recompute the norm and SwiGLU outputs in backward.
class TpHooks final : public PlanHooks {
 public:
  TpHooks(Comm* tp, bool sp, ActivationCheckpointing ac) : tp_(tp), sp_(sp), ac_(ac) {}

  std::vector<at::Tensor> norm_linears(const at::Tensor& x, const at::Tensor& norm_w, const std::vector<at::Tensor>& ws,
                                       double eps) const override {
    // Under SP each TP rank sees only its tokens, so the (replicated) norm weight's gradient is
    // partial: the f operator on the weight all-reduces it over the TP group in backward.
    at::Tensor w = sp_ ? copy_to_tp(norm_w, tp_) : norm_w;
    if (ac_ == ActivationCheckpointing::selective) return norm_linears_recomputed(x, w, ws, eps, tp_, sp_);
    at::Tensor xn = rms_norm(x, w, eps);
    xn = sp_ ? gather_seq(xn, tp_) : copy_to_tp(xn, tp_);
    std::vector<at::Tensor> out;
    for (const auto& W : ws) out.push_back(mm_t(xn, W));
    return out;
  }

  at::Tensor column_input(const at::Tensor& x) const override { return sp_ ? gather_seq(x, tp_) : copy_to_tp(x, tp_); }

  at::Tensor swiglu_w2(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w2) const override {
    if (ac_ == ActivationCheckpointing::selective) return swiglu_w2_recomputed(a, b, w2);
    return executor::swiglu_w2(a, b, w2);
  }

  at::Tensor row_output(const at::Tensor& y) const override { return sp_ ? scatter_seq(y, tp_) : reduce_from_tp(y, tp_); }

 private:
  Comm* tp_;
  bool sp_;
  ActivationCheckpointing ac_;
};

// The units, after the plan is checked against the model (an InputError naming `--tp` rather
// than build_units' internal check).
std::vector<Unit> checked_units(const ModelSpec& model, int64_t dp, int64_t tp) {
  check_tp_divides(model, tp, "--tp");
  return build_units(model, dp, tp);
}

FsdpOptions fsdp_options(const ExecOptions& o) {
  FsdpOptions f;
  f.reshard_after_forward = o.reshard_after_forward;
  f.grad_sync = o.grad_sync;
  f.prefetch = o.prefetch;
  f.device = o.device;
  set_precision(o.precision, o.reduce_dtype, &f);
  return f;
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

ShardedModel::ShardedModel(const ModelSpec& model, int64_t dp, int64_t tp, const Mesh& mesh, Comms* comms,
                           const ExecOptions& opts, uint64_t seed)
    : model_(model),
      dp_(dp),
      tp_(tp),
      mesh_(mesh),
      comms_(comms),
      opts_(opts),
      fsdp_(checked_units(model, dp, tp), dp, comms->dp.get(), fsdp_options(opts)),
      hooks_(std::make_unique<TpHooks>(comms->tp.get(), opts.sequence_parallel && tp > 1, opts.ac)) {
  // Every block unit holds the same parameters in the same order: bind them once, by name
  // (llama: units[0] is the root, units[1] the first block).
  const auto& units = fsdp_.units();
  const size_t first_block = model.kind == ModelKind::llama ? 1 : 0;
  if (first_block < units.size()) block_weights_ = BlockWeightIndex(block_ops(model), units[first_block].names_in_unit());
  // The full tensor from (seed, name), then this rank's TP slice, then its FSDP rows.
  fsdp_.init_shards(mesh, [seed](const ParamInfo& p) {
    return initial_parameter(p.name, p.type, p.full_rows, p.full_cols, seed);
  });
}

ShardedModel::~ShardedModel() = default;

at::Tensor ShardedModel::forward_loss(const Batch& batch) {
  Comm* tp = comms_->tp.get();
  if (model_.kind == ModelKind::feedforward) {
    auto p = fsdp_.params(0);
    // Under SP every TP rank holds rows [r * S/tp, (r+1) * S/tp) of each sequence.
    // The input is cast to the param dtype (FSDP2's cast_forward_inputs); the loss is fp32.
    at::Tensor input = batch.input.to(compute().dtype()), target = batch.target;
    if (sp()) {
      const int64_t s_local = input.size(1) / tp_;
      input = input.narrow(1, mesh_.tp_index() * s_local, s_local);
      target = target.narrow(1, mesh_.tp_index() * s_local, s_local);
    }
    at::Tensor y;
    full_ac_.clear();
    if (opts_.ac == ActivationCheckpointing::full) {
      y = full_ac_.run(
          [this](const at::Tensor& x, const std::vector<at::Tensor>& ps) {
            return feed_forward(x, block_weights_.bind(ps), *hooks_);
          },
          input, p);
    } else {
      y = feed_forward(input, block_weights_.bind(p), *hooks_);
    }
    fsdp_.after_forward(0, y, /*prefetch_in_backward=*/-1);
    if (sp()) {
      // Sum of this rank's squared errors, all-reduced (identity backward) over the TP group,
      // divided by the full micro-batch's element count: the same mean on every TP rank.
      return reduce_from_tp((y.to(at::kFloat) - target).pow(2).sum(), tp) / static_cast<double>(batch.target.numel());
    }
    return (y.to(at::kFloat) - target).pow(2).mean();
  }
  // Llama.
  const int64_t S = batch.input.size(1);
  rope_.ensure(model_, S, compute());
  const int n_blocks = static_cast<int>(model_.n_layers);
  auto root_params = fsdp_.params(0);
  const RootWeights root = bind_root_weights(model_, fsdp_.units()[0].names_in_unit(), root_params);
  if (n_blocks > 0) fsdp_.prefetch(1);
  // Vocab-sharded embedding: this rank looks up the tokens in its vocab range and writes zeros
  // for the others; the partial sums over the shards are a row output (all-reduce, or under SP
  // a reduce-scatter into sequence shards).
  const int64_t vocab_rows = root.tok_embeddings.size(0);
  const int64_t vocab_start = mesh_.tp_index() * vocab_rows;
  at::Tensor local = batch.input - vocab_start;
  at::Tensor outside = local.lt(0).logical_or(local.ge(vocab_rows));
  at::Tensor h = at::embedding(root.tok_embeddings, local.masked_fill(outside, 0)).masked_fill(outside.unsqueeze(-1), 0.0);
  h = hooks_->row_output(h);
  full_ac_.clear();
  for (int i = 1; i <= n_blocks; ++i) {
    auto p = fsdp_.params(i);
    if (i + 1 <= n_blocks) fsdp_.prefetch(i + 1);
    at::Tensor out;
    if (opts_.ac == ActivationCheckpointing::full) {
      out = full_ac_.run(
          [this](const at::Tensor& x, const std::vector<at::Tensor>& ps) {
            return llama_block(model_, x, block_weights_.bind(ps), rope_, *hooks_);
          },
          h, p);
    } else {
      out = llama_block(model_, h, block_weights_.bind(p), rope_, *hooks_);
    }
    // The root unit stays gathered until the end of backward: nothing to prefetch before block 1.
    fsdp_.after_forward(i, out, /*prefetch_in_backward=*/i - 1 >= 1 ? i - 1 : -1);
    h = out;
  }
  // Final norm (under SP all-gathered along the sequence), then the vocab-parallel output head;
  // the loss upcasts the logits to fp32 (torchtitan's pred.float()).
  at::Tensor logits = hooks_->norm_linears(h, root.norm, {root.output}, model_.norm_eps)[0];  // (B, S, V/tp)
  const int64_t v_local = logits.size(-1);
  return vocab_parallel_cross_entropy(logits.reshape({-1, v_local}), batch.target.reshape({-1}), tp, vocab_start);
}

std::map<std::string, at::Tensor> ShardedModel::full_parameters() {
  at::NoGradGuard ng;
  std::map<std::string, at::Tensor> out;
  for (auto& u : fsdp_.units()) {
    at::Tensor all = u.shard.detach();
    const auto master = all.options();
    if (dp_ > 1) {
      all = at::empty({dp_ * u.shard_numel}, master);
      comms_->dp->all_gather(u.shard.detach(), all);
    }
    for (const auto& p : u.params) {
      at::Tensor local = at::zeros({p.local.rows, p.local.cols}, master);
      for (int64_t r = 0; r < dp_; ++r) {
        const int64_t r0 = r * p.shard_rows;
        const int64_t rows = std::min(p.shard_rows, p.local.rows - r0);
        if (rows <= 0) break;
        local.narrow(0, r0, rows).copy_(all.narrow(0, r * u.shard_numel + p.offset, rows * p.local.cols).view({rows, p.local.cols}));
      }
      at::Tensor full = local;
      if (p.tp_dim >= 0) {
        at::Tensor g = at::empty({tp_ * local.numel()}, master);
        comms_->tp->all_gather(local.reshape({-1}), g);
        std::vector<at::Tensor> parts;
        for (int64_t t = 0; t < tp_; ++t) parts.push_back(g.narrow(0, t * local.numel(), local.numel()).view(local.sizes()));
        full = at::cat(parts, p.tp_dim);
      }
      out[p.name] = full.to(at::kFloat).cpu();
    }
  }
  return out;
}

}  // namespace planner::executor
