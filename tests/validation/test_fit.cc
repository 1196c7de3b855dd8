// The calibration fits recover known parameters from synthetic data (numbers worked in each test);
// the profile and its side document carry them; a profile from another machine is named field by
// field. No LibTorch: the samples are what the executor's measurements return (executor/samples.h).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/cluster_spec.h"
#include "core/json_io.h"
#include "simulator/simulator.h"
#include "topology/cluster_presets.h"
#include "validation/calibration.h"
#include "validation/fit.h"

#include "support/simulators.h"

using namespace planner;
using namespace planner::validation;

TEST(Fit, RelativeLeastSquaresIsExactOnExactData) {
  // y = 2 + 3x at x = 1, 2, 4: 5, 8, 14.
  LinearFit f = fit_relative_least_squares({1, 1, 1, 2, 1, 4}, {5, 8, 14}, 2);
  EXPECT_NEAR(f.coef[0], 2.0, 1e-9);
  EXPECT_NEAR(f.coef[1], 3.0, 1e-9);
  EXPECT_LT(f.max_abs_rel, 1e-12);
}

TEST(Fit, NegativeCoefficientIsPinnedToZero) {
  // y = 10x - 1 at x = 1, 2 (9, 19) with a floor: a non-negative intercept cannot be -1, so it is
  // pinned to 0 and the slope refitted through the origin: minimise (b/9 - 1)^2 + (2b/19 - 1)^2
  // -> b = (1/9 + 2/19) / (1/81 + 4/361) = 9.4972...
  LinearFit f = fit_relative_least_squares({1, 1, 1, 2}, {9, 19}, 2);
  EXPECT_EQ(f.coef[0], 0.0);
  const double b = (1.0 / 9 + 2.0 / 19) / (1.0 / 81 + 4.0 / 361);
  EXPECT_NEAR(f.coef[1], b, 1e-9);
  EXPECT_NEAR(f.residual_rel[0], (b - 9) / 9, 1e-12);
}

TEST(Fit, GemmRecoversEfficiencyAndOverhead) {
  // Peak 100 GFLOP/s, efficiency 0.5 (50 GFLOP/s), overhead 10 us.
  // 64^3 GEMM: 2 * 262144 = 524288 FLOP -> 10.48576 us + 10 us = 20.48576 us.
  const double peak = 100e9;
  std::vector<GemmSample> s;
  for (int64_t n : {64, 128, 256, 512}) {
    const double flops = 2.0 * n * n * n;
    s.push_back({n, n, n, 1, 10e-6 + flops / 50e9, "square"});
  }
  EXPECT_NEAR(s[0].seconds, 20.48576e-6, 1e-12);
  GemmFit g = fit_gemm(s, peak);
  EXPECT_NEAR(g.efficiency, 0.5, 1e-9);
  EXPECT_NEAR(g.overhead_s, 10e-6, 1e-12);
  EXPECT_LT(g.fit.rms_rel, 1e-9);
}

TEST(Fit, AlphaBetaRecoversLatencyAndBandwidthAcrossKindsAndGroups) {
  // alpha = 50 us per ring step, B = 1 GB/s, Gloo memory bandwidth 10 GB/s.
  // all_reduce of 1 MB on 4 ranks: 2*3*50us + 2*3/4 * 1e6 / 1e9 = 300 us + 1500 us = 1800 us.
  // reduce_scatter of 1 MB on 2 ranks: 50 us + 0.5 ms + local sum (1e6 + 5e5) / 1e10 = 150 us -> 700 us.
  const double alpha = 50e-6, B = 1e9, mem = 10e9;
  std::vector<CollectiveSample> s;
  for (auto k : {FitCollective::all_gather, FitCollective::reduce_scatter, FitCollective::all_reduce})
    for (int64_t n : {2, 4})
      for (double bytes : {4096.0, 65536.0, 1e6}) {
        CollectiveSample c{k, n, 1, bytes, 0};
        CollectiveTerms t = collective_terms(c, "gloo", mem);
        c.seconds = t.steps * alpha + t.bus_bytes / B + t.extra_s;
        s.push_back(c);
      }
  EXPECT_NEAR(s[17].seconds, 1800e-6, 1e-12);  // all_reduce, n=4, 1 MB
  EXPECT_NEAR(s[8].seconds, 700e-6, 1e-12);    // reduce_scatter, n=2... index 6..8 is n=2
  AlphaBetaFit f = fit_alpha_beta(s, "gloo", mem);
  EXPECT_NEAR(f.latency_s, alpha, 1e-12);
  EXPECT_NEAR(f.bw_Bps, B, 1e-3);
  EXPECT_LT(f.fit.max_abs_rel, 1e-9);
}

TEST(Fit, NoGrowthWithSizeFallsBackToTheBestThroughput) {
  // all_gather on 2 ranks: 4 KiB in 100 us, 64 KiB in 90 us (noise): no byte-proportional time.
  // Bus bytes (n-1)/n * S = 2048 and 32768; the best throughput 32768 B / 90 us = 364.1 MB/s
  // becomes the bandwidth.
  std::vector<CollectiveSample> s{{FitCollective::all_gather, 2, 1, 4096, 100e-6},
                                  {FitCollective::all_gather, 2, 1, 65536, 90e-6}};
  AlphaBetaFit f = fit_alpha_beta(s, "gloo", 10e9);
  EXPECT_TRUE(f.bandwidth_from_best_sample);
  EXPECT_NEAR(f.bw_Bps, 32768 / 90e-6, 1.0);
  EXPECT_GT(f.latency_s, 0.0);
}

TEST(Fit, MemoryRecoversBandwidth) {
  // 4 GB/s plus 2 us per call: 12 MB -> 3 ms + 2 us.
  std::vector<MemorySample> s;
  for (double b : {12e3, 12e4, 12e5, 12e6}) s.push_back({b, 2e-6 + b / 4e9});
  MemoryFit m = fit_memory(s);
  EXPECT_NEAR(m.bw_Bps, 4e9, 1.0);
  EXPECT_NEAR(m.overhead_s, 2e-6, 1e-12);
}

// The cluster whose peaks the fits scale: 100 GFLOP/s, 8 GB/s of memory, 1 GB/s links.
static ClusterSpec fit_base(const std::string& backend, int gpus_per_node) {
  ClusterSpec base;
  base.name = "x";
  base.backend = backend;
  base.gpus_per_node = gpus_per_node;
  base.device.peak_fp32_flops_per_s = base.device.peak_bf16_flops_per_s = 100e9;
  base.device.memory_bytes = 1e9;
  base.device.mem_bw_Bps = 8e9;
  base.intra_node = {"link", 1e9, 1e-5, 1.0};
  base.inter_node = {"net", 1e9, 1e-5, 1.0};
  return base;
}

TEST(Fit, ProfileCarriesTheFitsAndReadsBack) {
  ClusterSpec base = fit_base("gloo", 2);
  base.device.kind = "cpu";
  std::vector<GemmSample> g;
  for (int64_t n : {64, 256}) g.push_back({n, n, n, 1, 5e-6 + 2.0 * n * n * n / 40e9, ""});
  std::vector<GemmSample> att{{64, 64, 32, 8, 2.0 * 8 * 64 * 64 * 32 / 20e9, ""}};
  std::vector<MemorySample> m{{12e3, 12e3 / 4e9}, {12e6, 12e6 / 4e9}};
  std::vector<CollectiveSample> c;
  for (double b : {4096.0, 1e6}) c.push_back({FitCollective::all_gather, 2, 1, b, 30e-6 + 0.5 * b / 2e9});
  HostIdentity h{"hostA", "CPU A", 2, ""};
  CalibrationResult r = fit_calibration(base, h, g, att, m, c, 20e-6);
  EXPECT_NEAR(r.profile.efficiency.gemm, 0.4, 1e-9);        // 40 / 100 GFLOP/s
  EXPECT_NEAR(r.profile.efficiency.gemm_overhead_s, 5e-6, 1e-12);
  EXPECT_NEAR(r.profile.efficiency.op_overhead_s, 20e-6, 1e-15);  // the eager-op probe, not the GEMM fit
  EXPECT_NEAR(r.profile.efficiency.attention, 0.2, 1e-9);   // 20 / 100
  EXPECT_NEAR(r.profile.efficiency.memory, 0.5, 1e-9);      // 4 / 8 GB/s
  EXPECT_NEAR(r.profile.intra_node.bw_Bps, 2e9, 1.0);
  EXPECT_NEAR(r.profile.intra_node.latency_s, 30e-6, 1e-12);
  // The profile is an ordinary cluster file.
  Json j = cluster_to_json(r.profile);
  ClusterSpec back = cluster_from_json(JsonReader(j, "profile.json"));
  EXPECT_NEAR(back.efficiency.gemm, 0.4, 1e-9);
  EXPECT_NEAR(back.efficiency.op_overhead_s, 20e-6, 1e-12);
  EXPECT_EQ(r.document["host"]["hostname"], "hostA");
  EXPECT_EQ(r.document["gemm"]["samples"].size(), 2u);
  // One table entry for the one kind and group measured, with the same numbers.
  ASSERT_EQ(back.collectives.size(), 1u);
  EXPECT_EQ(back.collectives[0].kind, "all_gather");
  EXPECT_EQ(back.collectives[0].group_size, 2);
  EXPECT_NEAR(back.collectives[0].link.latency_s, 30e-6, 1e-12);
  EXPECT_NEAR(back.collectives[0].link.bw_Bps, 2e9, 1.0);
}

// h = (compute + alone - overlapped) / alone: 10 ms of compute and a 4 ms all-gather that
// together take 11 ms hid 3 of its 4 ms.
TEST(Fit, HiddenFractionOfAnOverlappedAllGather) {
  OverlapSample s;
  s.compute_s = 10e-3;
  s.alone_s = 4e-3;
  s.overlapped_s = 11e-3;
  EXPECT_NEAR(hidden_fraction(s), 0.75, 1e-12);
  s.overlapped_s = 15e-3;  // slower than one after the other (contention): nothing hid
  EXPECT_EQ(hidden_fraction(s), 0.0);
  s.overlapped_s = 9e-3;   // faster than compute alone (noise): all of it hid
  EXPECT_EQ(hidden_fraction(s), 1.0);

  // The fit records the median over the sizes for the all-gather group in the document, not in
  // the profile (the simulator does not use it by default; docs/cost-model.md).
  ClusterSpec base = fit_base("gloo", 4);
  std::vector<GemmSample> g;
  for (int64_t n : {64, 256}) g.push_back({n, n, n, 1, 2.0 * n * n * n / 40e9, ""});
  std::vector<MemorySample> m{{12e3, 12e3 / 4e9}, {12e6, 12e6 / 4e9}};
  std::vector<CollectiveSample> c;
  for (double b : {4096.0, 1048576.0}) {
    c.push_back({FitCollective::all_gather, 4, 1, b, 3 * 100e-6 + 0.75 * b / 1e9});
    c.push_back({FitCollective::all_reduce, 4, 1, b, 6 * 100e-6 + 1.5 * b / 1e9});
  }
  std::vector<OverlapSample> o(3);
  for (auto& x : o) {
    x.group_size = 4;
    x.stride = 1;
    x.compute_s = 10e-3;
    x.alone_s = 4e-3;
  }
  o[0].overlapped_s = 11e-3;  // h 0.75
  o[1].overlapped_s = 12e-3;  // h 0.5
  o[2].overlapped_s = 13e-3;  // h 0.25
  CalibrationResult r = fit_calibration(base, {"h", "cpu", 4, ""}, g, {}, m, c, 0, o);
  ASSERT_EQ(r.profile.collectives.size(), 2u);
  for (const auto& e : r.profile.collectives) EXPECT_LT(e.hidden_fraction, 0);
  int groups = 0;
  for (const auto& g : r.document["collectives"]["per_group"]) {
    if (g["kind"] != "all_gather") {
      EXPECT_FALSE(g.contains("hidden_fraction"));  // only all-gathers are prefetched
      continue;
    }
    EXPECT_NEAR(g["hidden_fraction"].get<double>(), 0.5, 1e-12);
    ++groups;
  }
  EXPECT_EQ(groups, 1);
  ASSERT_EQ(r.document["overlap"]["samples"].size(), 3u);
  EXPECT_NEAR(r.document["overlap"]["samples"][2]["hidden_fraction"].get<double>(), 0.25, 1e-12);
}

TEST(Fit, EachKindAndGroupGetsItsOwnEntry) {
  ClusterSpec base = fit_base("nccl", 4);  // no Gloo local sum: the samples are the bare ring formula
  std::vector<GemmSample> g;
  for (int64_t n : {64, 256}) g.push_back({n, n, n, 1, 2.0 * n * n * n / 40e9, ""});
  std::vector<MemorySample> m{{12e3, 12e3 / 4e9}, {12e6, 12e6 / 4e9}};
  // all_reduce over 4 consecutive ranks: alpha 200 us, B 1 GB/s (6 steps, bus bytes 1.5 x);
  // all_gather over 2 strided ranks: alpha 50 us, B 4 GB/s (1 step, bus bytes 0.5 x).
  std::vector<CollectiveSample> c;
  for (double b : {4096.0, 65536.0, 1048576.0}) {
    c.push_back({FitCollective::all_reduce, 4, 1, b, 6 * 200e-6 + 1.5 * b / 1e9});
    c.push_back({FitCollective::all_gather, 2, 2, b, 50e-6 + 0.5 * b / 4e9});
  }
  CalibrationResult r = fit_calibration(base, {"h", "cpu", 4, ""}, g, {}, m, c);
  ASSERT_EQ(r.profile.collectives.size(), 2u);
  for (const auto& e : r.profile.collectives) {
    if (e.kind == "all_reduce") {
      EXPECT_EQ(e.group_size, 4);
      EXPECT_EQ(e.stride, 1);
      EXPECT_NEAR(e.link.latency_s, 200e-6, 1e-10);
      EXPECT_NEAR(e.link.bw_Bps, 1e9, 1e-3 * 1e9);
    } else {
      EXPECT_EQ(e.kind, "all_gather");
      EXPECT_EQ(e.stride, 2);
      EXPECT_NEAR(e.link.latency_s, 50e-6, 1e-10);
      EXPECT_NEAR(e.link.bw_Bps, 4e9, 1e-3 * 4e9);
    }
  }
  // Per-group residuals are ~0; the joint link fit cannot fit both shapes at once.
  for (const auto& s : r.document["collectives"]["samples"]) EXPECT_NEAR(s["residual_rel"].get<double>(), 0.0, 1e-6);
  EXPECT_GT(r.document["collectives"]["link"]["residuals"]["rms_rel"].get<double>(), 0.05);
}

TEST(Fit, EachComputePhaseGetsItsOwnEntry) {
  ClusterSpec base = fit_base("nccl", 2);
  std::vector<GemmSample> g;
  for (int64_t n : {64, 256}) g.push_back({n, n, n, 1, 2.0 * n * n * n / 40e9, ""});
  std::vector<MemorySample> m{{12e3, 12e3 / 4e9}, {12e6, 12e6 / 4e9}};
  // A pair's all_reduce (2 steps, bus bytes 1 x) right after the barrier: alpha 100 us, 1 GB/s;
  // after a phase of 4 GEMMs that took 1.4-1.6 ms: alpha 500 us, same bandwidth.
  std::vector<CollectiveSample> c;
  const std::vector<double> after4{1.5e-3, 1.4e-3, 1.6e-3};
  for (int i = 0; i < 3; ++i) {
    const double b = 4096.0 * std::pow(16.0, i);
    c.push_back({FitCollective::all_reduce, 2, 1, b, 2 * 100e-6 + b / 1e9, 0, 2e-6});
    c.push_back({FitCollective::all_reduce, 2, 1, b, 2 * 500e-6 + b / 1e9, 4, after4[i]});
  }
  CalibrationResult r = fit_calibration(base, {"h", "cpu", 2, ""}, g, {}, m, c);
  ASSERT_EQ(r.profile.collectives.size(), 2u);
  const CollectiveFitSpec& e0 = r.profile.collectives[0];
  const CollectiveFitSpec& e4 = r.profile.collectives[1];
  EXPECT_NEAR(e0.link.latency_s, 100e-6, 1e-10);
  EXPECT_NEAR(e4.link.latency_s, 500e-6, 1e-10);
  EXPECT_DOUBLE_EQ(e0.after_compute_s, 2e-6);
  EXPECT_DOUBLE_EQ(e4.after_compute_s, 1.5e-3);  // the median of the phase's times
  EXPECT_EQ(r.document["collectives"]["per_group"][1]["phase_gemms"], 4);
}

TEST(Host, MismatchNamesTheField) {
  HostIdentity a{"hostA", "CPU A", 2, ""}, b{"hostB", "CPU A", 2, ""};
  EXPECT_EQ(host_mismatch(a, a), "");
  EXPECT_NE(host_mismatch(a, b).find("hostname 'hostA' (profile) vs 'hostB'"), std::string::npos);
  EXPECT_EQ(calibration_doc_path("/x/p.json"), "/x/p.calibration.json");
}

// One GPU: nothing to time collectives with, so the compute side is fitted and the base
// cluster's links are kept as they are (and said so in the document).
TEST(Fit, OneRankKeepsTheBaseLinks) {
  ClusterSpec base = fit_base("nccl", 1);
  std::vector<GemmSample> g;
  for (int64_t n : {64, 256}) g.push_back({n, n, n, 1, 5e-6 + 2.0 * n * n * n / 40e9, ""});
  std::vector<MemorySample> m{{12e3, 12e3 / 4e9}, {12e6, 12e6 / 4e9}};
  CalibrationResult r = fit_calibration(base, {"gpu-host", "cpu", 16, ""}, g, {}, m, {}, 0);
  EXPECT_NEAR(r.profile.efficiency.gemm, 0.4, 1e-9);  // 40 / 100 GFLOP/s
  EXPECT_EQ(r.profile.intra_node.name, "link");
  EXPECT_EQ(r.profile.intra_node.bw_Bps, 1e9);
  EXPECT_EQ(r.profile.intra_node.latency_s, 1e-5);
  EXPECT_TRUE(r.profile.collectives.empty());
  EXPECT_FALSE(r.document["collectives"].contains("link"));
  EXPECT_NE(r.document["collectives"]["not_measured"].get<std::string>().find("one rank"), std::string::npos);
}

// The CPU executor's peak (docs/cost-model.md, "Memory of the CPU executor"), dp = 1:
// feedforward:64x128 at tp 2: w1, w3, w2 are 64 x 64 each on a rank, B = 3 * 4096 * 4 = 49152 B
// (params P = grads G = B), AdamW 2B = 98304 B. seq_len 8, global_batch 2 -> 2 micro-batches, so
// G is alive. Peak when the weight grads are copied into the unit's flat gradient (SplitUnit):
// the three grads and that tensor, 2B, + the batch x and target (2 * 8 * 64 * 4 = 4096 B):
// 49152 + 98304 + 49152 + 98304 + 4096 = 299008 B. (The optimizer's instant is 4096 B lower: G +
// AdamW's two temporaries of 49152 B, no batch; the forward end holds 10240 B of activations.)
TEST(ComposedMemory, FeedForwardDp1PeakIsTheFlatGradient) {
  ClusterSpec c = cpu_gloo_cluster(2, 2, 2.0, 32, 16e9, 20e9);
  TrainingSpec t = planner::testing::fp32_training(8, 2);
  Simulator sim(resolve_model("feedforward:64x128"), t, c);
  Plan p;
  p.dp = 1;
  p.tp = 2;
  Candidate cand = sim.evaluate(p);
  ASSERT_TRUE(cand.feasible()) << cand.reason;
  EXPECT_DOUBLE_EQ(cand.prediction.memory.peak_allocated_bytes, 299008.0);
  EXPECT_DOUBLE_EQ(cand.prediction.memory.gathered_params_bytes, 0.0);  // dp = 1 gathers nothing
}

namespace planner::validation {
namespace {

TEST(BusyHost, WarnsAboveHalfTheCores) {
  // 2 cores: a load of 1.0 is half of them (quiet enough), 1.5 is not.
  EXPECT_EQ(busy_host_warning(1.0, 2), "");
  const std::string w = busy_host_warning(1.5, 2);
  EXPECT_NE(w.find("load average is 1.50 on 2 cores"), std::string::npos) << w;
  EXPECT_NE(w.find("idle machine"), std::string::npos) << w;
  EXPECT_EQ(busy_host_warning(3.0, 0), "");  // cores unknown: no claim
}

}  // namespace
}  // namespace planner::validation
