// The fits recover known parameters from synthetic data; calibrate and validate run end to end on
// 2 ranks; an interrupted calibration leaves the old profile untouched; a foreign profile is refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "core/cluster_spec.h"
#include "core/error.h"
#include "core/json_io.h"
#include "executor/calibrate.h"
#include "executor/comm.h"
#include "simulator/simulator.h"
#include "topology/cluster_presets.h"

#include "support/run_binary.h"
#include "support/simulators.h"

using namespace planner;
using namespace planner::executor;

namespace {

std::string temp_dir() {
  static std::string d = [] {
    char tmpl[] = "/tmp/planner-calibrate-test-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  return d;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::pair<int, std::string> run(const std::string& args, int timeout_s) {
  const auto r = ::planner::testing::run_planner(args, timeout_s);
  return {r.exit_code, r.output};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

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

TEST(Shapes, FeedForwardGemmsAtTp2) {
  // feedforward:64x128 at tp=2, 8 tokens: w1, w3 colwise (64 x 64 local), w2 rowwise (64 x 64):
  // 3 Linear layers x (fwd, wgrad, dgrad).
  ModelSpec m = resolve_model("feedforward:64x128");
  auto s = model_gemm_shapes(m, 2, 8);
  ASSERT_EQ(s.size(), 9u);
  EXPECT_EQ(s[0].m, 8);   // fwd: tokens x out x in
  EXPECT_EQ(s[0].n, 64);
  EXPECT_EQ(s[0].k, 64);
  EXPECT_EQ(s[1].k, 8);   // wgrad: out x in, tokens deep
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

// One real calibration on 2 ranks (a tiny model, --quick), reused by the tests below.
class Calibrated : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    profile_ = temp_dir() + "/profile.json";
    auto [rc, out] = run("calibrate --ranks 2 --model feedforward:64x128 --seq-len 8 --quick --quiet --out " + profile_, 240);
    rc_ = rc;
    out_ = out;
  }
  static std::string profile_, out_;
  static int rc_;
};
std::string Calibrated::profile_, Calibrated::out_;
int Calibrated::rc_ = -1;

TEST_F(Calibrated, WritesAReadableProfileAndResiduals) {
  ASSERT_EQ(rc_, 0) << out_;
  ClusterSpec c = read_cluster_file(profile_);
  EXPECT_EQ(c.backend, "gloo");
  EXPECT_EQ(c.gpus_per_node, 2);
  EXPECT_GT(c.efficiency.gemm, 0.0);
  EXPECT_LE(c.efficiency.gemm, 1.0);
  EXPECT_GT(c.intra_node.bw_Bps, 0.0);
  Json doc = read_json_file(calibration_doc_path(profile_));
  EXPECT_EQ(doc["format"], "planner-calibration/1");
  EXPECT_EQ(doc["host"]["hostname"], this_host().hostname);
  // 3 kinds x 3 sizes on the one group of 2, after each of the 4 compute phases (0, 1, 2, 4 GEMMs).
  EXPECT_EQ(doc["collectives"]["samples"].size(), 36u);
  EXPECT_TRUE(doc["collectives"]["samples"][0].contains("residual_rel"));
  // One table entry per kind and phase, each with the phase's measured time: 4 GEMMs take longer
  // than 1, and no compute takes (almost) none.
  ASSERT_EQ(c.collectives.size(), 12u);
  std::map<int, double> after;
  for (const auto& e : doc["collectives"]["per_group"])
    if (e["kind"] == "all_reduce") after[e["phase_gemms"].get<int>()] = e["after_compute_s"].get<double>();
  ASSERT_EQ(after.size(), 4u);
  EXPECT_LT(after[0], 1e-3);
  EXPECT_GT(after[4], after[1]);
  for (const auto& e : c.collectives) EXPECT_GE(e.after_compute_s, 0.0);
  EXPECT_NE(out_.find("residuals"), std::string::npos) << out_;
  // The samples themselves are in the document; the console names how many (--verbose prints them).
  EXPECT_NE(out_.find("collective samples: 36,"), std::string::npos) << out_;
}

TEST_F(Calibrated, ValidateRunsEveryFeasibleSplitEndToEnd) {
  ASSERT_EQ(rc_, 0) << out_;
  const std::string out = temp_dir() + "/validate.json";
  // Thresholds of 1000% so the test checks the plumbing, not this (shared) machine's noise.
  auto [rc, text] = run("validate --model feedforward:64x128 --ranks 2 --seq-len 8 --steps 3 --warmup-steps 1 --rounds 2 "
                        "--cluster " + profile_ + " --out " + out +
                            " --max-memory-error 10 --max-step-time-error 10 --max-ranking-gap 10",
                        240);
  ASSERT_EQ(rc, 0) << text;
  Json j = read_json_file(out);
  EXPECT_EQ(j["format"], "planner-validate/1");
  EXPECT_EQ(j["world"], 2);
  EXPECT_EQ(j["rounds"], 2);
  ASSERT_EQ(j["rows"].size(), 2u);  // (dp, tp) = (2, 1), (1, 2)
  for (const auto& r : j["rows"]) {
    EXPECT_GT(r["measured"]["peak_allocated_bytes"].get<double>(), 0) << r.dump();
    EXPECT_GT(r["predicted"]["step_s"].get<double>(), 0);
    EXPECT_TRUE(r.contains("memory_error"));
    // Two rounds: the lower middle of two is the faster one, and its record is the one named.
    const auto& rounds = r["measured"]["step_s_rounds"];
    ASSERT_EQ(rounds.size(), 2u) << r.dump();
    EXPECT_DOUBLE_EQ(r["measured"]["step_s"].get<double>(),
                     std::min(rounds[0].get<double>(), rounds[1].get<double>()));
    Json rec = read_json_file(r["measured"]["record"].get<std::string>());
    EXPECT_DOUBLE_EQ(rec["step_time_s_median"].get<double>(), r["measured"]["step_s"].get<double>());
    // Both splits communicate (dp=2: FSDP; tp=2: the TP all-reduces): time in collectives per
    // step, predicted and measured, and less than the step.
    EXPECT_GT(r["predicted"]["comm_s"].get<double>(), 0) << r.dump();
    EXPECT_GT(r["measured"]["comm_s"].get<double>(), 0) << r.dump();
    EXPECT_LT(r["predicted"]["comm_s"].get<double>(), r["predicted"]["step_s"].get<double>());
    // The calibration document is beside the profile: every run timed calibrate's probes first,
    // and the host's speed against the calibration's is kept per round (a ratio near 1 on a quiet
    // machine; here only that it was measured: this machine is shared).
    ASSERT_TRUE(r["measured"].contains("host_speed")) << r.dump();
    EXPECT_GT(r["measured"]["host_speed"].get<double>(), 0.0);
    EXPECT_EQ(r["measured"]["host_speed_rounds"].size(), 2u);
    EXPECT_TRUE(rec.contains("speed_probe")) << rec.dump();
    // The probe's 128 MiB operand pool is not counted in the run's peak.
    EXPECT_LT(r["measured"]["peak_allocated_bytes"].get<double>(), 4 * r["predicted"]["peak_allocated_bytes"].get<double>());
  }
  EXPECT_NE(text.find("host speed"), std::string::npos) << text;
  EXPECT_TRUE(j.contains("predicted_best"));
  EXPECT_TRUE(j.contains("measured_best"));
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

TEST(Calibrate, OneRankNeedsTheGpuBackend) {
  auto [rc, text] = run("calibrate --ranks 1 --out " + temp_dir() + "/one.json", 60);
  EXPECT_EQ(rc, 2) << text;
  EXPECT_NE(text.find("--ranks"), std::string::npos) << text;
  EXPECT_NE(text.find("gloo"), std::string::npos) << text;
}

TEST(Calibrate, RefusesBadRoundsAndPhase) {
  const std::string out = " --out " + temp_dir() + "/bad.json";
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"--rounds 0", "--rounds"}, {"--repeats 3 --rounds 4", "--rounds"}, {"--phase-gemms -1", "--phase-gemms"},
           {"--phase-gemms 1,1", "--phase-gemms"}}) {
    auto [rc, text] = run("calibrate --ranks 2 " + args + out, 60);
    EXPECT_EQ(rc, 2) << args << ": " << text;
    EXPECT_NE(text.find(flag), std::string::npos) << args << ": " << text;
  }
}

TEST(Train, RefusesNcclWithoutACudaLibTorch) {
  if (nccl_compiled()) GTEST_SKIP() << "this build has NCCL";
  auto [rc, text] = run("train --model llama-tiny --dp 1 --tp 1 --steps 1 --backend nccl", 60);
  EXPECT_EQ(rc, 2) << text;
  EXPECT_NE(text.find("backend"), std::string::npos) << text;
  EXPECT_NE(text.find("CUDA LibTorch"), std::string::npos) << text;
}

// validate --ac selective compares the executor's peak with the simulator's: the memory model of
// selective checkpointing (norms, SiLU and SiLU*w3 recomputed) must hold for the executor. Measured
// with this command: dp=2 tp=2 peaks at 30,266,124 B, predicted 30,245,376 B (-0.07%).
TEST(Validate, SelectiveCheckpointingPeakIsPredicted) {
  const std::string rec = temp_dir() + "/selective.run.json";
  auto [rc, text] = run("train --model llama-tiny --dp 2 --tp 2 --ac selective --global-batch 4 --steps 2 --quiet --record " +
                            rec, 120);
  ASSERT_EQ(rc, 0) << text;
  double measured = 0;
  const Json record = read_json_file(rec);
  for (const auto& r : record["ranks"]) measured = std::max(measured, r["peak_allocated_bytes"].get<double>());
  TrainingSpec t = planner::testing::fp32_training(64, 4);
  Plan p;
  p.dp = 2;
  p.tp = 2;
  p.ac = ActivationCheckpointing::selective;
  const double predicted =
      Simulator(resolve_model("llama-tiny"), t, cpu_gloo_host_cluster(4)).evaluate(p).prediction.memory.peak_allocated_bytes;
  EXPECT_NEAR(predicted / measured, 1.0, 0.01) << predicted << " vs " << measured;
}

TEST(Validate, RefusesAGpuProfileItCannotTrainOn) {
  // A CPU-only build cannot train on GPUs: comparing an H100 prediction with CPU runs would be wrong.
  auto [rc, text] = run("validate --model feedforward:64x128 --ranks 8 --cluster h100-sxm --out " + temp_dir() +
                            "/v-gpu.json",
                        60);
  EXPECT_EQ(rc, 2) << text;
  EXPECT_NE(text.find("h100-sxm"), std::string::npos) << text;
  EXPECT_NE(text.find("backend"), std::string::npos) << text;
  EXPECT_NE(text.find("Gloo"), std::string::npos) << text;
}

// --rescore trains nothing: run A's validations (tests/data/validation/) re-predicted with their
// own profile. llama-tiny's three splits are within 10% there (PASS, exit 0); feedforward's
// dp=2 tp=2 is 13.5% off (FAIL, exit 1).
TEST(Validate, RescoresAStoredValidationWithoutTraining) {
  const std::string dir = std::string(PLANNER_TEST_DATA) + "/validation/2026-11-25T2321";
  const std::string out = temp_dir() + "/rescored.json";
  auto [rc, text] = run("validate --rescore " + dir + "/validate-llama.json --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("PASS: mean |step time error|"), std::string::npos) << text;
  Json doc = read_json_file(out);
  EXPECT_EQ(doc["format"], "planner-validate/1");
  EXPECT_EQ(doc["rows"].size(), 3u);
  EXPECT_TRUE(doc["pass"].get<bool>());
  EXPECT_EQ(doc["predicted_best"]["dp"], 4);
  auto [rc_ff, text_ff] = run("validate --rescore " + dir + "/validate-ff.json --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc_ff, 1) << text_ff;
  EXPECT_NE(text_ff.find("dp=2 tp=2"), std::string::npos) << text_ff;
  EXPECT_NE(text_ff.find("past threshold"), std::string::npos) << text_ff;
  EXPECT_FALSE(read_json_file(out)["pass"].get<bool>());
  // Writing over the stored validation is refused.
  auto [rc2, text2] = run("validate --rescore " + out + " --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc2, 2) << text2;
  EXPECT_NE(text2.find("is the validation being rescored"), std::string::npos) << text2;
}

// 2026-11-26T0807's FeedForward ran at 1.20x, 1.21x and 1.22x the calibrated host speed and
// missed by +17.6%, +12.0% and +20.2%: a note under the table names the three. With the first
// row's host speed set to 1.05 (within the 10% threshold) it names only the other two; the
// 08:03 run, which passed, gets no note.
TEST(Validate, NamesTheSplitsThatMissedWhileTheHostRanAtAnotherSpeed) {
  const std::string base = std::string(PLANNER_TEST_DATA) + "/validation/2026-11-26T";
  const std::string out = temp_dir() + "/rescored-drift.json";
  auto rescore = [&](const std::string& doc, const std::string& dir) {
    return run("validate --rescore " + doc + " --cluster " + dir + "/profile.json --out " + out, 60);
  };
  auto [rc, text] = rescore(base + "0807/validate-ff.json", base + "0807");
  EXPECT_EQ(rc, 1) << text;
  EXPECT_NE(text.find("more than 10% away from its\ncalibrated speed: dp=4 tp=1 (1.20x), dp=2 tp=2 (1.21x), dp=1 tp=4 (1.22x)."),
            std::string::npos)
      << text;
  Json doc = read_json_file(base + "0807/validate-ff.json");
  doc["rows"][0]["measured"]["host_speed"] = 1.05;
  const std::string edited = temp_dir() + "/validate-ff-edited.json";
  std::ofstream(edited) << doc.dump();
  auto [rc_e, text_e] = rescore(edited, base + "0807");
  EXPECT_EQ(rc_e, 1) << text_e;
  EXPECT_NE(text_e.find("calibrated speed: dp=2 tp=2 (1.21x), dp=1 tp=4 (1.22x)."), std::string::npos) << text_e;
  auto [rc_p, text_p] = rescore(base + "0803/validate-ff.json", base + "0803");
  EXPECT_EQ(rc_p, 0) << text_p;
  EXPECT_EQ(text_p.find("note:"), std::string::npos) << text_p;
}

// The oldest stored validations (run R, 2026-11-25 20:51) were written before validate measured
// the time in collectives: their table shows "-" in that column instead of stopping on the
// missing field. Its dp=2 tp=2 is 10.1% off with this model, so the verdict is FAIL (exit 1).
TEST(Validate, RescoresAValidationWrittenBeforeCommWasMeasured) {
  const std::string dir = std::string(PLANNER_TEST_DATA) + "/validation/2026-11-25T2051";
  ASSERT_FALSE(read_json_file(dir + "/validate-llama.json")["rows"][0]["measured"].contains("comm_s"));
  const std::string out = temp_dir() + "/rescored-r.json";
  auto [rc, text] = run("validate --rescore " + dir + "/validate-llama.json --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc, 1) << text;
  EXPECT_EQ(text.find("error:"), std::string::npos) << text;
  EXPECT_NE(text.find("FAIL: mean |step time error|"), std::string::npos) << text;
  EXPECT_EQ(read_json_file(out)["rows"].size(), 3u);
}

TEST_F(Calibrated, ProfileFromAnotherMachineIsRefused) {
  ASSERT_EQ(rc_, 0) << out_;
  const std::string dir = temp_dir() + "/foreign";
  ::mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/p.json") << slurp(profile_);
  Json doc = read_json_file(calibration_doc_path(profile_));
  doc["host"]["hostname"] = "some-other-host";
  std::ofstream(dir + "/p.calibration.json") << doc.dump();
  auto [rc, text] = run("validate --model feedforward:64x128 --ranks 2 --seq-len 8 --cluster " + dir + "/p.json --out " +
                            dir + "/v.json", 60);
  EXPECT_EQ(rc, 2) << text;
  EXPECT_NE(text.find("calibrated on another machine"), std::string::npos) << text;
  EXPECT_NE(text.find("some-other-host"), std::string::npos) << text;
  EXPECT_FALSE(exists(dir + "/v.json"));
  // A profile for 2 ranks used with 4 ranks is refused too.
  auto [rc2, text2] = run("validate --model feedforward:64x128 --ranks 4 --cluster " + profile_ + " --out " + dir + "/v.json", 60);
  EXPECT_EQ(rc2, 2) << text2;
  EXPECT_NE(text2.find("describes 2 ranks but --ranks is 4"), std::string::npos) << text2;
}

TEST(Interrupted, CalibrationLeavesTheOldProfileUntouched) {
  const std::string profile = temp_dir() + "/interrupted.json";
  std::ofstream(profile) << "{\"old\": true}\n";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(PLANNER_BINARY, PLANNER_BINARY, "calibrate", "--ranks", "2", "--repeats", "40", "--out", profile.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  // Interrupt once the progress line reaches the collectives: the GEMMs are measured, nothing is
  // written yet.
  std::string seen;
  char buf[512];
  const auto t0 = std::chrono::steady_clock::now();
  bool interrupted = false;
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
    seen.append(buf, static_cast<size_t>(n));
    if (!interrupted && seen.find(", collective 2/") != std::string::npos) {
      ::kill(pid, SIGINT);
      interrupted = true;
    }
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(120)) ::kill(pid, SIGKILL);
  }
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(interrupted) << seen;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0) << seen;
  EXPECT_NE(seen.find("nothing was written to " + profile), std::string::npos) << seen;
  EXPECT_EQ(slurp(profile), "{\"old\": true}\n");
  EXPECT_FALSE(exists(calibration_doc_path(profile)));
}
