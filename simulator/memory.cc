#include "simulator/memory.h"

#include <algorithm>
#include <array>

namespace planner {

// torchtitan's op-level selective AC (SelectiveAc::torchtitan_op; torchtitan's
// _apply_ac_to_transformer_block, its _save_list and _custom_policy): inside a block the outputs of
// mm, SDPA and reduce-scatter are saved, except every second mm counted in the block's order wq,
// wk, wv, wo, w1, w3, w2 (wk, wo, w3); everything else is recomputed from the block's input. The
// kept lines are those saved outputs; the others are what the block's backward recomputes.
static ActTable torchtitan_op_sac_activations(const LocalDims& d, KernelFlavor k, bool fused_norms, bool copies) {
  ActTable t;
  const double c = d.c;
  const double sp_div = d.h / d.hs;
  t.add("block input (checkpoint)", c * d.hs, true);
  if (!fused_norms) t.add("attention_norm input (fp32 copy, eager)", 4.0 * d.hs, false);
  t.add("attention_norm rstd", 4.0 / sp_div, false);
  t.add(copies ? "wq/wk/wv inputs (norm out, 3 all-gathered copies)" : "wq/wk/wv input (norm out)",
        (copies ? 3.0 : 1.0) * c * d.h, false);
  t.add("wq out (saved mm)", c * d.q, true);
  t.add("wv out (saved mm)", c * d.kv, true);
  t.add("q, k, v (rotated, expanded to all heads)", 3.0 * c * d.q, false);
  if (k == KernelFlavor::fused) {
    t.add("attention logsumexp (saved SDPA)", 4.0 * d.heads, true);
  } else {
    t.add("attention probabilities (softmax out)", c * d.heads * d.s, false);
  }
  t.add("attention out (saved SDPA, wo input)", c * d.q, true);
  // wo's mm is recomputed; under SP its reduce-scatter's output is saved.
  if (d.sp) t.add("wo reduce-scatter out (saved)", c * d.hs, true);
  t.add("ffn_norm input (residual)", c * d.hs, false);
  t.add("ffn_norm rstd", 4.0 / sp_div, false);
  t.add(copies ? "w1/w3 inputs (norm out, 2 all-gathered copies)" : "w1/w3 input (norm out)",
        (copies ? 2.0 : 1.0) * c * d.h, false);
  t.add("w1 out (saved mm, silu input)", c * d.f, true);
  t.add("w3 out, silu out, silu*w3", 3.0 * c * d.f, false);
  t.add("w2 out (saved mm)", c * d.h, true);
  if (d.sp) t.add("w2 reduce-scatter out (saved)", c * d.hs, true);
  return t;
}

// Norms: fused (torch.compile) saves the input and rstd; eager RMSNorm (torchtitan's
// x.float() * rsqrt(mean(x^2) + eps), then .type_as(x) * weight) saves the fp32 input, rstd and
// the normalized tensor in the compute dtype.
ActTable block_activations(const ModelSpec& m, const LocalDims& d, KernelFlavor k, bool fused_norms,
                           bool gather_per_linear, ActivationCheckpointing ac, SelectiveAc selective) {
  // torchtitan's op-level policy has its own lines; they are those of selective AC only.
  if (m.kind == ModelKind::llama && ac == ActivationCheckpointing::selective &&
      selective == SelectiveAc::torchtitan_op)
    return torchtitan_op_sac_activations(d, k, fused_norms, gather_per_linear && d.sp);
  ActTable t;
  // Under SP a shared PrepareModuleInput gathers a sub-layer's input once; per-Linear input layouts
  // gather (and save) one copy per colwise Linear: 3 for wq/wk/wv, 2 for w1/w3. Without SP the
  // replicated input is one tensor whatever the plan.
  const bool copies = gather_per_linear && d.sp;
  const double c = d.c;
  const double sp_div = d.h / d.hs;  // tp under SP, else 1
  if (m.kind == ModelKind::feedforward) {
    t.add(copies ? "x (w1/w3 inputs, 2 all-gathered copies)" : "x (w1/w3 input)", (copies ? 2.0 : 1.0) * c * d.h, true);
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
  if (copies) {
    t.add("wq/wk/wv inputs (norm out, 3 all-gathered copies)", 3.0 * c * d.h, false);
  } else {
    t.add(d.sp ? "wq/wk/wv input (norm out, all-gathered)" : "wq/wk/wv input (norm out)", c * d.h, false);
  }
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
  if (copies) {
    t.add("w1/w3 inputs (norm out, 2 all-gathered copies)", 2.0 * c * d.h, false);
  } else {
    t.add(d.sp ? "w1/w3 input (norm out, all-gathered)" : "w1/w3 input (norm out)", c * d.h, false);
  }
  t.add("w1 out (silu input)", c * d.f, true);
  t.add("w3 out", c * d.f, true);
  t.add("silu out", c * d.f, false);
  t.add("silu*w3 (w2 input)", c * d.f, false);
  return t;
}

MemoryBreakdown predict_memory(const ModelSpec& model, const TrainingSpec& training, const ClusterSpec& cl,
                               const Runtime& runtime, const Plan& plan, const PlanShape& ps) {
  MemoryBreakdown mem;
  const PrecisionBytes& pb = ps.bytes;
  const int cb = pb.compute;
  const double c = cb;
  const bool llama = ps.llama;
  const int64_t L = ps.n_layers;
  const double Td = ps.tokens_d;
  const int64_t ga = ps.grad_accum;
  const int64_t dp = plan.dp, tp = plan.tp;
  const LocalDims& d = ps.d;
  const double shard_numel = ps.shards.shard_numel;
  const double block_shard_numel = ps.shards.block_shard_numel, root_shard_numel = ps.shards.root_shard_numel;
  const double block_unit_numel = ps.shards.block_unit_numel, root_unit_numel = ps.shards.root_unit_numel;

  mem.master_params_bytes = shard_numel * pb.master_param;
  const bool accumulate_unsharded = plan.grad_sync == GradSync::last_micro_batch && ga > 1;
  // The sharded gradients exist from a unit's first reduce-scatter to the optimizer's zero_grad.
  // With gradient sync on the last micro-batch only, that first reduce is in the last backward,
  // which frees the unit's unsharded accumulators as it fills its shard: at the peak (any forward
  // after the first micro-batch) the shards are not allocated yet, the accumulators are.
  const double shard_grads_bytes = shard_numel * pb.grad;
  mem.grads_bytes = accumulate_unsharded && dp > 1 ? 0.0 : shard_grads_bytes;
  mem.optimizer_bytes = 2.0 * shard_numel * pb.optimizer_state;
  const double block_bytes_c = block_unit_numel * c;
  const double root_bytes_c = root_unit_numel * c;
  const double blocks_alive = plan.reshard_after_forward ? static_cast<double>(std::min<int64_t>(L, 2)) : static_cast<double>(L);
  mem.gathered_params_bytes = root_bytes_c + blocks_alive * block_bytes_c;
  if (accumulate_unsharded)
    mem.unsharded_grads_bytes = (L * block_unit_numel + root_unit_numel) * pb.reduce + block_bytes_c;
  else
    mem.unsharded_grads_bytes = root_bytes_c + block_bytes_c;
  // FSDP2 casts a unit's unsharded gradients to the reduce dtype into a separate buffer when the
  // two differ (bf16 compute, fp32 reduce); Gloo's emulated reduce-scatter always stages.
  const bool staged_reduce = pb.reduce != pb.compute || cl.backend == "gloo";
  mem.comm_buffers_bytes = staged_reduce ? block_unit_numel * pb.reduce : 0.0;
  if (dp == 1 && !runtime.fsdp_at_dp1) {
    // Without FSDP (dp = 1): the gradients accumulate in the parameters' .grad (the grads line),
    // nothing is gathered or reduced. Under bf16-mixed the parameters stay fp32 and autocast casts
    // each weight to bf16 for its matmul, which saves the cast for backward: every unit's bf16
    // copy is alive at the start of backward (not the embedding's: a lookup is not autocast).
    const double units_numel = static_cast<double>(L) * block_unit_numel + root_unit_numel - ps.shards.embedding_numel;
    mem.gathered_params_bytes = pb.compute != pb.master_param ? units_numel * c : 0.0;
    mem.unsharded_grads_bytes = 0;
    mem.comm_buffers_bytes = 0;
  }

  const ActTable acts = block_activations(model, d, runtime.kernels, training.compiled,
                                         training.tp_plan.gather_per_linear, plan.ac, training.selective_ac);
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
    // Logits per token: vocab-sharded under loss parallel, the whole vocabulary once gathered.
    const double v = static_cast<double>(model.vocab_size) / (training.tp_plan.loss_parallel ? tp : 1);
    // Eager cross-entropy on logits.float(): forward holds the logits (c), their fp32 copy and
    // log_softmax's output (4 + 4); backward holds that saved output, nll_loss's gradient and
    // log_softmax's input gradient (4 + 4 + 4), the fp32 copy being gone (log_softmax's backward
    // needs only its output). The larger of the two: 12 bytes per logit.
    // Cross-entropy on the compute-dtype logits (loss_dtype compute, KempnerForge): the caller
    // keeps the logits through backward and log_softmax saves its output (2 c); backward adds
    // nll_loss's gradient and log_softmax's input gradient (4 c). No fp32 copy.
    const double logit_bytes = training.loss_dtype == LossDtype::compute && cb < 4
                                   ? 4.0 * c
                                   : std::max(c + (cb < 4 ? 4.0 : 0.0) + 4.0, 12.0);
    const double norm_saved = training.compiled ? c * d.hs + 4.0 / (d.h / d.hs) : 4.0 * d.hs + c * d.hs + 4.0 / (d.h / d.hs);
    mem.logits_bytes = Td * (v * logit_bytes + norm_saved + c * d.h);
  } else {
    mem.logits_bytes = Td * 3.0 * c * d.h;  // output, target, (output - target) saved by the MSE loss
  }
  mem.peak_allocated_bytes = mem.master_params_bytes + mem.grads_bytes + mem.optimizer_bytes +
                             mem.gathered_params_bytes + mem.unsharded_grads_bytes + mem.activations_bytes +
                             mem.logits_bytes + mem.comm_buffers_bytes;
  if (!runtime.memory_at_instants && llama) {
    // FSDP2 runs (torchtitan, Lightning, KempnerForge): not every line is at its largest at the
    // same moment. The peak is the larger of two instants (docs/cost-model.md, "Memory"):
    //  - loss backward: every block's saved tensors and the loss's vocab-sized temporaries; no
    //    block is recomputed yet, only the root unit is gathered (FSDP2 does not reshard the root
    //    after forward; with reshard after forward off every block stays gathered too), no
    //    reduce-scatter is in flight, no block gradient exists yet;
    //  - the last block's backward: its recomputed tensors, it and the prefetched block gathered,
    //    its fresh unsharded gradients, the root's waiting ones and a reduce-scatter's staging; the
    //    loss temporaries are
    //    gone, except the logits themselves when the training loop keeps them (loss dtype
    //    compute: KempnerForge's loop holds `logits` through backward; torchtitan deletes `pred`).
    // The sharded gradients, the accumulators of gradient sync on the last micro-batch, the
    // parameters and AdamW states are alive at both.
    const bool fsdp = !(dp == 1 && !runtime.fsdp_at_dp1);
    const double kept_all = Td * static_cast<double>(L) * kept_per_token;
    const double acc_bytes = accumulate_unsharded && fsdp ? mem.unsharded_grads_bytes - block_bytes_c : 0.0;
    const double gathered_loss =
        fsdp ? root_bytes_c + (plan.reshard_after_forward ? 0.0 : static_cast<double>(L) * block_bytes_c)
             : mem.gathered_params_bytes;
    const double v_local = static_cast<double>(model.vocab_size) / (training.tp_plan.loss_parallel ? tp : 1);
    const double logits_kept = training.loss_dtype == LossDtype::compute ? Td * v_local * c : 0.0;
    const double base = mem.master_params_bytes + mem.grads_bytes + mem.optimizer_bytes;
    const double loss_instant = base + gathered_loss + acc_bytes + kept_all + mem.logits_bytes;
    // The root's gradients (output head, final norm) come first in backward and wait for the
    // root's post-backward at the very end; the embedding's come last.
    const double root_pending = (root_unit_numel - ps.shards.embedding_numel) * c;
    const double block_grads = fsdp ? acc_bytes + root_pending + block_bytes_c : 0.0;
    const double block_instant = base + mem.gathered_params_bytes + block_grads + mem.activations_bytes +
                                 logits_kept + mem.comm_buffers_bytes;
    if (loss_instant >= block_instant) {
      mem.gathered_params_bytes = gathered_loss;
      mem.unsharded_grads_bytes = acc_bytes;
      mem.activations_bytes = kept_all;
      mem.comm_buffers_bytes = 0.0;
      mem.peak_allocated_bytes = loss_instant;
      mem.peak_at = "loss backward";
    } else {
      mem.unsharded_grads_bytes = block_grads;
      mem.logits_bytes = logits_kept;
      mem.peak_allocated_bytes = block_instant;
      mem.peak_at = "last block's backward";
    }
  }
  mem.allocator_reserve_bytes = mem.peak_allocated_bytes * cl.allocator_fragmentation;
  mem.runtime_reserved_bytes = cl.runtime_reserved_bytes;
  mem.capacity_bytes = cl.device.memory_bytes;
  if (runtime.memory_at_instants) {
    // The executor (executor/, on CPU/Gloo or GPU/NCCL) frees and allocates at known
    // points, so its peak is the largest of a few instants (docs/cost-model.md, "Memory of the
    // executor"), not a sum of every line's maximum. Other runs (torchtitan/FSDP2) keep the sum.
    // Shards: params P, grads G (absent until a unit's first reduce when
    // there is one micro-batch), AdamW states. dp > 1: a unit is gathered into a buffer, copied
    // into its full params, its grads copied into a zeroed buffer whose Gloo reduce-scatter
    // (all_to_all) receives into another unit-sized buffer. dp = 1: the params live on the flat
    // shard; a unit's param grads wait until the last of them is computed, then are copied into
    // one unit-sized flat gradient (SplitUnit in executor/model.cc).
    // Every size below is one tensor the executor allocates, in its dtype (docs/cost-model.md,
    // "Memory of the executor"): master (the flat shard, its gradient, AdamW), compute (gathered
    // parameters, their gradients, activations), reduce (the reduce-scatter's buffers).
    const double P = mem.master_params_bytes, adam = mem.optimizer_bytes, G_full = shard_grads_bytes;
    const double G_first = ga > 1 ? G_full : 0.0;  // shard grads alive during backward
    const double R = root_unit_numel * c, Bk = block_unit_numel * c;  // gathered units, their grads
    const double shard_R = root_shard_numel * pb.grad, shard_B = block_shard_numel * pb.grad;
    const double A = Td * kept_per_token;    // one block's saved tensors
    const double x_bytes = Td * c * d.h;     // one residual-stream tensor
    const double x32 = Td * 4.0 * d.h;       // one fp32 tensor of the residual's shape
    const double Ld = static_cast<double>(L);
    const bool fsdp = dp > 1;
    const bool reshard = plan.reshard_after_forward;
    const bool gloo = cl.backend == "gloo";
    // bf16-mixed: the compute dtype differs from the master dtype, so a unit's parameters are a
    // cast copy of its shard: before the all-gather (one shard in the compute dtype, alive while
    // a prefetch is in flight), or at dp = 1 the whole unit (alive until the unit's backward).
    const bool cast = pb.compute != pb.master_param;
    const double cast_B = cast ? block_shard_numel * c : 0.0;
    // The flat gradient of a unit at dp = 1 (the master dtype) and its parameters' cast copies.
    const double flat_R = root_unit_numel * pb.grad, flat_B = block_unit_numel * pb.grad;
    const double acc = accumulate_unsharded ? (Ld * block_unit_numel + root_unit_numel) * pb.reduce : 0.0;  // grad_sync=last accumulators
    // A reduce's buffers, in the reduce dtype: the zeroed send buffer, and on Gloo the all_to_all
    // receive buffer of the emulated reduce-scatter (NCCL reduces in place); then the output
    // shard, and on Gloo under a bf16 reduce the fp32 accumulator of the local sum and the fp32
    // copy LibTorch makes of each bf16 chunk it adds into it (a shard each).
    const double reduce_bufs = gloo ? 2.0 : 1.0;
    const double reduce_B = reduce_bufs * block_unit_numel * pb.reduce, reduce_R = reduce_bufs * root_unit_numel * pb.reduce;
    const double out_per_elt = pb.reduce + (gloo && pb.reduce < 4 ? 8.0 : 0.0);
    const double out_B = block_shard_numel * out_per_elt, out_R = root_shard_numel * out_per_elt;
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
      const double vl = static_cast<double>(model.vocab_size) / tp;
      const double logit = Td * vl * 4.0;                  // one fp32 (T, V/tp) tensor
      const double logit_c = Td * vl * c;                  // the logits in the compute dtype
      const double head_w = vl * d.h * c;                  // output weight (its grad)
      // Final norm: its input's fp32 copy (the input itself under fp32), rstd, x*rstd, output.
      const double norm_saved = x32 + 2.0 * x_bytes + 4.0 * Td;
      // Forward end: the logits, and the loss's fp32 logits - max and exp alive at once (the
      // fp32 upcast is freed before exp; under fp32 it is the logits themselves).
      const double fwd_tail = norm_saved + logit_c + 2.0 * logit;
      // Loss backward: saved softmax + its gradient (+ its cast to the compute dtype); then the
      // head's matmul backward: logits grad, hidden grad and the output weight's grad.
      const double bwd_tail = norm_saved + std::max(2.0 * logit + (cast ? logit_c : 0.0), logit_c + x_bytes);
      const double gathered_fwd = fsdp ? R + (reshard ? 0.0 : Ld * Bk) : (cast ? R + Ld * Bk : 0.0);
      at.push_back({G_first, gathered_fwd, acc, Ld * A, fwd_tail, 0, 0, "forward end"});
      if (fsdp) {
        // Head backward: the output weight's grad waits for the root's reduce at the end.
        at.push_back({G_first, gathered_fwd, acc + head_w + d.h * c, Ld * A, bwd_tail, 0, 0, "output head backward"});
        // Last block's gradient hook: it is gathered again, then the block before is prefetched
        // into a unit-sized buffer.
        if (reshard && L > 1)
          at.push_back({G_first, R + Bk, acc + head_w + d.h * c, Ld * A, x_bytes, Bk + cast_B, 0, "last block re-gathered"});
        // Last block's reduce: its full params, the prefetch (landed: on Gloo the executor
        // finishes it before allocating the reduce's buffers, so Gloo's own flat all_gather
        // output is gone), its grads, the zeroed send buffer, the all_to_all receive buffer and
        // the output shard.
        const double prefetch = reshard && L > 1 ? Bk : 0.0;
        if (L > 0)
          at.push_back({G_first, R + (reshard ? Bk : Ld * Bk), acc + head_w + d.h * c + Bk, (Ld - 1) * A, x_bytes,
                        prefetch + reduce_B + out_B, 0, "last block's reduce-scatter"});
        // Root's reduce at the end of backward: all its grads, send and receive buffers.
        at.push_back({ga > 1 ? G_full : Ld * shard_B, R, acc + R, 0, 0, reduce_R + out_R, 0, "root's reduce-scatter"});
      } else {
        // dp = 1: a unit's SplitUnit node runs once all its param grads are computed (it was
        // created before the unit's ops, so autograd runs it before the block below), with the
        // grads and the flat gradient they are copied into alive: 2 Bk. The root's grads (the
        // head's weight and the final norm) wait for the root's node at the very end. Going down
        // the blocks one A of activations is freed and one Bk of shard grad kept per block, so
        // the largest of these instants is at the first or the last block. Under bf16-mixed the
        // grads are in the compute dtype, the flat gradient in the master dtype, and the units
        // whose backward has not run yet still hold their cast copies.
        const double root_pending = head_w + d.h * c;
        if (L > 0) {
          at.push_back({G_first, cast ? R + (Ld - 1) * Bk : 0.0, acc + root_pending + Bk + flat_B, (Ld - 1) * A, x_bytes,
                        0, 0, "last block's flat gradient"});
          at.push_back({ga > 1 ? G_full : (Ld - 1) * shard_B, cast ? R : 0.0, acc + root_pending + Bk + flat_B, 0, x_bytes,
                        0, 0, "first block's flat gradient"});
        }
        // End of backward: the root's grads and its flat gradient.
        at.push_back({ga > 1 ? G_full : Ld * shard_B, 0, acc + R + flat_R, 0, 0, 0, 0, "root's flat gradient"});
      }
    } else {
      // FeedForward: one unit; the batch input and target (fp32 data), and the loss's saved
      // fp32 difference. Under bf16-mixed the input's cast copy is the activation x (in A) and
      // the fp32 input stays alive beside it.
      const double loss_tail = 2.0 * x32;  // target, output - target
      const double input_beside = cast ? x32 : 0.0;
      if (fsdp) {
        at.push_back({G_first, Bk, acc, A, loss_tail + input_beside, 0, 0, "forward end"});
        // Backward hook re-gathers the unit (reshard) before its grads come: buffer + full params.
        if (reshard)
          at.push_back({G_first, Bk, acc, A, loss_tail + input_beside + x_bytes, Bk, 0, "re-gathered for backward"});
        // The reduce: full params, grads, send and receive buffers, output shard; the activations
        // are freed by then, the batch is not.
        at.push_back({G_first, Bk, acc + Bk, x32, loss_tail, reduce_B + out_B, 0, "reduce-scatter"});
      } else {
        // dp = 1: the three weight grads and the flat gradient they are copied into. The batch
        // is alive.
        at.push_back({G_first, 0, acc + Bk + flat_B, 0, 2.0 * x32, 0, 0, "flat gradient"});
        at.push_back({G_first, cast ? Bk : 0.0, acc, A, loss_tail + input_beside, 0, 0, "forward end"});
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
  return mem;
}

std::vector<ActivationLine> activation_lines(const ModelSpec& m, const Plan& p, const PlanShape& s, KernelFlavor k,
                                             bool fused_norms, bool gather_per_linear, SelectiveAc selective,
                                             double* kept_bytes_per_layer) {
  std::vector<ActivationLine> out;
  double kept_bytes = 0;
  const ActTable acts = block_activations(m, s.d, k, fused_norms, gather_per_linear, p.ac, selective);
  const double T = s.tokens_d;
  if (p.ac == ActivationCheckpointing::full) {
    const double input = s.bytes.compute * (s.llama ? s.d.hs : s.d.h);
    out.push_back({"block input (checkpoint)", input, true});
    kept_bytes += T * input;
  }
  for (int i = 0; i < acts.n; ++i) {
    const bool kept = p.ac == ActivationCheckpointing::none ||
                      (p.ac == ActivationCheckpointing::selective && acts.items[i].selective_keep);
    out.push_back({acts.items[i].name, acts.items[i].bytes_per_token, kept});
    if (kept) kept_bytes += T * acts.items[i].bytes_per_token;
  }
  if (kept_bytes_per_layer) *kept_bytes_per_layer = kept_bytes;
  return out;
}

}  // namespace planner
