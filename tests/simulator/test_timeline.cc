#include <gtest/gtest.h>

#include "planner/search.h"
#include "simulator/collectives.h"
#include "simulator/compute.h"
#include "simulator/simulator.h"
#include "support/simulators.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {

// The periodic-state shortcut of evaluate() must give what the full event-by-event timeline of
// detail() gives, for every split and knob.
TEST(Timeline, ShortcutMatchesFullTimeline) {
  for (const char* model : {"llama3-8b", "llama3-70b"}) {
    ClusterSpec c = resolve_cluster("h100-sxm");
    c.num_nodes = 2;
    TrainingSpec t;
    t.seq_len = 4096;
    t.global_batch = 32;
    Simulator sim(resolve_model(model), t, c);
    int checked = 0;
    SearchSpace space;
    space.max_micro_batch = 2;
    for_each_plan(t, c.world(), space, [&](const Plan& p) {
      Candidate fast = sim.evaluate(p);
      if (!fast.feasible() && fast.limit != Limit::memory) return;
      SimulationDetail full = sim.detail(p);
      const auto& a = fast.prediction.time;
      const auto& b = full.candidate.prediction.time;
      EXPECT_NEAR(a.step_s, b.step_s, 1e-9 * b.step_s) << model << " " << plan_label(p);
      EXPECT_NEAR(a.fsdp_exposed_s, b.fsdp_exposed_s, 1e-9 * b.step_s) << model << " " << plan_label(p);
      EXPECT_NEAR(a.fsdp_all_gather_s, b.fsdp_all_gather_s, 1e-9 * b.step_s) << model << " " << plan_label(p);
      EXPECT_NEAR(a.tp_comm_s, b.tp_comm_s, 1e-9 * b.step_s) << model << " " << plan_label(p);
      ++checked;
    });
    EXPECT_GT(checked, 20) << model;
  }
}

TEST(Timeline, TraceIsConsistent) {
  Simulator sim = testing::preset_simulator("llama3-8b", "h100-sxm", /*nodes=*/1, /*seq_len=*/2048, /*global_batch=*/8);
  Plan p;
  p.dp = 4;
  p.tp = 2;
  p.micro_batch = 1;  // 2 micro-batches
  SimulationDetail d = sim.detail(p);
  double compute_end = 0;
  for (const auto& e : d.trace) {
    if (e.stream != "compute") continue;
    EXPECT_GE(e.start_s + 1e-12, compute_end) << e.name << ": compute events must not overlap";
    compute_end = e.start_s + e.duration_s;
  }
  EXPECT_NEAR(compute_end, d.candidate.prediction.time.step_s, 1e-12);
}

// Without overlap (CPU/Gloo), the step is the sum of everything.
TEST(Timeline, NoOverlapSumsComputeAndComm) {
  ClusterSpec c = cpu_gloo_cluster(4, 4, 2.0, 32, 16e9, 40e9);
  TrainingSpec t = testing::fp32_training(16, 8);
  Simulator sim(resolve_model("feedforward:256x512"), t, c);
  Plan p;
  p.dp = 2;
  p.tp = 2;
  p.micro_batch = 2;  // grad_accum 2
  Candidate cand = sim.evaluate(p);
  ASSERT_TRUE(cand.feasible()) << cand.reason;
  const TimeBreakdown& tb = cand.prediction.time;
  EXPECT_NEAR(tb.step_s, tb.compute_s() + tb.tp_comm_s + tb.fsdp_comm_s() + tb.optimizer_s, 1e-12);
  EXPECT_NEAR(tb.fsdp_exposed_s, tb.fsdp_comm_s(), 1e-15);
}

// A single FSDP unit cannot hide its all-gather (nothing runs before it) nor its reduce-scatter
// (nothing runs after it): both are exposed.
TEST(Timeline, SingleUnitExposesItsCollectives) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 4;
  TrainingSpec t;
  t.seq_len = 1;
  t.global_batch = 8;
  Simulator sim(resolve_model("feedforward"), t, c);
  Plan p;
  p.dp = 4;
  p.tp = 1;
  p.micro_batch = 2;
  p.reshard_after_forward = false;
  Candidate cand = sim.evaluate(p);
  const TimeBreakdown& tb = cand.prediction.time;
  EXPECT_GT(tb.fsdp_all_gather_s, 0);
  EXPECT_NEAR(tb.fsdp_exposed_s, tb.fsdp_all_gather_s + tb.fsdp_reduce_scatter_s, 1e-12);
  EXPECT_NEAR(tb.step_s, tb.compute_s() + tb.tp_comm_s + tb.fsdp_exposed_s + tb.optimizer_s, 1e-12);
}

// Many identical layers: every block's all-gather and reduce-scatter hides behind the compute of
// its neighbours; what shows is the root unit's (tok_embeddings + norm + output) all-gather before
// the first layer, and after the last the reduce-scatters of layer 0 (only the short embedding
// backward follows it) and of the root.
TEST(Timeline, DeepModelHidesBlockCommExposesRoot) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  TrainingSpec t;
  t.seq_len = 8192;
  t.global_batch = 8;
  Simulator sim(resolve_model("llama3-8b"), t, c);
  Plan p;
  p.dp = 8;
  p.tp = 1;
  p.ac = ActivationCheckpointing::full;
  Candidate cand = sim.evaluate(p);
  const TimeBreakdown& tb = cand.prediction.time;
  // Root unit: 2 x 128256 x 4096 + 4096 = 1,050,677,248 parameters (padded rows: 128256 and 4096
  // are multiples of 8). Gathered in bf16, reduced in fp32, over 8 GPUs on NVLink.
  const double root = 1050677248.0, block = 218112000.0;
  const double ag_root = all_gather_seconds(8, root * 2, c.intra_node);
  const double rs_root = reduce_scatter_seconds(8, root * 4, c.intra_node);
  const double ag_block = all_gather_seconds(8, block * 2, c.intra_node);
  const double rs_block = reduce_scatter_seconds(8, block * 4, c.intra_node);
  EXPECT_GE(tb.fsdp_exposed_s, rs_root - 1e-12);
  EXPECT_LE(tb.fsdp_exposed_s, ag_root + ag_block + rs_block + rs_root + 1e-12);
  EXPECT_GT(tb.fsdp_overlapped_s(), 0.8 * tb.fsdp_comm_s());
}

// The executor over Gloo prefetches the next block's all-gather while a block computes; the
// profile's hidden_fraction h (measured by `planner calibrate`) is the part of it that hides.
// llama-tiny has 4 blocks: in forward the gathers of blocks 1..3 are prefetched behind blocks
// 0..2, in backward the gathers of blocks 2..0 behind blocks 3..1 (each block outlasts a
// gather): 6 gathers hide h of their time each. Block 0's gather is prefetched behind the
// embedding, E, shorter than it: it hides min(h x gather, E). The root's and the last block's
// backward gather are waited for at once.
// A calibrated CPU host's TP all-reduce priced after the compute before it: a FeedForward at
// dp=1 tp=2 all-reduces once a micro-batch, after its forward.
TEST(Timeline, TpAllReduceIsPricedAfterTheForwardBeforeIt) {
  ClusterSpec c = cpu_gloo_cluster(2, 2, 2.0, 32, 16e9, 40e9);
  TrainingSpec t = testing::fp32_training(16, 4);
  Plan p;
  p.dp = 1;
  p.tp = 2;  // micro-batch 1: 4 micro-batches a step
  auto with = [&](std::vector<CollectiveFitSpec> entries) {
    ClusterSpec ce = c;
    ce.collectives = std::move(entries);
    return Simulator(resolve_model("feedforward:256x512"), t, ce).detail(p);
  };
  CollectiveFitSpec at0{"all_reduce", 2, 1, {"ar2 after 0", 1e9, 100e-6, 1.0}};
  CollectiveFitSpec at1s{"all_reduce", 2, 1, {"ar2 after 1 s", 1e9, 1100e-6, 1.0}};
  at0.after_compute_s = 0;
  at1s.after_compute_s = 1.0;
  SimulationDetail base = with({at0});  // one entry: 100 us per ring step, whatever the compute
  SimulationDetail both = with({at0, at1s});
  const TimeBreakdown& tb = base.candidate.prediction.time;
  // The forward's trace event carries its math and its all-reduce (the only TP collective: the
  // FeedForward's input needs no gradient).
  double fwd_s = -1;
  for (const auto& e : base.trace)
    if (e.name == "F feed_forward") fwd_s = e.duration_s - tb.tp_comm_s / 4;
  ASSERT_GT(fwd_s, 0);
  ASSERT_LT(fwd_s, 1.0);
  // Latency interpolated at fwd_s: 100 us + 1000 us * fwd_s / 1 s per ring step; an all_reduce of
  // 2 ranks has 2 steps; 4 a step.
  const TimeBreakdown& tb2 = both.candidate.prediction.time;
  EXPECT_NEAR(tb2.tp_comm_s - tb.tp_comm_s, 4 * 2 * 1000e-6 * fwd_s, 1e-12);
  // The step also all-reduces the gradient norm's 4 bytes after the whole backward: priced on the
  // entry after the most compute, 2 steps x 1000 us more.
  EXPECT_NEAR(tb2.step_s - tb.step_s, 4 * 2 * 1000e-6 * fwd_s + 2 * 1000e-6, 1e-12);
}

// KempnerForge's TP plan gives each colwise Linear its own ColwiseParallel(input_layouts=Shard(1)):
// under SP wq, wk and wv each all-gather the norm's output and w1 and w3 each gather theirs, and
// each gather's backward reduce-scatters that Linear's input gradient. Against one shared gather
// per sub-layer (torchtitan's PrepareModuleInput) that is 2 + 1 = 3 more all-gathers forward and
// 3 more reduce-scatters backward per block, each of the residual stream: 1024 tokens x 4096 x
// 2 B = 8 MiB. llama3-8b (32 blocks), tp 2 inside one H100 node, no AC, one micro-batch.
TEST(Timeline, PerLinearInputGathersPayOneCollectivePerColwiseLinear) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  TrainingSpec t;
  t.seq_len = 1024;
  t.global_batch = 1;
  Plan p;
  p.dp = 1;
  p.tp = 2;
  p.sequence_parallel = true;
  c.gpus_per_node = 2;
  const ModelSpec m = resolve_model("llama3-8b");
  const double shared_s = Simulator(m, t, c).evaluate(p).prediction.time.tp_comm_s;
  t.tp_plan.gather_per_linear = true;
  const double per_linear_s = Simulator(m, t, c).evaluate(p).prediction.time.tp_comm_s;
  LinkSpec scratch;
  const LinkSpec& link = collective_link(c, CollectiveKind::all_gather, 2, 1, &scratch);
  const double act_bytes = 1024.0 * 4096 * 2;
  const double per_block_s = 3 * all_gather_seconds(2, act_bytes, link) + 3 * reduce_scatter_seconds(2, act_bytes, link);
  EXPECT_NEAR(per_linear_s - shared_s, 32 * per_block_s, 1e-12);
  // Without SP the forward needs no gather; backward all-reduces each colwise Linear's input
  // gradient: 3 + 2 instead of 1 + 1 all-reduces a block.
  p.sequence_parallel = false;
  const double per_linear_ar_s = Simulator(m, t, c).evaluate(p).prediction.time.tp_comm_s;
  t.tp_plan.gather_per_linear = false;
  const double shared_ar_s = Simulator(m, t, c).evaluate(p).prediction.time.tp_comm_s;
  EXPECT_NEAR(per_linear_ar_s - shared_ar_s, 32 * 3 * all_reduce_seconds(2, act_bytes, link), 1e-12);
}

// What torchtitan's op-level selective AC recomputes beyond planner's own selective policy: the
// forward of wk, wo and w3 (every second matmul) and RoPE and the residual add (memory bound:
// 2 (q + kv) + 2 h elements a token). llama3-8b, 1024 tokens, 32 blocks, one H100, one micro-batch.
TEST(Timeline, TorchtitanOpSelectiveAcRecomputesEverySecondMatmul) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 1;
  TrainingSpec t;
  t.seq_len = 1024;
  t.global_batch = 1;
  t.compiled = true;
  Plan p;
  p.ac = ActivationCheckpointing::selective;
  const ModelSpec m = resolve_model("llama3-8b");
  const double keep_s = Simulator(m, t, c).evaluate(p).prediction.time.recompute_s;
  t.selective_ac = SelectiveAc::torchtitan_op;
  const double op_s = Simulator(m, t, c).evaluate(p).prediction.time.recompute_s;
  const double T = 1024;
  const double per_block_s = linear_forward_seconds(c, 1024, 1024, 4096, 2) +   // wk
                             linear_forward_seconds(c, 1024, 4096, 4096, 2) +   // wo
                             linear_forward_seconds(c, 1024, 14336, 4096, 2) +  // w3
                             memory_bound_seconds(c, T * 2 * (2.0 * (4096 + 1024) + 2.0 * 4096));
  EXPECT_NEAR(op_s - keep_s, 32 * per_block_s, 1e-9);
}

// Eager kernels each read and write their tensors: torchtitan's RMSNorm moves 2c + 20 + (2c + 8) =
// 36 bytes per element forward (bf16) against a fused norm's 2c = 4, its complex RoPE 12 + 12 = 24
// against 4. llama3-8b (h 4096, q 4096 + kv 1024), 1024 tokens, 32 blocks and the final norm, one
// H100 (3350 GB/s at memory efficiency 0.8): the forward differs by exactly that traffic.
TEST(Timeline, EagerNormAndRopeCountEachKernelsTraffic) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.gpus_per_node = 1;
  TrainingSpec t;
  t.seq_len = 1024;
  t.global_batch = 1;
  Plan p;
  const ModelSpec m = resolve_model("llama3-8b");
  const double eager_s = Simulator(m, t, c).evaluate(p).prediction.time.forward_s;
  t.compiled = true;
  const double fused_s = Simulator(m, t, c).evaluate(p).prediction.time.forward_s;
  const double per_token = 32 * (2 * (36.0 - 4) * 4096 + (24.0 - 4) * (4096 + 1024)) + (36.0 - 4) * 4096;
  EXPECT_NEAR(eager_s - fused_s, 1024 * per_token / (3350e9 * 0.8), 1e-9);
}

// llama-tiny's step time on c with its first collective entry's hidden_fraction set to h (-1:
// none measured).
double llama_tiny_step(ClusterSpec c, const TrainingSpec& t, const Plan& p, double h) {
  c.collectives[0].hidden_fraction = h;
  return Simulator(resolve_model("llama-tiny"), t, c).evaluate(p).prediction.time.step_s;
}

TEST(Timeline, GlooPrefetchHidesTheMeasuredFraction) {
  ClusterSpec c = cpu_gloo_cluster(4, 4, 2.0, 32, 16e9, 40e9);
  CollectiveFitSpec ag;
  ag.kind = "all_gather";
  ag.group_size = 4;
  ag.stride = 1;
  ag.link = {"ag4", 10e9, 100e-6, 1.0};  // 10 GB/s, 100 us per ring step
  c.collectives.push_back(ag);
  TrainingSpec t = testing::fp32_training(64, 4);
  Plan p;
  p.dp = 4;
  p.tp = 1;
  auto step = [&](double h) { return llama_tiny_step(c, t, p, h); };
  // A block: wq, wo 256 x 256; wk, wv 256 x 128 (4 kv heads of 32); w1, w2, w3 256 x 768; two
  // norms of 256: 786,944 fp32 parameters, 3,147,776 bytes gathered.
  // all_gather over 4 ranks: 3 x 100 us + 3/4 x 3,147,776 B / 10 GB/s = 300 + 236.0832 us.
  const double gather_s = 536.0832e-6;
  EXPECT_NEAR(all_gather_seconds(4, 786944.0 * 4, ag.link), gather_s, 1e-12);
  const double none = step(-1);  // not measured, and no TP collective beside a gather: none hides
  EXPECT_NEAR(step(0.0), none, 1e-12);
  double embedding_s = -1;
  for (const auto& e : Simulator(resolve_model("llama-tiny"), t, c).detail(p).trace)
    if (e.name == "F tok_embeddings") embedding_s = e.duration_s;
  ASSERT_GT(embedding_s, 0);
  ASSERT_LT(embedding_s, 0.25 * gather_s);
  EXPECT_NEAR(none - step(1.0), 6 * gather_s + embedding_s, 1e-9);
  EXPECT_NEAR(none - step(0.25), 0.25 * 6 * gather_s + embedding_s, 1e-9);
}

// Without a measured fraction, a prefetched gather over Gloo hides behind the TP collectives that
// run while it is in flight, up to its own length, and behind no compute (docs/cost-model.md,
// "Overlap on a CPU host"). With TP all-reduces far longer than a gather, every prefetched gather
// hides whole.
TEST(Timeline, GlooPrefetchHidesBehindTheTpCollectivesBesideIt) {
  ClusterSpec c = cpu_gloo_cluster(4, 4, 2.0, 32, 16e9, 40e9);
  // The DP groups of dp=2 tp=2 (ranks {0, 2} and {1, 3}): 10 GB/s, 100 us per ring step. The TP
  // pairs ({0, 1}, {2, 3}): 1 ms per ring step, 2 steps an all-reduce.
  const CollectiveFitSpec ag{"all_gather", 2, 2, {"ag2", 10e9, 100e-6, 1.0}};
  c.collectives = {ag, {"all_reduce", 2, 1, {"ar2", 10e9, 1e-3, 1.0}}};
  TrainingSpec t = testing::fp32_training(64, 4);
  Plan p;
  p.dp = 2;
  p.tp = 2;  // 2 sequences per DP rank: 2 micro-batches
  auto step = [&](double h) { return llama_tiny_step(c, t, p, h); };
  // A block's TP shard: wq, wo, wk, wv, w1, w2, w3 halved (786,432 / 2) and the two norms of 256
  // whole: 393,728 fp32 parameters, 1,574,912 bytes gathered. all_gather over 2 ranks: 1 x 100 us
  // + 1/2 x 1,574,912 B / 10 GB/s = 178.7456 us, shorter than one TP all-reduce (2 ms).
  const double gather_s = 178.7456e-6;
  EXPECT_NEAR(all_gather_seconds(2, 393728.0 * 4, ag.link), gather_s, 1e-12);
  // Prefetched per micro-batch: block 0 beside the embedding (its all-reduce), blocks 1-3 beside
  // the forward of blocks 0-2, blocks 2-0 beside the backward of blocks 3-1; the root, and block 3
  // for backward, are waited for at once. 7 gathers x 2 micro-batches hide.
  EXPECT_NEAR(step(0.0) - step(-1), 2 * 7 * gather_s, 1e-9);
  EXPECT_NEAR(step(1.0), step(-1), 1e-9);  // every one of them hides whole either way
}

TEST(Throughput, MfuDefinition) {
  Simulator sim = testing::preset_simulator("llama3-8b", "h100-sxm", /*nodes=*/1, /*seq_len=*/8192, /*global_batch=*/16);
  // 6 N + 12 L (heads x head_dim) s = 6 x 7,504,658,432 + 12 x 32 x 4096 x 8192.
  EXPECT_DOUBLE_EQ(sim.model_flops_per_token(), 6.0 * 7504658432.0 + 12.0 * 32 * 4096 * 8192);
  Plan p;
  p.dp = 8;
  p.tp = 1;
  p.ac = ActivationCheckpointing::full;
  Candidate cand = sim.evaluate(p);
  const auto& th = cand.prediction.throughput;
  EXPECT_NEAR(th.tokens_per_s, 16.0 * 8192 / cand.prediction.time.step_s, 1e-6);
  EXPECT_NEAR(th.mfu, th.model_flops_per_token * th.tokens_per_s / 8 / 989.4e12, 1e-12);
  EXPECT_GT(th.mfu, 0.2);
  EXPECT_LT(th.mfu, 0.75);  // below the GEMM efficiency ceiling
}

}  // namespace
}  // namespace planner
