#include <gtest/gtest.h>

#include "planner/search.h"
#include "simulator/simulator.h"
#include "support/simulators.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {

// The seed: FeedForward(8192, 8192) on 4 H100s at dp=2, tp=2, bf16-mixed, seq_len 1, 8 samples.
Simulator seed_sim() {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 4;
  TrainingSpec t;
  t.seq_len = 1;
  t.global_batch = 8;
  t.precision = Precision::bf16_mixed;
  return Simulator(resolve_model("feedforward"), t, c);
}

Plan seed_plan() {
  Plan p;
  p.dp = 2;
  p.tp = 2;
  p.micro_batch = 4;  // 8 samples / dp 2 -> 4 per rank, one micro-batch
  return p;
}

TEST(Memory, SeedFeedForwardDp2Tp2) {
  Candidate c = seed_sim().evaluate(seed_plan());
  ASSERT_TRUE(c.feasible()) << c.reason;
  const MemoryBreakdown& m = c.prediction.memory;
  // Per rank after TP (tp=2): w1, w3 colwise 4096 x 8192, w2 rowwise 8192 x 4096; FSDP (dp=2)
  // halves dim 0: 2048 x 8192 + 2048 x 8192 + 4096 x 4096 = 3 x 16,777,216 = 50,331,648 elements.
  const double shard = 50331648.0;
  EXPECT_EQ(m.master_params_bytes, shard * 4);  // fp32 master: 201,326,592 B
  EXPECT_EQ(m.grads_bytes, shard * 4);          // fp32 sharded grads
  EXPECT_EQ(m.optimizer_bytes, shard * 8);      // exp_avg + exp_avg_sq fp32: 402,653,184 B
  // One FSDP unit (the whole module) gathered in bf16: 2 x shard elements x 2 B = 201,326,592 B.
  EXPECT_EQ(m.gathered_params_bytes, 2 * shard * 2);
  EXPECT_EQ(m.unsharded_grads_bytes, 2 * shard * 2);  // its bf16 grads before reduce-scatter
  EXPECT_EQ(m.comm_buffers_bytes, 2 * shard * 4);     // fp32 reduce-scatter input
  // Activations per token: x 8192 x 2 B + 4 hidden tensors (w1 out, w3 out, silu out, product)
  // of 4096 x 2 B = 16,384 + 32,768 = 49,152 B; 4 tokens -> 196,608 B.
  EXPECT_EQ(m.activations_bytes, 196608.0);
  // MSE loss: output, target and their difference, 3 x 8192 x 2 B per token x 4 tokens.
  EXPECT_EQ(m.logits_bytes, 196608.0);
  EXPECT_EQ(m.peak_allocated_bytes, shard * (4 + 4 + 8 + 4 + 4 + 8) + 2 * 196608.0);
}

TEST(Memory, ReshardOffKeepsEveryBlockGathered) {
  Simulator sim = testing::preset_simulator("llama3-8b", "h100-sxm", /*nodes=*/2, /*seq_len=*/4096, /*global_batch=*/64);
  Plan p;
  p.dp = 8;
  p.tp = 2;
  p.micro_batch = 1;
  Candidate on = sim.evaluate(p);
  p.reshard_after_forward = false;
  Candidate off = sim.evaluate(p);
  // One block at tp=2: 218,112,000 parameters of which 8,192 norm weights stay whole:
  // (218,103,808 / 2 + 8,192) x 2 B = 218,120,192 B. Both peak in the loss's backward, where
  // resharding has no block gathered (only the root) and not resharding all 32: +32 blocks.
  const double block_bytes = (218103808.0 / 2 + 8192) * 2;
  EXPECT_STREQ(on.prediction.memory.peak_at, "loss backward");
  EXPECT_STREQ(off.prediction.memory.peak_at, "loss backward");
  EXPECT_NEAR(off.prediction.memory.gathered_params_bytes - on.prediction.memory.gathered_params_bytes, 32 * block_bytes, 1.0);
}

TEST(Memory, NoSyncAccumulatesUnshardedGrads) {
  Simulator sim = testing::preset_simulator("llama3-8b", "h100-sxm", /*nodes=*/1, /*seq_len=*/2048, /*global_batch=*/32);
  Plan p;
  p.dp = 4;
  p.tp = 2;
  p.micro_batch = 2;  // grad_accum = 32 / (4 x 2) = 4
  p.grad_sync = GradSync::last_micro_batch;
  Candidate last = sim.evaluate(p);
  p.grad_sync = GradSync::every_micro_batch;
  Candidate every = sim.evaluate(p);
  EXPECT_GT(last.prediction.memory.unsharded_grads_bytes, 4 * every.prediction.memory.unsharded_grads_bytes);
  EXPECT_LT(last.prediction.time.fsdp_reduce_scatter_s, every.prediction.time.fsdp_reduce_scatter_s);
}

TEST(Memory, ActivationCheckpointingOrder) {
  Simulator sim = testing::preset_simulator("llama3-8b", "h100-sxm", /*nodes=*/1, /*seq_len=*/8192, /*global_batch=*/16);
  Plan p;
  p.dp = 4;
  p.tp = 2;
  double prev = 1e30;
  for (auto ac : {ActivationCheckpointing::none, ActivationCheckpointing::selective, ActivationCheckpointing::full}) {
    p.ac = ac;
    Candidate cand = sim.evaluate(p);
    EXPECT_LT(cand.prediction.memory.activations_bytes, prev) << to_string(ac);
    prev = cand.prediction.memory.activations_bytes;
  }
}

TEST(Memory, SequenceParallelShardsNormInputs) {
  Simulator sim = testing::preset_simulator("llama3-8b", "h100-sxm", /*nodes=*/1, /*seq_len=*/4096, /*global_batch=*/8);
  Plan p;
  p.dp = 2;
  p.tp = 4;
  SimulationDetail off = sim.detail(p);
  p.sequence_parallel = true;
  SimulationDetail on = sim.detail(p);
  // Eager RMSNorm saves its input upcast to fp32: 4096 x 4 B = 16,384 B per token, / tp=4 under
  // SP -> 4,096 B.
  EXPECT_EQ(off.activations[0].bytes_per_token, 16384.0);
  EXPECT_EQ(on.activations[0].bytes_per_token, 4096.0);
  EXPECT_LT(on.activation_bytes_per_layer, off.activation_bytes_per_layer);
}

TEST(Memory, CompiledNormsSaveLess) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  TrainingSpec t;
  t.seq_len = 4096;
  t.global_batch = 8;
  Plan p;
  p.dp = 8;
  SimulationDetail eager = Simulator(resolve_model("llama3-8b"), t, c).detail(p);
  t.compiled = true;
  SimulationDetail compiled = Simulator(resolve_model("llama3-8b"), t, c).detail(p);
  // Per norm: eager keeps the fp32 input (16,384 B) and x*rstd in bf16 (8,192 B); fused keeps the
  // bf16 input (8,192 B). Two norms per block: 2 x 16,384 B less per token, x 4096 tokens.
  EXPECT_NEAR(eager.activation_bytes_per_layer - compiled.activation_bytes_per_layer, 2 * 16384.0 * 4096, 1.0);
}

// The executor's run on a GPU: the peak is its largest instant, not the sum of the lines.
// feedforward:8192x28672 on one H200, dp = tp = 1, micro-batch 4 x 2048 tokens:
// n = 3 x 8192 x 28672 = 704,643,072 parameters. The optimizer step is the peak: params 4n, AdamW
// 8n, all grads 4n, and AdamW's sqrt(exp_avg_sq) and its scaled copy 8n: 24n = 16,911,433,728 B
// (16,128 MiB; the executor measured 16,192 MiB on an H200, tests/data/validation-gpu). The
// backward instant (the three weight grads and their flat gradient 8n, the batch 2 x 8192 tokens
// x 8192 x 4 B) is 20n + 536,870,912 B, lower. The same plan priced for torchtitan keeps the sum.
TEST(Memory, TheExecutorOnAGpuPeaksAtItsLargestInstant) {
  ClusterSpec c = resolve_cluster("h200-sxm");
  c.gpus_per_node = 1;
  TrainingSpec t = testing::fp32_training(2048, 4);
  Plan p;
  p.micro_batch = 4;
  const double n = 3.0 * 8192 * 28672;
  const MemoryBreakdown m = Simulator(resolve_model("feedforward:8192x28672"), t, c, make_runtime(RuntimeKind::executor, c))
                                .evaluate(p)
                                .prediction.memory;
  EXPECT_EQ(m.peak_allocated_bytes, 24 * n);
  EXPECT_EQ(m.grads_bytes, 4 * n);
  EXPECT_EQ(m.activations_bytes, 0);
  const MemoryBreakdown b = Simulator(resolve_model("feedforward:8192x28672"), t, c, make_runtime(RuntimeKind::fsdp2, c))
                                .evaluate(p)
                                .prediction.memory;
  EXPECT_EQ(b.peak_allocated_bytes, b.master_params_bytes + b.grads_bytes + b.optimizer_bytes + b.gathered_params_bytes +
                                        b.unsharded_grads_bytes + b.activations_bytes + b.logits_bytes +
                                        b.comm_buffers_bytes);
}

// The executor under bf16-mixed on Gloo, line by line (docs/cost-model.md, "Memory of the
// executor"): feedforward:512x1024 at dp = 2, tp = 1, one micro-batch of 64 tokens. The unit has
// n = 3 x 512 x 1024 = 1,572,864 elements, the shard 786,432. The peak is the reduce-scatter:
//   fp32 shard 3,145,728 + AdamW 6,291,456 (master dtype, 4 B);
//   the gathered bf16 unit 3,145,728 and its bf16 gradients 3,145,728 (2 B);
//   the fp32 batch input 64 x 512 x 4 = 131,072; the target and the loss's fp32 difference 262,144;
//   the reduce in fp32: send and receive buffers 2 x 4n = 12,582,912, the output shard 3,145,728.
// Total 31,850,496 B (measured 31,719,448 B, +0.41%: docs/measurement-log.md). With
// --reduce-dtype bf16 the buffers are 2 x 2n = 6,291,456 and the output shard bf16 plus the fp32
// accumulator of Gloo's local sum and the fp32 copy of the bf16 chunk added into it,
// 786,432 x (2 + 4 + 4) = 7,864,320: 30,277,632 B.
TEST(Memory, TheExecutorPricesEachTensorInItsDtypeUnderBf16Mixed) {
  ClusterSpec c = cpu_gloo_cluster(2, 2, 2.0, 32, 16e9, 40e9);
  TrainingSpec t = testing::fp32_training(64, 2);
  t.precision = Precision::bf16_mixed;
  Plan p;
  p.dp = 2;
  const ModelSpec m = resolve_model("feedforward:512x1024");
  const MemoryBreakdown b = Simulator(m, t, c, make_runtime(RuntimeKind::executor, c)).evaluate(p).prediction.memory;
  EXPECT_STREQ(b.peak_at, "reduce-scatter");
  EXPECT_EQ(b.master_params_bytes, 3145728);
  EXPECT_EQ(b.optimizer_bytes, 6291456);
  EXPECT_EQ(b.gathered_params_bytes, 3145728);
  EXPECT_EQ(b.unsharded_grads_bytes, 3145728);
  EXPECT_EQ(b.activations_bytes, 131072);
  EXPECT_EQ(b.logits_bytes, 262144);
  EXPECT_EQ(b.comm_buffers_bytes, 12582912 + 3145728);
  EXPECT_EQ(b.peak_allocated_bytes, 31850496);
  t.reduce_dtype = ReduceDtype::bf16;
  const MemoryBreakdown r = Simulator(m, t, c, make_runtime(RuntimeKind::executor, c)).evaluate(p).prediction.memory;
  EXPECT_STREQ(r.peak_at, "reduce-scatter");
  EXPECT_EQ(r.comm_buffers_bytes, 6291456 + 7864320);
  EXPECT_EQ(r.peak_allocated_bytes, 30277632);
}

// FeedForward(1024, 4096) on one H100: n = 3 x 1024 x 4096 = 12,582,912 parameters, dp = tp = 1.
// FSDP2 runs (torchtitan, Lightning) do not wrap the model at dp = 1: nothing is gathered or
// reduced. Under bf16-mixed the fp32 params are cast per matmul by autocast and the bf16 copies
// saved for backward (2n bytes); pure bf16 computes on the params themselves.
TEST(Memory, WithoutFsdpAtDp1NothingIsGatheredOrReduced) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 1;
  TrainingSpec t;
  t.seq_len = 1;
  t.global_batch = 4;
  Plan p;
  p.micro_batch = 1;
  p.grad_sync = GradSync::last_micro_batch;  // 4 micro-batches, no sync: still no extra buffer
  const double n = 3.0 * 1024 * 4096;
  const ModelSpec m = resolve_model("feedforward:1024x4096");
  const MemoryBreakdown mixed = Simulator(m, t, c).evaluate(p).prediction.memory;
  EXPECT_EQ(mixed.master_params_bytes, 4 * n);
  EXPECT_EQ(mixed.grads_bytes, 4 * n);
  EXPECT_EQ(mixed.optimizer_bytes, 8 * n);
  EXPECT_EQ(mixed.gathered_params_bytes, 2 * n);
  EXPECT_EQ(mixed.unsharded_grads_bytes, 0);
  EXPECT_EQ(mixed.comm_buffers_bytes, 0);
  t.precision = Precision::bf16;
  const MemoryBreakdown pure = Simulator(m, t, c).evaluate(p).prediction.memory;
  EXPECT_EQ(pure.master_params_bytes, 2 * n);
  EXPECT_EQ(pure.gathered_params_bytes, 0);
  EXPECT_EQ(pure.unsharded_grads_bytes, 0);
  // At dp = 2 FSDP is back: the unit gathered (2n bf16) and, with sync only on the last
  // micro-batch, every unsharded gradient accumulated in the reduce dtype (bf16 here: 2n) plus the
  // unit's bf16 grads being computed (2n).
  c.gpus_per_node = 2;
  p.dp = 2;
  t.global_batch = 8;
  const MemoryBreakdown fsdp = Simulator(m, t, c).evaluate(p).prediction.memory;
  EXPECT_EQ(fsdp.gathered_params_bytes, 2 * n);
  EXPECT_EQ(fsdp.unsharded_grads_bytes, 2 * n + 2 * n);
}

// The same FeedForward on 2 H100s, dp = 2, pure bf16. Reducing in fp32 (FSDP2 reduce_dtype, as
// KempnerForge does) stages the unit's gradients in an fp32 buffer (4n bytes) and sends twice the
// bytes: the reduce-scatter of the unit's n fp32 elements over 2 ranks moves 1/2 x 4n bytes.
TEST(Memory, ReduceDtypeStagesAndDoublesTheReduce) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 2;
  TrainingSpec t;
  t.seq_len = 1;
  t.global_batch = 2;
  t.precision = Precision::bf16;
  Plan p;
  p.dp = 2;
  const double n = 3.0 * 1024 * 4096;
  const ModelSpec m = resolve_model("feedforward:1024x4096");
  const Prediction bf16_reduce = Simulator(m, t, c).evaluate(p).prediction;
  EXPECT_EQ(bf16_reduce.memory.comm_buffers_bytes, 0);
  t.reduce_dtype = ReduceDtype::fp32;
  const Prediction fp32_reduce = Simulator(m, t, c).evaluate(p).prediction;
  EXPECT_EQ(fp32_reduce.memory.comm_buffers_bytes, 4 * n);
  EXPECT_EQ(fp32_reduce.memory.grads_bytes, bf16_reduce.memory.grads_bytes);  // the shard keeps the param dtype
  // Ring reduce-scatter: (n-1) alpha + (n-1)/n S / B with S = 4n (fp32) vs 2n (bf16) bytes.
  const LinkSpec& l = c.intra_node;
  EXPECT_NEAR(fp32_reduce.time.fsdp_reduce_scatter_s, l.latency_s + 0.5 * 4 * n / l.effective_bw_Bps(), 1e-12);
  EXPECT_NEAR(bf16_reduce.time.fsdp_reduce_scatter_s, l.latency_s + 0.5 * 2 * n / l.effective_bw_Bps(), 1e-12);
}

// Llama-3-8B on 2 H100s, dp = 1, tp = 2, 1024 tokens per micro-batch, bf16-mixed. Gathering the
// logits (no loss parallel) holds the whole vocabulary per token instead of half of it: 1024 x
// 128256/2 x 12 B more (eager cross-entropy: 12 bytes per logit). A replicated embedding keeps all
// 128256 x 4096 rows on each TP rank: the other half in fp32 params, fp32 grads and two AdamW states.
TEST(Memory, TheVocabularyEndsOfTheTpPlan) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 2;
  TrainingSpec t;
  t.seq_len = 1024;
  t.global_batch = 1;
  Plan p;
  p.tp = 2;
  const ModelSpec m = resolve_model("llama3-8b");
  const MemoryBreakdown sharded = Simulator(m, t, c).evaluate(p).prediction.memory;
  t.tp_plan.loss_parallel = false;
  const MemoryBreakdown gathered = Simulator(m, t, c).evaluate(p).prediction.memory;
  EXPECT_EQ(gathered.logits_bytes - sharded.logits_bytes, 1024.0 * 64128 * 12);
  EXPECT_EQ(gathered.master_params_bytes, sharded.master_params_bytes);
  t.tp_plan.shard_embedding = false;
  const MemoryBreakdown replicated = Simulator(m, t, c).evaluate(p).prediction.memory;
  const double half_embedding = 64128.0 * 4096;
  EXPECT_EQ(replicated.master_params_bytes - gathered.master_params_bytes, 4 * half_embedding);
  EXPECT_EQ(replicated.grads_bytes - gathered.grads_bytes, 4 * half_embedding);
  EXPECT_EQ(replicated.optimizer_bytes - gathered.optimizer_bytes, 8 * half_embedding);
}

// Per-Linear input gathers under SP (TpPlanOptions::gather_per_linear): wq, wk and wv each save
// their own gathered copy of the norm's output, w1 and w3 theirs: 3 more residual-stream tensors
// per layer, 1024 tokens x 4096 x 2 B each. Without SP the replicated input is one tensor.
TEST(Memory, PerLinearGathersSaveACopyPerColwiseLinear) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 2;
  TrainingSpec t;
  t.seq_len = 1024;
  t.global_batch = 1;
  Plan p;
  p.tp = 2;
  p.sequence_parallel = true;
  const ModelSpec m = resolve_model("llama3-8b");
  const double shared = Simulator(m, t, c).detail(p).activation_bytes_per_layer;
  t.tp_plan.gather_per_linear = true;
  const double per_linear = Simulator(m, t, c).detail(p).activation_bytes_per_layer;
  EXPECT_EQ(per_linear - shared, 3.0 * 1024 * 4096 * 2);
  p.sequence_parallel = false;
  const double no_sp_per_linear = Simulator(m, t, c).detail(p).activation_bytes_per_layer;
  t.tp_plan.gather_per_linear = false;
  EXPECT_EQ(no_sp_per_linear, Simulator(m, t, c).detail(p).activation_bytes_per_layer);
}

// The allocator reserve is not a requirement: a plan whose peak + runtime fits but whose peak +
// reserve + runtime does not is feasible and tight; one byte less of device memory than peak +
// runtime makes it infeasible, over by that byte.
TEST(Memory, APlanThatFitsOnlyWithoutTheAllocatorReserveIsTight) {
  Simulator sim = testing::preset_simulator("llama3-8b", "h100-sxm", /*nodes=*/1, /*seq_len=*/8192, /*global_batch=*/8);
  Plan p;
  p.dp = 8;
  const MemoryBreakdown m = sim.evaluate(p).prediction.memory;
  ASSERT_GT(m.allocator_reserve_bytes, 0);
  ClusterSpec c = sim.cluster();
  c.device.memory_bytes = m.required_bytes() + m.allocator_reserve_bytes / 2;
  Candidate tight = Simulator(sim.model(), sim.training(), c).evaluate(p);
  EXPECT_TRUE(tight.feasible());
  EXPECT_TRUE(tight.prediction.memory.tight());
  c.device.memory_bytes = m.required_bytes() - 1;
  Candidate over = Simulator(sim.model(), sim.training(), c).evaluate(p);
  EXPECT_EQ(over.limit, Limit::memory);
  EXPECT_NEAR(over.memory_excess_bytes, 1.0, 1e-3);
  // Ranked after a plan that fits with the reserve, even a faster one.
  Candidate roomy = sim.evaluate(p);
  roomy.prediction.throughput.tokens_per_s = tight.prediction.throughput.tokens_per_s / 2;
  EXPECT_TRUE(better(roomy, tight));
  EXPECT_FALSE(better(tight, roomy));
}

// torchtitan's op-level selective AC saves the outputs of mm, SDPA and reduce-scatter except every
// second mm of the block (wk, wo, w3): per token of llama3-8b at tp 1, compiled (bf16): the block's
// input 2 x 4096, wq out 2 x 4096, wv out 2 x 1024, SDPA's logsumexp 4 x 32 and output 2 x 4096,
// w1 out 2 x 14336, w2 out 2 x 4096 = 63616 bytes. planner's own policy keeps every matmul and
// attention output instead (more).
TEST(Memory, TorchtitanOpSelectiveAcKeepsEveryOtherMatmul) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  TrainingSpec t;
  t.seq_len = 1024;
  t.global_batch = 8;
  t.compiled = true;
  Plan p;
  p.dp = 8;
  p.ac = ActivationCheckpointing::selective;
  const ModelSpec m = resolve_model("llama3-8b");
  t.selective_ac = SelectiveAc::torchtitan_op;
  EXPECT_EQ(Simulator(m, t, c).detail(p).activation_bytes_per_layer, 1024.0 * 63616);
  t.selective_ac = SelectiveAc::keep_matmuls;
  EXPECT_GT(Simulator(m, t, c).detail(p).activation_bytes_per_layer, 1024.0 * 63616);
}

TEST(Memory, OverCapacityIsAValueWithAReason) {
  Simulator sim = testing::preset_simulator("llama3-70b", "h100-sxm", /*nodes=*/1, /*seq_len=*/8192, /*global_batch=*/8);
  Plan p;
  p.dp = 8;
  p.tp = 1;
  Candidate cand = sim.evaluate(p);
  ASSERT_EQ(cand.limit, Limit::memory);
  EXPECT_GT(cand.memory_excess_bytes, 0);
  EXPECT_NE(cand.reason.find("GiB >"), std::string::npos) << cand.reason;
  EXPECT_NE(cand.reason.find("micro_batch 1"), std::string::npos) << cand.reason;
}

TEST(Feasibility, DivisibilityReasonsQuoteNumbers) {
  Simulator sim = testing::preset_simulator("llama3-70b", "h100-sxm", /*nodes=*/2, /*seq_len=*/8192, /*global_batch=*/6);
  Plan p;
  p.dp = 1;
  p.tp = 16;
  EXPECT_EQ(sim.evaluate(p).reason, "tp(16) does not divide num_key_value_heads (8)");
  p.dp = 4;
  p.tp = 4;
  EXPECT_EQ(sim.evaluate(p).reason, "global_batch 6 is not divisible by dp(4) * micro_batch(1) = 4");
  p.dp = 2;
  p.tp = 4;
  EXPECT_EQ(sim.evaluate(p).reason, "dp(2) * tp(4) = 8 != world size 16");
}

}  // namespace
}  // namespace planner
