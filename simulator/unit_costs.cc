#include "simulator/unit_costs.h"

#include "simulator/collectives.h"
#include "simulator/compute.h"

namespace planner {

// GEMM times depend only on (tp, tokens per micro-batch): the search varies the other knobs
// fastest, so the simulator keeps the last one.
GemmTimes gemm_times(const ClusterSpec& cl, const ModelSpec& m, const BlockOps& ops, const std::vector<TpRule>& tp_plan,
                     int64_t tp, int64_t T, int cb) {
  GemmTimes g;
  g.tp = tp;
  g.tokens = T;
  g.bytes_per_elt = cb;
  int mm = 0;  // the matmul's place in the block's forward, from 1
  for (const LinearOp& l : ops.linears) {
    const TensorSpec w{l.module, ModuleType::linear, l.out_features, l.in_features, 1, true};
    LocalShape ls;
    tp_local_shape(w, tp_style_for(tp_plan, l.module), tp, &ls, nullptr);
    const double fwd_s = linear_forward_seconds(cl, T, ls.rows, ls.cols, cb);
    if (++mm % 2 == 0) g.every_second_mm_fwd_s += fwd_s;
    g.block_fwd_s += fwd_s;
    g.block_bwd_s += linear_backward_seconds(cl, T, ls.rows, ls.cols, cb, l.input_needs_grad);
  }
  if (m.kind == ModelKind::llama) {
    const int64_t h = m.dim, vl = m.vocab_size / tp;
    g.head_fwd_s = linear_forward_seconds(cl, T, vl, h, cb);
    g.head_bwd_s = linear_backward_seconds(cl, T, vl, h, cb, true);
  }
  return g;
}

UnitCosts unit_costs(const ModelSpec& model, const TrainingSpec& training, const ClusterSpec& cl, const Runtime& runtime,
                     const Plan& plan, const PlanShape& ps, const GemmTimes& gt) {
  UnitCosts out;
  const PrecisionBytes& pb = ps.bytes;
  const int cb = pb.compute;
  const double c = cb;
  const bool llama = ps.llama;
  const int64_t L = ps.n_layers;
  const double Td = ps.tokens_d;
  const int64_t dp = plan.dp, tp = plan.tp;
  const bool sp = ps.sp;
  const LocalDims& d = ps.d;
  const double shard_numel = ps.shards.shard_numel;
  const double block_unit_numel = ps.shards.block_unit_numel, root_unit_numel = ps.shards.root_unit_numel;
  const bool has_root = ps.shards.has_root;

  using CK = CollectiveKind;
  LinkSpec tp_ar_scratch, dp_ar_scratch;  // mesh fabrics: the group's share of the links
  const LinkSpec& tp_ar_link = collective_link(cl, CK::all_reduce, tp, 1, &tp_ar_scratch);
  const LinkSpec& dp_ar_link = collective_link(cl, CK::all_reduce, dp, tp, &dp_ar_scratch);
  const double act_bytes = Td * c * d.h;  // one residual-stream tensor of the micro-batch
  // Gloo cannot sum bf16: the executor all-reduces a bf16 tensor as an fp32 copy (executor/comm.cc),
  // so a compute-dtype all-reduce moves 4 bytes per element there (the casts are not priced).
  const double ar_c = cl.backend == "gloo" && cb < 4 ? 4.0 : c;
  const double act_ar_bytes = Td * ar_c * d.h;
  // Each collective is priced after the compute its rank runs right before it (`after`, seconds):
  // calibrated profiles of an oversubscribed CPU host carry entries measured after several
  // compute phases (collective_link_after); elsewhere `after` changes nothing.
  LinkSpec scratch;  // an interpolated link (collective_link_after); no copy otherwise
  auto tp_all_reduce = [&](double bytes, double after) {
    return all_reduce_seconds(tp, bytes, collective_link_after(cl, CK::all_reduce, tp, 1, after, &scratch));
  };
  auto tp_all_gather = [&](double bytes, double after) {
    return all_gather_seconds(tp, bytes, collective_link_after(cl, CK::all_gather, tp, 1, after, &scratch));
  };
  auto tp_reduce_scatter = [&](double bytes, double after) {
    return backend_reduce_scatter_seconds(cl, tp, bytes,
                                          collective_link_after(cl, CK::reduce_scatter, tp, 1, after, &scratch));
  };

  UnitTimes& blk = out.block;
  // Memory traffic of the elementwise ops, bytes per element, each kernel's reads and writes
  // counted (docs/cost-model.md, "Elementwise traffic, eager and compiled"). Compiled (fused): a
  // norm or RoPE reads its input and writes its output, backward twice that. Eager RMSNorm
  // (torchtitan's and the executor's: x.float(), pow, mean, x * rsqrt(...), .type_as(x), * weight):
  // 2c + 20 forward and 5c + 52 backward, plus the fp32 upcast and the cast back (2c + 8) below
  // fp32. Eager complex RoPE (fsdp2 runtimes): x.float() (c + 4), the complex multiply (8 + 4),
  // .type_as (4 + c), the same again backward; the fp32 casts vanish at c = 4.
  const bool eager = !training.compiled;
  const double casts = cb < 4 ? 2.0 * c + 8.0 : 0.0;
  const double norm_fwd_pe = eager ? 2.0 * c + 20.0 + casts : 2.0 * c;
  const double norm_bwd_pe = eager ? 5.0 * c + 52.0 + casts : 4.0 * c;
  const double rope_fwd_pe = eager && runtime.complex_rope ? 12.0 + casts : 2.0 * c;
  const double rope_bwd_pe = eager && runtime.complex_rope ? 12.0 + casts : 4.0 * c;
  const double norm_bytes = norm_fwd_pe * d.hs * Td;      // one norm's forward
  const double norm_bwd_bytes = norm_bwd_pe * d.hs * Td;  // one norm's backward
  const double rope_bytes = rope_fwd_pe * (d.q + d.kv) * Td, rope_bwd_bytes = rope_bwd_pe * (d.q + d.kv) * Td;
  if (llama) {
    blk.fwd_s += gt.block_fwd_s;
    blk.bwd_s += gt.block_bwd_s;
    // Attention core: 4 s (q_dim/tp) FLOPs per token forward, non-causal; flash skips the masked
    // half and its backward costs 2.5x forward; the composed version computes the full square.
    const double attn_fwd_flops = 4.0 * Td * d.s * d.q;
    if (runtime.kernels == KernelFlavor::fused) {
      blk.fwd_s += attention_seconds(cl, 0.5 * attn_fwd_flops, cb);
      blk.bwd_s += attention_seconds(cl, 1.25 * attn_fwd_flops, cb);
    } else {
      const double scores = Td * d.s * d.heads;  // elements of the score matrix
      blk.fwd_s += attention_seconds(cl, attn_fwd_flops, cb) + memory_bound_seconds(cl, 4.0 * c * scores);
      blk.bwd_s += attention_seconds(cl, 2.0 * attn_fwd_flops, cb) + memory_bound_seconds(cl, 4.0 * c * scores);
    }
    // Elementwise: 2 norms, RoPE on q and k, 2 residual adds (3 accesses each), silu and mul
    // (5 accesses of f); the adds, silu and mul cost twice as much backward.
    const double other = Td * c * (6.0 * d.hs + 5.0 * d.f);
    blk.fwd_s += memory_bound_seconds(cl, 2.0 * norm_bytes + rope_bytes + other);
    blk.bwd_s += memory_bound_seconds(cl, 2.0 * norm_bwd_bytes + rope_bwd_bytes + 2.0 * other);
    if (plan.ac == ActivationCheckpointing::full) {
      blk.recompute_s = blk.fwd_s;
    } else if (plan.ac == ActivationCheckpointing::selective &&
               training.selective_ac == SelectiveAc::torchtitan_op) {
      // torchtitan's op-level policy: everything but the saved mm / SDPA / reduce-scatter outputs
      // runs again: the norms, RoPE on q and k, the residual add, silu and mul (memory bound) and
      // the forward of every second matmul (wk, wo, w3).
      blk.recompute_s = gt.every_second_mm_fwd_s +
                        memory_bound_seconds(cl, 2.0 * norm_bytes + rope_bytes + Td * c * (2.0 * d.hs + 5.0 * d.f));
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
  UnitTimes& pre = out.pre;
  UnitTimes& post = out.post;
  if (llama) {
    const int64_t vl = model.vocab_size / tp;
    const double vld = static_cast<double>(vl);
    const double vocab = static_cast<double>(model.vocab_size);
    // The embedding's rows on this rank, and the logits each rank's loss reads (TpPlanOptions).
    const double v_embedding = training.tp_plan.shard_embedding ? vld : vocab;
    const double v_logits = training.tp_plan.loss_parallel ? vld : vocab;
    pre.fwd_s = memory_bound_seconds(cl, 2.0 * act_bytes);
    pre.bwd_s = memory_bound_seconds(cl, v_embedding * d.h * c + 2.0 * act_bytes);  // zero-fill + index_add
    const double logits_elems = Td * v_logits;
    post.fwd_s = memory_bound_seconds(cl, norm_bytes) + gt.head_fwd_s +
                 memory_bound_seconds(cl, logits_elems * (c + 16.0));
    post.bwd_s = memory_bound_seconds(cl, norm_bwd_bytes) + gt.head_bwd_s +
                 memory_bound_seconds(cl, logits_elems * (c + 8.0));
  } else {
    post.fwd_s = memory_bound_seconds(cl, 3.0 * act_bytes);
    post.bwd_s = memory_bound_seconds(cl, 2.0 * act_bytes);
  }

  // FSDP collectives per unit, over the DP group (priced below, once the compute before them is known).
  double ag_block = 0, rs_block = 0, ag_root = 0, rs_root = 0;
  double opt_ops_s = 0;
  double ag_block_pack = 0, ag_root_pack = 0;  // CPU: copies out of the gathered flat buffer
  if (runtime.eager_op_overhead) {
    // The CPU executor is eager: every op pays a fixed cost besides its bytes (dispatch and
    // autograd bookkeeping; efficiency.op_overhead_s, which `planner calibrate` measures on a
    // chain of small ops with autograd). Kernels counted from executor/model.cc
    // (docs/cost-model.md, "Eager op overhead"); backward runs about two kernels per forward one.
    const double op_s = cl.efficiency.op_overhead_s;
    const double tp_clones = tp > 1 ? 2.0 : 0.0;  // copy_to_tp / reduce_from_tp clones
    double block_fwd_ops, post_fwd_ops, post_bwd_ops, params_per_block;
    if (llama) {
      const bool gqa = model.n_heads != model.n_kv_heads;
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
  // Colwise inputs (TpPlanOptions::gather_per_linear): one gather per sub-layer, or one per colwise
  // Linear (wq/wk/wv: 3, w1/w3: 2). Each gather's backward is a reduce-scatter of the input's
  // partial gradient (an all-reduce without SP, where the forward needs no collective).
  const bool per_linear = training.tp_plan.gather_per_linear;
  const double g_attn = per_linear ? 3.0 : 1.0, g_ffn = per_linear ? 2.0 : 1.0;
  if (llama) {
    const double fwd_gap = blk.fwd_s / 2.0, bwd_gap = blk.bwd_s / 2.0;
    // TP: two sub-layers. Forward: the colwise input's gather(s) and the rowwise output's
    // reduce-scatter under SP, or the rowwise output's all-reduce without. Backward: the mirror:
    // the rowwise output gradient's all-gather and the colwise input gradients' reduce-scatters
    // under SP, or the colwise input gradients' all-reduces without.
    // Each collective is priced once; the two sub-layers' counts multiply it.
    const double gathers = g_attn + g_ffn;  // colwise input gathers a block
    // Under SP each TP rank normalizes only its tokens: the two norm weights' gradients are
    // partial sums, all-reduced over the TP group (h elements each).
    if (sp) {
      const double ag_s = tp_all_gather(act_bytes, 0.0);
      blk.fwd_tp_s = gathers * ag_s + 2.0 * tp_reduce_scatter(act_bytes, fwd_gap);
      blk.bwd_tp_s = 2.0 * ag_s + gathers * tp_reduce_scatter(act_bytes, bwd_gap) + 2.0 * tp_all_reduce(d.h * ar_c, 0.0);
      if (plan.ac == ActivationCheckpointing::selective) blk.recompute_tp_s = gathers * ag_s;  // the norm outputs again
    } else {
      blk.fwd_tp_s = 2.0 * tp_all_reduce(act_ar_bytes, fwd_gap);
      blk.bwd_tp_s = gathers * tp_all_reduce(act_ar_bytes, bwd_gap);
    }
    if (plan.ac == ActivationCheckpointing::full) blk.recompute_tp_s = blk.fwd_tp_s;
    // A vocab-sharded embedding's output is a partial sum over the TP group; a replicated one is
    // whole on every rank (under SP each keeps its slice of the sequence: no collective).
    pre.fwd_tp_s = tp > 1 && training.tp_plan.shard_embedding
                       ? (sp ? tp_reduce_scatter(act_bytes, pre.fwd_s) : tp_all_reduce(act_ar_bytes, pre.fwd_s))
                       : 0.0;
    pre.bwd_tp_s = sp ? tp_all_gather(act_bytes, bwd_gap) : 0.0;
    // Loss parallel: max, sum-exp and target logit all-reduced (T floats each) over the TP group.
    // Without it the head's vocab-sharded logits are all-gathered (T x V in the compute dtype).
    const bool loss_parallel = training.tp_plan.loss_parallel;
    const double gathered_logits_bytes = Td * static_cast<double>(model.vocab_size) * c;
    post.fwd_tp_s = (sp ? tp_all_gather(act_bytes, fwd_gap) : 0.0) +
                    (loss_parallel ? tp_all_reduce(Td * 4.0, post.fwd_s) : tp_all_gather(gathered_logits_bytes, post.fwd_s)) +
                    (loss_parallel ? 2.0 * tp_all_reduce(Td * 4.0, 0.0) : 0.0);
    post.bwd_tp_s = sp ? tp_reduce_scatter(act_bytes, post.bwd_s) + tp_all_reduce(d.h * ar_c, 0.0)
                       : tp_all_reduce(act_ar_bytes, post.bwd_s);
  } else {
    // FeedForward: x needs no gradient (it is the data), so w1/w3 skip dgrad and the colwise
    // input's backward all-reduce does not exist.
    blk.fwd_tp_s = sp ? g_ffn * tp_all_gather(act_bytes, 0.0) + tp_reduce_scatter(act_bytes, blk.fwd_s)
                      : tp_all_reduce(act_ar_bytes, blk.fwd_s);
    blk.bwd_tp_s = sp ? tp_all_gather(act_bytes, post.bwd_s) : 0.0;
    if (plan.ac == ActivationCheckpointing::full) blk.recompute_tp_s = blk.fwd_tp_s;
  }
  ag_block = all_gather_seconds(dp, block_unit_numel * c,
                                collective_link_after(cl, CK::all_gather, dp, tp, blk.fwd_s, &scratch));
  rs_block += backend_reduce_scatter_seconds(cl, dp, block_unit_numel * pb.reduce,
                                             collective_link_after(cl, CK::reduce_scatter, dp, tp, blk.bwd_s, &scratch));
  if (has_root) {
    ag_root = all_gather_seconds(dp, root_unit_numel * c,
                                 collective_link_after(cl, CK::all_gather, dp, tp, blk.fwd_s, &scratch));
    rs_root += backend_reduce_scatter_seconds(cl, dp, root_unit_numel * pb.reduce,
                                              collective_link_after(cl, CK::reduce_scatter, dp, tp, blk.bwd_s, &scratch));
  }

  // Optimizer. Fused AdamW reads param, grad, exp_avg, exp_avg_sq and writes param, exp_avg,
  // exp_avg_sq; the grad-norm pass reads the grads once more. The eager (composed) AdamW runs one
  // kernel per line of the algorithm (executor/trainer.cc adamw_step; torch.optim.AdamW's foreach
  // path is the same but for one lerp), each a full pass over the shard: param decay 2 accesses,
  // exp_avg mul 2 + add 3, exp_avg_sq mul 2 + addcmul 3, sqrt 2, divide 2, add eps 2, addcdiv 4:
  // 22 fp32 accesses per element (docs/cost-model.md, "Optimizer").
  const double opt_bytes =
      runtime.composed_adamw
          ? shard_numel * 22.0 * pb.optimizer_state
          : shard_numel * (pb.master_param * 2.0 + pb.grad * 2.0 + pb.optimizer_state * 4.0);
  out.optimizer_s = opt_ops_s + memory_bound_seconds(cl, opt_bytes) +
                    all_reduce_seconds(dp, 4.0, dp_ar_link) + all_reduce_seconds(tp, 4.0, tp_ar_link);
  out.ag_block_s = ag_block;
  out.rs_block_s = rs_block;
  out.ag_root_s = ag_root;
  out.rs_root_s = rs_root;
  out.ag_block_pack_s = ag_block_pack;
  out.ag_root_pack_s = ag_root_pack;
  return out;
}

}  // namespace planner
