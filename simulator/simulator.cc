#include "simulator/simulator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/units.h"
#include "simulator/collectives.h"
#include "simulator/compute.h"

namespace planner {

std::string to_string(Limit l) {
  switch (l) {
    case Limit::none: return "none";
    case Limit::tp_divisibility: return "tp_divisibility";
    case Limit::sp_divisibility: return "sp_divisibility";
    case Limit::batch_divisibility: return "batch_divisibility";
    case Limit::world_size: return "world_size";
    case Limit::memory: return "memory";
    case Limit::backend: return "backend";
  }
  return "?";
}

Simulator::Simulator(ModelSpec model, TrainingSpec training, ClusterSpec cluster)
    : model_(std::move(model)),
      training_(training),
      cluster_(std::move(cluster)),
      tp_plan_(default_tp_plan(model_.kind)),
      kernels_(cluster_.device.kind == "cpu" ? KernelFlavor::composed : KernelFlavor::fused) {
  validate_model(model_, model_.name);
  PLANNER_CHECK(training_.seq_len >= 1 && training_.global_batch >= 1, "bad training spec");
}

double Simulator::model_flops_per_token() const {
  const double n = static_cast<double>(matmul_parameter_count(model_));
  double attn = 0;
  if (model_.kind == ModelKind::llama)
    attn = 12.0 * model_.n_layers * static_cast<double>(model_.q_dim()) * static_cast<double>(training_.seq_len);
  return 6.0 * n + attn;
}

const Simulator::TpShapes& Simulator::shapes(int64_t tp) const {
  for (const auto& e : shape_cache_)
    if (e.first == tp) return e.second;
  TpShapes s;
  if (model_.kind == ModelKind::llama) {
    if (model_.n_heads % tp != 0) {
      s.ok = false;
      s.why = "tp(" + std::to_string(tp) + ") does not divide num_attention_heads (" + std::to_string(model_.n_heads) + ")";
    } else if (model_.n_kv_heads % tp != 0) {
      s.ok = false;
      s.why = "tp(" + std::to_string(tp) + ") does not divide num_key_value_heads (" + std::to_string(model_.n_kv_heads) + ")";
    }
  }
  for (const auto& t : parameter_tensors(model_)) {
    LocalShape ls;
    std::string why;
    if (!tp_local_shape(t, tp_style_for(tp_plan_, t.module), tp, &ls, &why)) {
      if (s.ok) {
        s.ok = false;
        s.why = why;
      }
      ls = {t.rows, t.cols};
    }
    s.tensors.push_back({ls.rows, ls.cols, t.count, t.per_layer});
    const double numel = static_cast<double>(ls.rows) * static_cast<double>(ls.cols);
    if (t.per_layer)
      s.block_local_numel += numel;
    else
      s.root_local_numel += numel;
  }
  shape_cache_.emplace_back(tp, std::move(s));
  return shape_cache_.back().second;
}

namespace {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Saved-for-backward tensors of one block, bytes per token of the micro-batch (docs/cost-model.md,
// "Activations"). `selective_keep`: kept under selective checkpointing (matmul and attention
// outputs, and the residual stream needed to recompute the norms).
struct ActItem {
  const char* name;
  double bytes_per_token;
  bool selective_keep;
};
constexpr int kMaxActItems = 20;
struct ActTable {
  std::array<ActItem, kMaxActItems> items;
  int n = 0;
  void add(const char* name, double b, bool sel) { items[n++] = {name, b, sel}; }
};

struct Dims {
  double c;      // bytes per element of compute (activations, gathered params)
  double h, q, kv, f, heads;  // per rank after TP
  double hs;     // residual-stream width per token on this rank: h / tp under SP, else h
  double s;      // sequence length
  bool sp;
};

// Norms: fused (torch.compile) saves the input and rstd; eager RMSNorm (torchtitan's
// x.float() * rsqrt(mean(x^2) + eps), then .type_as(x) * weight) saves the fp32 input, rstd and
// the normalized tensor in the compute dtype.
ActTable block_activations(const ModelSpec& m, const Dims& d, KernelFlavor k, bool fused_norms) {
  ActTable t;
  const double c = d.c;
  const double sp_div = d.h / d.hs;  // tp under SP, else 1
  if (m.kind == ModelKind::feedforward) {
    t.add("x (w1/w3 input)", c * d.h, true);
    t.add("w1 out (silu input)", c * d.f, true);
    t.add("w3 out", c * d.f, true);
    t.add("silu out", c * d.f, false);
    t.add("silu*w3 (w2 input)", c * d.f, false);
    return t;
  }
  const bool fused = k == KernelFlavor::fused;
  if (fused_norms) {
    t.add("attention_norm input (residual)", c * d.hs, true);
  } else {
    t.add("attention_norm input (fp32 copy, eager)", 4.0 * d.hs, true);
  }
  t.add("attention_norm rstd", 4.0 / sp_div, true);
  if (!fused_norms) t.add("attention_norm x*rstd (eager)", c * d.hs, false);
  t.add(d.sp ? "wq/wk/wv input (norm out, all-gathered)" : "wq/wk/wv input (norm out)", c * d.h, false);
  t.add("q (rotated)", c * d.q, true);
  // GQA's k/v are expanded to every head before attention, composed or fused (torchtitan's
  // repeat_kv before SDPA, as the executor does): attention saves the expanded copies. Measured on
  // an H200 (docs/calibration.md, "GPU"): counting the unexpanded ones put a 32/8-head model's peak
  // 2.5% low.
  t.add("k (rotated, expanded to all heads)", c * d.q, true);
  t.add("v (expanded to all heads)", c * d.q, true);
  if (fused) {
    t.add("attention logsumexp", 4.0 * d.heads, true);
  } else {
    t.add("attention probabilities (softmax out)", c * d.heads * d.s, true);
  }
  t.add("attention out (wo input)", c * d.q, true);
  if (fused_norms) {
    t.add("ffn_norm input (residual)", c * d.hs, true);
  } else {
    t.add("ffn_norm input (fp32 copy, eager)", 4.0 * d.hs, true);
  }
  t.add("ffn_norm rstd", 4.0 / sp_div, true);
  if (!fused_norms) t.add("ffn_norm x*rstd (eager)", c * d.hs, false);
  t.add(d.sp ? "w1/w3 input (norm out, all-gathered)" : "w1/w3 input (norm out)", c * d.h, false);
  t.add("w1 out (silu input)", c * d.f, true);
  t.add("w3 out", c * d.f, true);
  t.add("silu out", c * d.f, false);
  t.add("silu*w3 (w2 input)", c * d.f, false);
  return t;
}

// Per micro-batch, per rank.
struct UnitTimes {
  double fwd_s = 0, bwd_s = 0, recompute_s = 0;  // compute math (TP comm excluded)
  double fwd_tp_s = 0, bwd_tp_s = 0, recompute_tp_s = 0;
};

struct StepTimes {
  double step_s = 0, fwd_s = 0, bwd_s = 0, recompute_s = 0, tp_s = 0, ag_s = 0, rs_s = 0, exposed_s = 0;
};

// The comm stream: one queue, collectives in issue order (docs/cost-model.md, "Timeline").
struct CommStream {
  double free_at = 0;
  double issue(double ready_s, double duration_s) {
    const double start = std::max(free_at, ready_s);
    free_at = start + duration_s;
    return free_at;
  }
};

}  // namespace

Candidate Simulator::evaluate(const Plan& plan, bool explain) const { return evaluate_impl(plan, nullptr, explain); }

// GEMM times depend only on (tp, tokens per micro-batch): the search varies the other knobs
// fastest, so one cached entry serves most evaluations.
const Simulator::GemmTimes& Simulator::gemm_times(int64_t tp, int64_t T, int cb) const {
  GemmTimes& g = gemm_cache_;
  if (g.tp == tp && g.tokens == T && g.bytes_per_elt == cb) return g;
  g = GemmTimes{};
  g.tp = tp;
  g.tokens = T;
  g.bytes_per_elt = cb;
  const ClusterSpec& cl = cluster_;
  const int64_t h = model_.dim, fl = model_.ffn_hidden / tp;
  if (model_.kind == ModelKind::llama) {
    const int64_t ql = model_.q_dim() / tp, kvl = model_.kv_dim() / tp;
    const int64_t outs[7] = {ql, kvl, kvl, h, fl, fl, h};  // wq wk wv wo w1 w3 w2
    const int64_t ins[7] = {h, h, h, ql, h, h, fl};
    for (int i = 0; i < 7; ++i) {
      g.block_fwd_s += linear_forward_seconds(cl, T, outs[i], ins[i], cb);
      g.block_bwd_s += linear_backward_seconds(cl, T, outs[i], ins[i], cb, true);
    }
    const int64_t vl = model_.vocab_size / tp;
    g.head_fwd_s = linear_forward_seconds(cl, T, vl, h, cb);
    g.head_bwd_s = linear_backward_seconds(cl, T, vl, h, cb, true);
  } else {
    // x is the data: w1 and w3 need no dgrad.
    g.block_fwd_s = 2.0 * linear_forward_seconds(cl, T, fl, h, cb) + linear_forward_seconds(cl, T, h, fl, cb);
    g.block_bwd_s = 2.0 * linear_backward_seconds(cl, T, fl, h, cb, false) + linear_backward_seconds(cl, T, h, fl, cb, true);
  }
  return g;
}

Candidate Simulator::evaluate_impl(const Plan& plan, std::vector<TraceEvent>* trace, bool explain) const {
  Candidate cand;
  cand.plan = plan;
  const int64_t dp = plan.dp, tp = plan.tp;
  PLANNER_CHECK(dp >= 1 && tp >= 1 && plan.micro_batch >= 1, plan_label(plan));
  char buf[512];

  if (dp * tp != cluster_.world()) {
    cand.limit = Limit::world_size;
    std::snprintf(buf, sizeof buf, "dp(%lld) * tp(%lld) = %lld != world size %lld", (long long)dp, (long long)tp,
                  (long long)(dp * tp), (long long)cluster_.world());
    cand.reason = buf;
    return cand;
  }
  if (cluster_.backend == "gloo" && training_.precision != Precision::fp32) {
    cand.limit = Limit::backend;
    cand.reason = "the Gloo backend has no bfloat16: precision must be fp32 (got " + to_string(training_.precision) + ")";
    return cand;
  }
  const TpShapes& sh = shapes(tp);
  if (!sh.ok) {
    cand.limit = Limit::tp_divisibility;
    cand.reason = sh.why;
    return cand;
  }
  const int64_t s = training_.seq_len;
  if (plan.sequence_parallel && s % tp != 0) {
    cand.limit = Limit::sp_divisibility;
    std::snprintf(buf, sizeof buf, "sequence parallel: tp(%lld) does not divide seq_len (%lld)", (long long)tp, (long long)s);
    cand.reason = buf;
    return cand;
  }
  if (training_.global_batch % (dp * plan.micro_batch) != 0) {
    cand.limit = Limit::batch_divisibility;
    std::snprintf(buf, sizeof buf, "global_batch %lld is not divisible by dp(%lld) * micro_batch(%lld) = %lld",
                  (long long)training_.global_batch, (long long)dp, (long long)plan.micro_batch,
                  (long long)(dp * plan.micro_batch));
    cand.reason = buf;
    return cand;
  }

  const ClusterSpec& cl = cluster_;
  const PrecisionBytes pb = precision_bytes(training_.precision);
  const int cb = pb.compute;
  const double c = cb;
  const bool llama = model_.kind == ModelKind::llama;
  const int64_t L = model_.n_layers;
  const int64_t T = plan.micro_batch * s;  // tokens per micro-batch on this rank
  const double Td = static_cast<double>(T);
  const int64_t ga = plan.grad_accum(training_);
  const bool sp = plan.sequence_parallel && tp > 1;

  Dims d;
  d.c = c;
  d.h = static_cast<double>(model_.dim);
  d.q = llama ? static_cast<double>(model_.q_dim()) / tp : 0;
  d.kv = llama ? static_cast<double>(model_.kv_dim()) / tp : 0;
  d.f = static_cast<double>(model_.ffn_hidden) / tp;
  d.heads = llama ? static_cast<double>(model_.n_heads) / tp : 0;
  d.hs = sp ? d.h / tp : d.h;
  d.s = static_cast<double>(s);
  d.sp = sp;

  // ---------------- FSDP shard sizes ----------------
  double shard_numel = 0, block_shard_numel = 0, root_shard_numel = 0;
  for (const auto& t : sh.tensors) {
    const double n = static_cast<double>(ceil_div(t.local_rows, dp) * t.local_cols);
    shard_numel += n * t.count;
    if (t.per_layer)
      block_shard_numel += n;
    else
      root_shard_numel += n;
  }
  const double block_unit_numel = block_shard_numel * dp;  // gathered (padded) size of one unit
  const double root_unit_numel = root_shard_numel * dp;
  const bool has_root = root_unit_numel > 0;

  // ---------------- Memory (docs/cost-model.md, "Memory") ----------------
  MemoryBreakdown& mem = cand.prediction.memory;
  mem.master_params_bytes = shard_numel * pb.master_param;
  mem.grads_bytes = shard_numel * pb.grad;
  mem.optimizer_bytes = 2.0 * shard_numel * pb.optimizer_state;
  const double block_bytes_c = block_unit_numel * c;
  const double root_bytes_c = root_unit_numel * c;
  const double blocks_alive = plan.reshard_after_forward ? static_cast<double>(std::min<int64_t>(L, 2)) : static_cast<double>(L);
  mem.gathered_params_bytes = root_bytes_c + blocks_alive * block_bytes_c;
  const bool accumulate_unsharded = plan.grad_sync == GradSync::last_micro_batch && ga > 1;
  if (accumulate_unsharded)
    mem.unsharded_grads_bytes = (L * block_unit_numel + root_unit_numel) * pb.reduce + block_bytes_c;
  else
    mem.unsharded_grads_bytes = root_bytes_c + block_bytes_c;
  const bool staged_reduce = training_.precision == Precision::bf16_mixed || cl.backend == "gloo";
  mem.comm_buffers_bytes = staged_reduce ? block_unit_numel * pb.reduce : 0.0;

  const ActTable acts = block_activations(model_, d, kernels_, training_.compiled);
  double kept_per_token = 0, recomputed_per_token = 0;
  for (int i = 0; i < acts.n; ++i) {
    const auto& it = acts.items[i];
    const bool kept = plan.ac == ActivationCheckpointing::none ||
                      (plan.ac == ActivationCheckpointing::selective && it.selective_keep);
    if (kept)
      kept_per_token += it.bytes_per_token;
    else
      recomputed_per_token += it.bytes_per_token;
  }
  // Full checkpointing keeps only each block's input (the residual stream, or the FeedForward's x).
  if (plan.ac == ActivationCheckpointing::full) kept_per_token = c * (llama ? d.hs : d.h);
  // Backward of one block holds its recomputed tensors on top of everything kept.
  mem.activations_bytes = Td * (L * kept_per_token + recomputed_per_token);
  if (llama) {
    const double v = static_cast<double>(model_.vocab_size) / tp;
    const double logit_bytes = c + (cb < 4 ? 4.0 : 0.0) + 4.0 + 4.0;  // logits, fp32 copy, softmax, grad
    const double norm_saved = training_.compiled ? c * d.hs + 4.0 / (d.h / d.hs) : 4.0 * d.hs + c * d.hs + 4.0 / (d.h / d.hs);
    mem.logits_bytes = Td * (v * logit_bytes + norm_saved + c * d.h);
  } else {
    mem.logits_bytes = Td * 3.0 * c * d.h;  // output, target, (output - target) saved by the MSE loss
  }
  mem.peak_allocated_bytes = mem.master_params_bytes + mem.grads_bytes + mem.optimizer_bytes +
                             mem.gathered_params_bytes + mem.unsharded_grads_bytes + mem.activations_bytes +
                             mem.logits_bytes + mem.comm_buffers_bytes;
  mem.allocator_reserve_bytes = mem.peak_allocated_bytes * cl.allocator_fragmentation;
  mem.runtime_reserved_bytes = cl.runtime_reserved_bytes;
  mem.capacity_bytes = cl.device.memory_bytes;
  if (kernels_ == KernelFlavor::composed || training_.executor) {
    // The executor (executor/model.cc, on CPU/Gloo or GPU/NCCL) frees and allocates at known
    // points, so its peak is the largest of a few instants (docs/cost-model.md, "Memory of the
    // executor"), not a sum of every line's maximum. Other runs (torchtitan/FSDP2) keep the sum. Shards: params P, grads G (absent until a unit's first reduce when
    // there is one micro-batch), AdamW states. dp > 1: a unit is gathered into a buffer, copied
    // into its full params, its grads copied into a zeroed buffer whose Gloo reduce-scatter
    // (all_to_all) receives into another unit-sized buffer. dp = 1: the params live on the flat
    // shard; a unit's param grads wait until the last of them is computed, then are copied into
    // one unit-sized flat gradient (SplitUnit in executor/model.cc).
    const double P = mem.master_params_bytes, adam = mem.optimizer_bytes, G_full = mem.grads_bytes;
    const double G_first = ga > 1 ? G_full : 0.0;  // shard grads alive during backward
    const double R = root_unit_numel * c, Bk = block_unit_numel * c;
    const double shard_R = root_shard_numel * pb.grad, shard_B = block_shard_numel * pb.grad;
    const double A = Td * kept_per_token;    // one block's saved tensors
    const double x_bytes = Td * c * d.h;     // one residual-stream tensor
    const double Ld = static_cast<double>(L);
    const bool fsdp = dp > 1;
    const bool reshard = plan.reshard_after_forward;
    const double acc = accumulate_unsharded ? (Ld * Bk + R) : 0.0;  // grad_sync=last accumulators
    // A reduce's buffers besides its output shard: the zeroed send buffer, and on Gloo the
    // all_to_all receive buffer of the emulated reduce-scatter (NCCL reduces in place).
    const double reduce_bufs = cl.backend == "gloo" ? 2.0 : 1.0;
    struct Instant {
      double grads, gathered, unsharded, activations, logits, comm, opt_extra;
      const char* name;
    };
    struct Instants {  // fixed storage: evaluate() must not allocate
      std::array<Instant, 8> v;
      int n = 0;
      void push_back(const Instant& i) { v[n++] = i; }
      const Instant* begin() const { return v.data(); }
      const Instant* end() const { return v.data() + n; }
    } at;
    if (llama) {
      const double vl = static_cast<double>(model_.vocab_size) / tp;
      const double logit = Td * vl * 4.0;                  // one fp32 (T, V/tp) tensor
      const double head_w = vl * d.h * c;                  // output weight (its grad)
      const double norm_saved = 3.0 * x_bytes + 4.0 * Td;  // final norm: input, rstd, x*rstd, output
      // Forward end: logits, logits - max and exp alive at once.
      const double fwd_tail = norm_saved + 3.0 * logit;
      // Loss backward: saved softmax + its gradient; then the head's matmul backward: logits grad,
      // hidden grad and the output weight's grad.
      const double bwd_tail = norm_saved + std::max(2.0 * logit, logit + x_bytes);
      const double gathered_fwd = fsdp ? R + (reshard ? 0.0 : Ld * Bk) : 0.0;
      at.push_back({G_first, gathered_fwd, acc, Ld * A, fwd_tail, 0, 0, "forward end"});
      if (fsdp) {
        // Head backward: the output weight's grad waits for the root's reduce at the end.
        at.push_back({G_first, gathered_fwd, acc + head_w + d.h * c, Ld * A, bwd_tail, 0, 0, "output head backward"});
        // Last block's gradient hook: it is gathered again, then the block before is prefetched
        // into a unit-sized buffer.
        if (reshard && L > 1)
          at.push_back({G_first, R + Bk, acc + head_w + d.h * c, Ld * A, x_bytes, Bk, 0, "last block re-gathered"});
        // Last block's reduce: its full params, the prefetch (landed: on Gloo the executor
        // finishes it before allocating the reduce's buffers, so Gloo's own flat all_gather
        // output is gone), its grads, the zeroed send buffer, the all_to_all receive buffer and
        // the output shard.
        const double prefetch = reshard && L > 1 ? Bk : 0.0;
        if (L > 0)
          at.push_back({G_first, R + (reshard ? Bk : Ld * Bk), acc + head_w + d.h * c + Bk, (Ld - 1) * A, x_bytes,
                        prefetch + reduce_bufs * Bk + shard_B, 0, "last block's reduce-scatter"});
        // Root's reduce at the end of backward: all its grads, send and receive buffers.
        at.push_back({ga > 1 ? G_full : Ld * shard_B, R, acc + R, 0, 0, reduce_bufs * R + shard_R, 0, "root's reduce-scatter"});
      } else {
        // dp = 1: a unit's SplitUnit node runs once all its param grads are computed (it was
        // created before the unit's ops, so autograd runs it before the block below), with the
        // grads and the flat gradient they are copied into alive: 2 Bk. The root's grads (the
        // head's weight and the final norm) wait for the root's node at the very end. Going down
        // the blocks one A of activations is freed and one Bk of shard grad kept per block, so
        // the largest of these instants is at the first or the last block.
        const double root_pending = head_w + d.h * c;
        if (L > 0) {
          at.push_back({G_first, 0, acc + root_pending + 2.0 * Bk, (Ld - 1) * A, x_bytes, 0, 0, "last block's flat gradient"});
          at.push_back({ga > 1 ? G_full : (Ld - 1) * Bk, 0, acc + root_pending + 2.0 * Bk, 0, x_bytes, 0, 0,
                        "first block's flat gradient"});
        }
        // End of backward: the root's grads and its flat gradient.
        at.push_back({ga > 1 ? G_full : Ld * Bk, 0, acc + 2.0 * R, 0, 0, 0, 0, "root's flat gradient"});
      }
    } else {
      // FeedForward: one unit; the batch input and target, and the loss's saved difference.
      const double loss_tail = 2.0 * x_bytes;  // target, output - target
      if (fsdp) {
        at.push_back({G_first, Bk, acc, A, loss_tail, 0, 0, "forward end"});
        // Backward hook re-gathers the unit (reshard) before its grads come: buffer + full params.
        if (reshard) at.push_back({G_first, Bk, acc, A, loss_tail + x_bytes, Bk, 0, "re-gathered for backward"});
        // The reduce: full params, grads, send and receive buffers, output shard; the activations
        // are freed by then, the batch is not.
        at.push_back({G_first, Bk, acc + Bk, Td * c * d.h, loss_tail, reduce_bufs * Bk + shard_B, 0, "reduce-scatter"});
      } else {
        // dp = 1: the three weight grads and the flat gradient they are copied into. The batch
        // is alive.
        at.push_back({G_first, 0, acc + 2.0 * Bk, 0, 2.0 * x_bytes, 0, 0, "flat gradient"});
        at.push_back({G_first, 0, acc, A, loss_tail, 0, 0, "forward end"});
      }
    }
    // Optimizer: all shard grads, and AdamW's sqrt(exp_avg_sq) and its scaled copy for the
    // largest unit.
    at.push_back({G_full, 0, 0, 0, 0, 0, 2.0 * std::max(shard_R, shard_B) * pb.optimizer_state / pb.grad, "optimizer step"});
    const Instant* best = nullptr;
    double best_total = -1;
    for (const auto& i : at) {
      const double total = P + adam + i.grads + i.gathered + i.unsharded + i.activations + i.logits + i.comm + i.opt_extra;
      if (total > best_total) {
        best_total = total;
        best = &i;
      }
    }
    mem.grads_bytes = best->grads;
    mem.optimizer_bytes = adam + best->opt_extra;
    mem.gathered_params_bytes = best->gathered;
    mem.unsharded_grads_bytes = best->unsharded;
    mem.activations_bytes = best->activations;
    mem.logits_bytes = best->logits;
    mem.comm_buffers_bytes = best->comm;
    mem.peak_allocated_bytes = best_total;
    mem.peak_at = best->name;
    mem.allocator_reserve_bytes = mem.peak_allocated_bytes * cl.allocator_fragmentation;
  }

  // ---------------- Per-unit compute and TP comm ----------------
  using CK = CollectiveKind;
  const LinkSpec& tp_ar_link = collective_link(cl, CK::all_reduce, tp, 1);
  const LinkSpec& dp_ar_link = collective_link(cl, CK::all_reduce, dp, tp);
  const double act_bytes = Td * c * d.h;  // one residual-stream tensor of the micro-batch
  // Each collective is priced after the compute its rank runs right before it (`after`, seconds):
  // calibrated profiles of an oversubscribed CPU host carry entries measured after several
  // compute phases (collective_link_after); elsewhere `after` changes nothing.
  auto tp_all_reduce = [&](double bytes, double after) {
    return all_reduce_seconds(tp, bytes, collective_link_after(cl, CK::all_reduce, tp, 1, after));
  };
  auto tp_all_gather = [&](double bytes, double after) {
    return all_gather_seconds(tp, bytes, collective_link_after(cl, CK::all_gather, tp, 1, after));
  };
  auto tp_reduce_scatter = [&](double bytes, double after) {
    return backend_reduce_scatter_seconds(cl, tp, bytes, collective_link_after(cl, CK::reduce_scatter, tp, 1, after));
  };

  UnitTimes blk;
  const GemmTimes& gt = gemm_times(tp, T, cb);
  // One RMSNorm's memory traffic: fused reads x and writes y; eager runs ~6 kernels (upcast,
  // square, mean, rsqrt-multiply, downcast, weight multiply), each reading and writing the tensor.
  const double norm_bytes = (training_.compiled ? 2.0 : 8.0) * c * d.hs * Td;
  if (llama) {
    blk.fwd_s += gt.block_fwd_s;
    blk.bwd_s += gt.block_bwd_s;
    // Attention core: 4 s (q_dim/tp) FLOPs per token forward, non-causal; flash skips the masked
    // half and its backward costs 2.5x forward; the composed version computes the full square.
    const double attn_fwd_flops = 4.0 * Td * d.s * d.q;
    if (kernels_ == KernelFlavor::fused) {
      blk.fwd_s += attention_seconds(cl, 0.5 * attn_fwd_flops, cb);
      blk.bwd_s += attention_seconds(cl, 1.25 * attn_fwd_flops, cb);
    } else {
      const double scores = Td * d.s * d.heads;  // elements of the score matrix
      blk.fwd_s += attention_seconds(cl, attn_fwd_flops, cb) + memory_bound_seconds(cl, 4.0 * c * scores);
      blk.bwd_s += attention_seconds(cl, 2.0 * attn_fwd_flops, cb) + memory_bound_seconds(cl, 4.0 * c * scores);
    }
    // Elementwise: 2 norms, rope on q and k, 2 residual adds, silu and mul; backward ~2x.
    const double elem = 2.0 * norm_bytes + Td * c * (2.0 * (d.q + d.kv) + 6.0 * d.hs + 5.0 * d.f);
    blk.fwd_s += memory_bound_seconds(cl, elem);
    blk.bwd_s += memory_bound_seconds(cl, 2.0 * elem);
    if (plan.ac == ActivationCheckpointing::full) {
      blk.recompute_s = blk.fwd_s;
    } else if (plan.ac == ActivationCheckpointing::selective) {
      // Norms, silu and mul recomputed (memory bound).
      blk.recompute_s = memory_bound_seconds(cl, 2.0 * norm_bytes + Td * c * 5.0 * d.f);
    }
  } else {
    // FeedForward: one unit, its three Linears and silu * mul.
    blk.fwd_s += gt.block_fwd_s;
    blk.bwd_s += gt.block_bwd_s;
    const double elem = Td * c * 5.0 * d.f;
    blk.fwd_s += memory_bound_seconds(cl, elem);
    blk.bwd_s += memory_bound_seconds(cl, 2.0 * elem);
    if (plan.ac == ActivationCheckpointing::full) {
      blk.recompute_s = blk.fwd_s;
    } else if (plan.ac == ActivationCheckpointing::selective) {
      blk.recompute_s = memory_bound_seconds(cl, Td * c * 5.0 * d.f);
    }
  }

  // Root unit: embedding (pre) and final norm + output head + loss (post).
  UnitTimes pre, post;
  if (llama) {
    const int64_t vl = model_.vocab_size / tp;
    const double vld = static_cast<double>(vl);
    pre.fwd_s = memory_bound_seconds(cl, 2.0 * act_bytes);
    pre.bwd_s = memory_bound_seconds(cl, vld * d.h * c + 2.0 * act_bytes);  // zero-fill + index_add
    const double logits_elems = Td * vld;
    post.fwd_s = memory_bound_seconds(cl, norm_bytes) + gt.head_fwd_s +
                 memory_bound_seconds(cl, logits_elems * (c + 16.0));
    post.bwd_s = memory_bound_seconds(cl, 2.0 * norm_bytes) + gt.head_bwd_s +
                 memory_bound_seconds(cl, logits_elems * (c + 8.0));
  } else {
    post.fwd_s = memory_bound_seconds(cl, 3.0 * act_bytes);
    post.bwd_s = memory_bound_seconds(cl, 2.0 * act_bytes);
  }

  // FSDP collectives per unit, over the DP group (priced below, once the compute before them is known).
  double ag_block = 0, rs_block = 0, ag_root = 0, rs_root = 0;
  double opt_ops_s = 0;
  double ag_block_pack = 0, ag_root_pack = 0;  // CPU: copies out of the gathered flat buffer
  if (kernels_ == KernelFlavor::composed) {
    // The CPU executor is eager: every op pays a fixed cost besides its bytes (dispatch and
    // autograd bookkeeping; efficiency.op_overhead_s, which `planner calibrate` measures on a
    // chain of small ops with autograd). Kernels counted from executor/model.cc
    // (docs/cost-model.md, "Eager op overhead"); backward runs about two kernels per forward one.
    const double op_s = cl.efficiency.op_overhead_s;
    const double tp_clones = tp > 1 ? 2.0 : 0.0;  // copy_to_tp / reduce_from_tp clones
    double block_fwd_ops, post_fwd_ops, post_bwd_ops, params_per_block;
    if (llama) {
      const bool gqa = model_.n_heads != model_.n_kv_heads;
      // 2 RMSNorms x 6, RoPE on q and k 2 x 7, attention glue 9 (q/k/v copies, scale, mask,
      // masked_fill, softmax, output copy), 2 residual adds, silu and mul, GQA expansion 2 x 2.
      block_fwd_ops = 12 + 14 + 9 + 2 + 2 + (gqa ? 4 : 0) + tp_clones;
      post_fwd_ops = 7 + 6 + 17;  // embedding lookup + masks, final norm, vocab-parallel loss
      post_bwd_ops = post_fwd_ops;
      params_per_block = 9;
    } else {
      block_fwd_ops = 2 + tp_clones / 2;  // silu, mul (+ the reduce clone)
      post_fwd_ops = 3;                   // MSE: sub, pow, mean
      post_bwd_ops = 6;
      params_per_block = 3;
    }
    blk.fwd_s += op_s * block_fwd_ops;
    blk.bwd_s += op_s * 2.0 * block_fwd_ops;
    if (blk.recompute_s > 0) blk.recompute_s += op_s * block_fwd_ops;
    post.fwd_s += op_s * post_fwd_ops;
    post.bwd_s += op_s * post_bwd_ops;
    if (dp > 1) {
      // Gather: one copy per param per dp chunk out of the flat buffer (reads and writes the
      // unit: 2 U bytes); reduce: zero-fill of the flat send buffer (U), one copy per param per
      // chunk into it (2 U), the local sum (in the Gloo reduce-scatter's cost) and the average
      // (2 U / dp), U being the gathered unit's bytes.
      const double dpd = static_cast<double>(dp);
      const double Ub = block_unit_numel * c, Ur = root_unit_numel * c;
      ag_block_pack = op_s * params_per_block * dpd + memory_bound_seconds(cl, 2.0 * Ub);
      rs_block += op_s * (params_per_block * dpd + 3) + memory_bound_seconds(cl, 3.0 * Ub + 2.0 * Ub / dpd);
      if (has_root) {
        ag_root_pack = op_s * 3 * dpd + memory_bound_seconds(cl, 2.0 * Ur);
        rs_root += op_s * (3 * dpd + 3) + memory_bound_seconds(cl, 3.0 * Ur + 2.0 * Ur / dpd);
      }
    }
    // AdamW: 9 kernels per unit.
    opt_ops_s = op_s * 9.0 * (static_cast<double>(llama ? L : 1) + (has_root ? 1.0 : 0.0));
  }

  // ---------------- Collectives, after the compute before each ----------------
  // On a calibrated CPU host a collective's price depends on the compute its rank ran right before
  // it (collective_link_after; docs/cost-model.md, "Compute before a collective"): in a block's
  // forward or backward, one sub-layer's share of it (two sub-layers a block); an FSDP gather
  // after a unit's forward, a reduce after a unit's backward; the loss's second and third
  // all-reduces, the norm-weight gradient all-reduces and an SP all-gather before a sub-layer
  // after almost none (0: the shortest phase measured).
  if (llama) {
    const double fwd_gap = blk.fwd_s / 2.0, bwd_gap = blk.bwd_s / 2.0;
    // TP: two sub-layers, each an all-reduce (or all-gather + reduce-scatter under SP) forward and
    // the same backward for the input gradient of the colwise layers.
    auto sub = [&](double gap) {
      return sp ? tp_all_gather(act_bytes, 0.0) + tp_reduce_scatter(act_bytes, gap) : tp_all_reduce(act_bytes, gap);
    };
    blk.fwd_tp_s = 2.0 * sub(fwd_gap);
    // Under SP each TP rank normalizes only its tokens: the two norm weights' gradients are
    // partial sums, all-reduced over the TP group (h elements each).
    blk.bwd_tp_s = 2.0 * sub(bwd_gap) + (sp ? 2.0 * tp_all_reduce(d.h * c, 0.0) : 0.0);
    if (plan.ac == ActivationCheckpointing::full) {
      blk.recompute_tp_s = blk.fwd_tp_s;
    } else if (plan.ac == ActivationCheckpointing::selective) {
      blk.recompute_tp_s = sp ? 2.0 * tp_all_gather(act_bytes, 0.0) : 0.0;  // the norm outputs again
    }
    pre.fwd_tp_s = tp > 1 ? (sp ? tp_reduce_scatter(act_bytes, pre.fwd_s) : tp_all_reduce(act_bytes, pre.fwd_s)) : 0.0;
    pre.bwd_tp_s = sp ? tp_all_gather(act_bytes, bwd_gap) : 0.0;
    // Loss parallel: max, sum-exp and target logit all-reduced (T floats each) over the TP group.
    post.fwd_tp_s = (sp ? tp_all_gather(act_bytes, fwd_gap) : 0.0) + tp_all_reduce(Td * 4.0, post.fwd_s) +
                    2.0 * tp_all_reduce(Td * 4.0, 0.0);
    post.bwd_tp_s = sp ? tp_reduce_scatter(act_bytes, post.bwd_s) + tp_all_reduce(d.h * c, 0.0)
                       : tp_all_reduce(act_bytes, post.bwd_s);
  } else {
    // FeedForward: x needs no gradient (it is the data), so w1/w3 skip dgrad and the colwise
    // input's backward all-reduce does not exist.
    blk.fwd_tp_s = sp ? tp_all_gather(act_bytes, 0.0) + tp_reduce_scatter(act_bytes, blk.fwd_s)
                      : tp_all_reduce(act_bytes, blk.fwd_s);
    blk.bwd_tp_s = sp ? tp_all_gather(act_bytes, post.bwd_s) : 0.0;
    if (plan.ac == ActivationCheckpointing::full) blk.recompute_tp_s = blk.fwd_tp_s;
  }
  ag_block = all_gather_seconds(dp, block_unit_numel * c, collective_link_after(cl, CK::all_gather, dp, tp, blk.fwd_s));
  rs_block += backend_reduce_scatter_seconds(cl, dp, block_unit_numel * pb.reduce,
                                             collective_link_after(cl, CK::reduce_scatter, dp, tp, blk.bwd_s));
  if (has_root) {
    ag_root = all_gather_seconds(dp, root_unit_numel * c, collective_link_after(cl, CK::all_gather, dp, tp, blk.fwd_s));
    rs_root += backend_reduce_scatter_seconds(cl, dp, root_unit_numel * pb.reduce,
                                              collective_link_after(cl, CK::reduce_scatter, dp, tp, blk.bwd_s));
  }

  // ---------------- Timeline of one micro-batch ----------------
  const bool overlap = cl.comm_overlaps_compute;
  // The executor over Gloo (executor/model.cc) prefetches the next unit's all-gather on Gloo's
  // worker thread while this unit computes, reduce-scatters synchronously after a unit's backward
  // (after the prefetch in flight: Gloo runs a group's collectives in order), and gathers the last
  // block for backward when its output's gradient arrives. Its ranks share the cores with that
  // thread, so at most part of an all-gather hides behind compute: a profile may give that
  // fraction per group (hidden_fraction; `planner calibrate` measures it into its calibration
  // document only), the rest running on the compute stream when it is issued.
  const bool gloo_prefetch = !overlap && cl.backend == "gloo";
  // A profile's measured fraction (-1: none). Without one, a prefetch over Gloo hides behind the
  // blocking waits of the TP collectives that run while it is in flight, and behind nothing else:
  // with more ranks than cores the compute beside it is time its transfer must share, while a rank
  // blocked in a TP collective yields its core to the transfer (docs/cost-model.md, "Overlap on a
  // CPU host"). On a GPU's comm stream everything hides.
  const double ag_hidden_given = collective_hidden_fraction(cl, CK::all_gather, dp, tp, -1.0);
  auto micro_step = [&](bool sync, int64_t mb_index, double t0, StepTimes* st) -> double {
    double t = t0;
    CommStream comm;
    comm.free_at = t0;
    // Event names are built only when tracing (the hot path must not allocate).
    auto ev = [&](const char* what, int64_t layer, const char* stream, double start, double dur) {
      if (!trace || dur <= 0) return;
      std::string name = what;
      if (layer >= 0) name += llama ? " layers." + std::to_string(layer) : " feed_forward";
      trace->push_back({name, stream, start, dur, mb_index});
    };
    // Run a collective: on the comm stream (overlapped) or inline on the compute stream.
    auto collective = [&](const char* name, int64_t layer, double ready, double dur) -> double {
      if (!overlap) {
        const double start = std::max(ready, t);
        ev(name, layer, "compute", start, dur);
        t = start + dur;
        st->exposed_s += dur;
        return t;
      }
      const double end = comm.issue(ready, dur);
      ev(name, layer, "comm", end - dur, dur);
      return end;
    };
    auto wait_for = [&](double ready) {
      if (ready > t) {
        st->exposed_s += ready - t;
        t = ready;
      }
    };
    auto compute = [&](const char* name, int64_t layer, double math_s, double tp_s, double* bucket) {
      ev(name, layer, "compute", t, math_s + tp_s);
      t += math_s + tp_s;
      *bucket += math_s;
      st->tp_s += tp_s;
    };
    auto inline_comm = [&](const char* name, int64_t layer, double dur) {
      if (dur <= 0) return;
      ev(name, layer, "compute", t, dur);
      t += dur;
      st->exposed_s += dur;
    };
    // An FSDP all-gather: returns when its unit can be used (packing done where it is inline).
    // tp_window_s: the TP collectives' time in the compute that runs before it is waited for.
    auto gather = [&](const char* name, int64_t layer, double ready, double wire_s, double pack_s,
                      double tp_window_s) -> double {
      if (!gloo_prefetch && !overlap) return collective(name, layer, ready, wire_s + pack_s);
      const double issued = std::max(ready, t);
      const double hidden_s = ag_hidden_given >= 0 ? ag_hidden_given * wire_s
                              : gloo_prefetch     ? std::min(wire_s, tp_window_s)
                                                  : wire_s;
      inline_comm(name, layer, wire_s - hidden_s);  // the part that does not hide
      const double end = comm.issue(issued, gloo_prefetch ? wire_s : wire_s + pack_s);
      ev(name, layer, "comm", end - wire_s, wire_s);
      return end;
    };
    auto unpack = [&](const char* name, int64_t layer, double pack_s) {
      if (gloo_prefetch) inline_comm(name, layer, pack_s);
    };
    auto reduce = [&](const char* name, int64_t layer, double dur) {
      if (!gloo_prefetch) {
        collective(name, layer, t, dur);
        return;
      }
      wait_for(comm.free_at);  // Gloo runs a group's collectives in order: the prefetch first
      inline_comm(name, layer, dur);
      comm.free_at = t;
    };
    // Forward.
    double root_ready = t;
    if (has_root) {
      root_ready = gather("AG root", -1, t, ag_root, ag_root_pack, 0.0);  // waited for at once
      st->ag_s += ag_root + ag_root_pack;
      if (gloo_prefetch) {  // the executor gathers the root, then prefetches the first block
        wait_for(root_ready);
        unpack("unpack root", -1, ag_root_pack);
      }
    }
    // Prefetched with the root, in flight during the embedding.
    double next_ag = gather("AG", 0, t, ag_block, ag_block_pack, has_root ? pre.fwd_tp_s : 0.0);
    st->ag_s += ag_block + ag_block_pack;
    if (has_root) {
      wait_for(root_ready);
      compute("F tok_embeddings", -1, pre.fwd_s, pre.fwd_tp_s, &st->fwd_s);
    }
    double prev_t = 0, prev_c = 0, prev_x = 0, d_t = -1, d_c = -1, d_x = -1;
    for (int64_t i = 0; i < L; ++i) {
      wait_for(next_ag);
      unpack("unpack", i, ag_block_pack);
      const double start = t;
      if (i + 1 < L) {
        next_ag = gather("AG", i + 1, start, ag_block, ag_block_pack, blk.fwd_tp_s);
        st->ag_s += ag_block + ag_block_pack;
      }
      compute("F", i, blk.fwd_s, blk.fwd_tp_s, &st->fwd_s);
      // Identical layers reach a periodic state: extrapolate the rest (not when tracing).
      if (!trace && overlap && i >= 2 && i + 2 < L) {
        const double nt = t - prev_t, nc = comm.free_at - prev_c, nx = st->exposed_s - prev_x;
        if (std::fabs(nt - d_t) < 1e-12 && std::fabs(nc - d_c) < 1e-12 && std::fabs(nx - d_x) < 1e-12) {
          const double k = static_cast<double>(L - 2 - i);  // layers i+1 .. L-2 advance by the period
          t += k * nt;
          comm.free_at += k * nc;
          next_ag += k * nc;
          st->exposed_s += k * nx;
          st->fwd_s += k * blk.fwd_s;
          st->tp_s += k * blk.fwd_tp_s;
          st->ag_s += k * (ag_block + ag_block_pack);
          i = L - 2;
          prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
          continue;
        }
        d_t = nt; d_c = nc; d_x = nx;
      } else if (i >= 1) {
        d_t = t - prev_t; d_c = comm.free_at - prev_c; d_x = st->exposed_s - prev_x;
      }
      prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
    }
    compute(has_root ? "F norm+output+loss" : "F loss", -1, post.fwd_s, post.fwd_tp_s, &st->fwd_s);
    // Backward.
    double ready = t;
    // The executor gathers the last block when its output's gradient arrives, after the loss.
    if (plan.reshard_after_forward && L > 0 && !gloo_prefetch) {
      ready = gather("AG (bwd)", L - 1, t, ag_block, ag_block_pack, post.bwd_tp_s);
      st->ag_s += ag_block + ag_block_pack;
    }
    compute(has_root ? "B norm+output+loss" : "B loss", -1, post.bwd_s, post.bwd_tp_s, &st->bwd_s);
    if (plan.reshard_after_forward && L > 0 && gloo_prefetch) {
      ready = gather("AG (bwd)", L - 1, t, ag_block, ag_block_pack, 0.0);  // waited for at once
      st->ag_s += ag_block + ag_block_pack;
    }
    prev_t = prev_c = prev_x = 0; d_t = d_c = d_x = -1;
    for (int64_t i = L - 1; i >= 0; --i) {
      wait_for(ready);
      if (plan.reshard_after_forward) unpack("unpack (bwd)", i, ag_block_pack);
      const double start = t;
      if (plan.reshard_after_forward && i >= 1) {
        ready = gather("AG (bwd)", i - 1, start, ag_block, ag_block_pack, blk.recompute_tp_s + blk.bwd_tp_s);
        st->ag_s += ag_block + ag_block_pack;
      } else {
        ready = start;
      }
      if (blk.recompute_s + blk.recompute_tp_s > 0) compute("R", i, blk.recompute_s, blk.recompute_tp_s, &st->recompute_s);
      compute("B", i, blk.bwd_s, blk.bwd_tp_s, &st->bwd_s);
      if (sync) {
        reduce("RS", i, rs_block);
        st->rs_s += rs_block;
      }
      const int64_t j = L - 1 - i;  // layers done
      if (!trace && overlap && j >= 2 && i >= 2) {
        const double nt = t - prev_t, nc = comm.free_at - prev_c, nx = st->exposed_s - prev_x;
        if (std::fabs(nt - d_t) < 1e-12 && std::fabs(nc - d_c) < 1e-12 && std::fabs(nx - d_x) < 1e-12) {
          const double k = static_cast<double>(i - 1);  // layers i-1 .. 1 advance by the period
          t += k * nt;
          comm.free_at += k * nc;
          ready += k * nt;
          st->exposed_s += k * nx;
          st->bwd_s += k * blk.bwd_s;
          st->recompute_s += k * blk.recompute_s;
          st->tp_s += k * (blk.bwd_tp_s + blk.recompute_tp_s);
          if (plan.reshard_after_forward) st->ag_s += k * (ag_block + ag_block_pack);
          if (sync) st->rs_s += k * rs_block;
          i = 1;
          prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
          continue;
        }
        d_t = nt; d_c = nc; d_x = nx;
      } else if (j >= 1) {
        d_t = t - prev_t; d_c = comm.free_at - prev_c; d_x = st->exposed_s - prev_x;
      }
      prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
    }
    if (has_root) {
      compute("B tok_embeddings", -1, pre.bwd_s, pre.bwd_tp_s, &st->bwd_s);
      if (sync) {
        reduce("RS root", -1, rs_root);
        st->rs_s += rs_root;
      }
    }
    wait_for(comm.free_at);  // the step cannot end before its reduce-scatters land
    return t;
  };

  StepTimes st;
  double t = 0;
  if (trace) {
    for (int64_t mb = 0; mb < ga; ++mb) {
      const bool sync = plan.grad_sync == GradSync::every_micro_batch || mb == ga - 1;
      t = micro_step(sync, mb, t, &st);
    }
  } else {
    StepTimes one_sync;
    const double t_sync = micro_step(true, 0, 0.0, &one_sync);
    StepTimes one_nosync;
    double t_nosync = 0;
    const int64_t n_nosync = plan.grad_sync == GradSync::last_micro_batch ? ga - 1 : 0;
    if (n_nosync > 0) t_nosync = micro_step(false, 0, 0.0, &one_nosync);
    const double n_sync = static_cast<double>(ga - n_nosync);
    auto add = [&](const StepTimes& a, double k) {
      st.fwd_s += k * a.fwd_s;
      st.bwd_s += k * a.bwd_s;
      st.recompute_s += k * a.recompute_s;
      st.tp_s += k * a.tp_s;
      st.ag_s += k * a.ag_s;
      st.rs_s += k * a.rs_s;
      st.exposed_s += k * a.exposed_s;
    };
    add(one_sync, n_sync);
    add(one_nosync, static_cast<double>(n_nosync));
    t = n_sync * t_sync + static_cast<double>(n_nosync) * t_nosync;
  }
  // Optimizer. Fused AdamW reads param, grad, exp_avg, exp_avg_sq and writes param, exp_avg,
  // exp_avg_sq; the grad-norm pass reads the grads once more. The eager (composed) AdamW runs one
  // kernel per line of the algorithm (executor/trainer.cc adamw_step; torch.optim.AdamW's foreach
  // path is the same but for one lerp), each a full pass over the shard: param decay 2 accesses,
  // exp_avg mul 2 + add 3, exp_avg_sq mul 2 + addcmul 3, sqrt 2, divide 2, add eps 2, addcdiv 4:
  // 22 fp32 accesses per element (docs/cost-model.md, "Optimizer").
  const double opt_bytes =
      kernels_ == KernelFlavor::composed || training_.executor
          ? shard_numel * 22.0 * pb.optimizer_state
          : shard_numel * (pb.master_param * 2.0 + pb.grad * 2.0 + pb.optimizer_state * 4.0);
  const double opt_s = opt_ops_s + memory_bound_seconds(cl, opt_bytes) +
                       all_reduce_seconds(dp, 4.0, dp_ar_link) + all_reduce_seconds(tp, 4.0, tp_ar_link);
  if (trace) trace->push_back({"optimizer (AdamW)", "compute", t, opt_s, ga - 1});
  t += opt_s;

  TimeBreakdown& tb = cand.prediction.time;
  tb.step_s = t;
  tb.forward_s = st.fwd_s;
  tb.backward_s = st.bwd_s;
  tb.recompute_s = st.recompute_s;
  tb.tp_comm_s = st.tp_s;
  tb.fsdp_all_gather_s = st.ag_s;
  tb.fsdp_reduce_scatter_s = st.rs_s;
  tb.fsdp_exposed_s = st.exposed_s;
  tb.optimizer_s = opt_s;
  tb.grad_accum = ga;

  Throughput& th = cand.prediction.throughput;
  const double tokens_per_step = static_cast<double>(training_.global_batch) * static_cast<double>(s);
  th.tokens_per_s = tokens_per_step / t;
  th.tokens_per_s_per_gpu = th.tokens_per_s / static_cast<double>(cluster_.world());
  th.model_flops_per_token = model_flops_per_token();
  th.model_tflops_per_gpu = th.model_flops_per_token * th.tokens_per_s_per_gpu / kTera;
  th.mfu = th.model_flops_per_token * th.tokens_per_s_per_gpu / peak_flops_per_s(cl, cb);

  if (!mem.fits()) {
    cand.limit = Limit::memory;
    cand.memory_excess_bytes = mem.total_bytes() - mem.capacity_bytes;
    if (!explain) return cand;
    struct Line {
      const char* name;
      double bytes;
    } lines[] = {{"activations", mem.activations_bytes},   {"optimizer states", mem.optimizer_bytes},
                 {"master params", mem.master_params_bytes}, {"grads", mem.grads_bytes},
                 {"gathered params", mem.gathered_params_bytes}, {"unsharded grads", mem.unsharded_grads_bytes},
                 {"logits/loss", mem.logits_bytes},          {"comm buffers", mem.comm_buffers_bytes}};
    std::sort(std::begin(lines), std::end(lines), [](const Line& a, const Line& b) { return a.bytes > b.bytes; });
    std::snprintf(buf, sizeof buf,
                  "memory %.1f GiB > %.1f GiB (over by %.1f GiB): %s %.1f GiB, %s %.1f GiB at micro_batch %lld, ac %s",
                  bytes_to_gib(mem.total_bytes()), bytes_to_gib(mem.capacity_bytes),
                  bytes_to_gib(cand.memory_excess_bytes), lines[0].name, bytes_to_gib(lines[0].bytes), lines[1].name,
                  bytes_to_gib(lines[1].bytes), (long long)plan.micro_batch, to_string(plan.ac).c_str());
    cand.reason = buf;
  }
  return cand;
}

SimulationDetail Simulator::detail(const Plan& plan) const {
  SimulationDetail out;
  out.kernels = kernels_;
  out.candidate = evaluate_impl(plan, &out.trace, true);
  const auto& c = out.candidate;
  if (c.limit == Limit::world_size || c.limit == Limit::backend || c.limit == Limit::tp_divisibility) return out;
  const PrecisionBytes pb = precision_bytes(training_.precision);
  for (const auto& t : parameter_tensors(model_)) {
    ParamLine pl;
    pl.module = t.module;
    TpStyle style = tp_style_for(tp_plan_, t.module);
    pl.tp_style = to_string(style);
    pl.count = t.count;
    pl.rows = t.rows;
    pl.cols = t.cols;
    LocalShape ls;
    tp_local_shape(t, style, plan.tp, &ls, nullptr);
    pl.local_rows = ls.rows;
    pl.local_cols = ls.cols;
    pl.shard_numel = fsdp_shard_numel(ls, plan.dp);
    out.params.push_back(pl);
  }
  const bool llama = model_.kind == ModelKind::llama;
  const bool sp = plan.sequence_parallel && plan.tp > 1;
  Dims d;
  d.c = pb.compute;
  d.h = static_cast<double>(model_.dim);
  d.q = llama ? static_cast<double>(model_.q_dim()) / plan.tp : 0;
  d.kv = llama ? static_cast<double>(model_.kv_dim()) / plan.tp : 0;
  d.f = static_cast<double>(model_.ffn_hidden) / plan.tp;
  d.heads = llama ? static_cast<double>(model_.n_heads) / plan.tp : 0;
  d.hs = sp ? d.h / plan.tp : d.h;
  d.s = static_cast<double>(training_.seq_len);
  d.sp = sp;
  const ActTable acts = block_activations(model_, d, kernels_, training_.compiled);
  const double T = static_cast<double>(plan.micro_batch * training_.seq_len);
  if (plan.ac == ActivationCheckpointing::full) {
    const double input = pb.compute * (llama ? d.hs : d.h);
    out.activations.push_back({"block input (checkpoint)", input, true});
    out.activation_bytes_per_layer += T * input;
  }
  for (int i = 0; i < acts.n; ++i) {
    const bool kept = plan.ac == ActivationCheckpointing::none ||
                      (plan.ac == ActivationCheckpointing::selective && acts.items[i].selective_keep);
    out.activations.push_back({acts.items[i].name, acts.items[i].bytes_per_token, kept});
    if (kept) out.activation_bytes_per_layer += T * acts.items[i].bytes_per_token;
  }
  return out;
}

}  // namespace planner
