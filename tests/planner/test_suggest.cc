#include <gtest/gtest.h>

#include <algorithm>

#include "planner/suggest.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {

TEST(Suggest, SmallestSizeMeetingDeadline) {
  ClusterSpec node = resolve_cluster("h100-sxm");
  TrainingSpec t;
  t.seq_len = 8192;
  t.global_batch = 512;
  SuggestGoal g;
  g.token_budget = 2e12;
  g.deadline_days = 30;
  g.min_gpus = 8;
  g.max_gpus = 2048;
  SuggestResult r = suggest_cluster(resolve_model("llama3-70b"), t, node, SearchSpace{}, g);
  ASSERT_TRUE(r.recommended) << r.verdict;
  const SizePoint& rec = r.sweep[*r.recommended];
  EXPECT_TRUE(rec.meets_deadline);
  EXPECT_LE(rec.days, 30.0);
  // Every smaller size either does not fit or misses the deadline.
  for (size_t i = 0; i < *r.recommended; ++i) EXPECT_TRUE(!r.sweep[i].best || !r.sweep[i].meets_deadline);
  // Days = tokens / (tokens/s) / 86400; GPU-hours = days x 24 x GPUs.
  EXPECT_NEAR(rec.days, 2e12 / rec.best->prediction.throughput.tokens_per_s / 86400.0, 1e-9);
  EXPECT_NEAR(rec.gpu_hours, rec.days * 24 * rec.gpus, 1e-6);
  // Refinement: every node count between the previous entry and the recommendation was skipped
  // only because no split divides the batch: with tp in {1, 2, 4, 8} (dividing the 8 KV heads),
  // dp = 8 n / tp must divide 512.
  ASSERT_GT(*r.recommended, 0u);
  for (int64_t n = r.sweep[*r.recommended - 1].nodes + 1; n < rec.nodes; ++n)
    for (int64_t tp : {1, 2, 4, 8}) EXPECT_NE(512 % (8 * n / tp), 0) << n << " nodes, tp " << tp;
  // ... and is listed as skipped, with the reason, instead of vanishing.
  for (int64_t n = r.sweep[*r.recommended - 1].nodes + 1; n < rec.nodes; ++n)
    EXPECT_NE(std::find(r.skipped_nodes.begin(), r.skipped_nodes.end(), n), r.skipped_nodes.end()) << n;
  EXPECT_NE(r.skipped_reason.find("global_batch 512"), std::string::npos) << r.skipped_reason;
  // Scaling efficiency is relative to the best per-GPU rate of the sweep: at most 1, and 1 there.
  double top = 0;
  for (const auto& p : r.sweep)
    if (p.best) {
      EXPECT_LE(p.scaling_efficiency, 1.0 + 1e-12) << p.nodes;
      top = std::max(top, p.scaling_efficiency);
    }
  EXPECT_DOUBLE_EQ(top, 1.0);
}

TEST(Suggest, CheapestWithPrice) {
  ClusterSpec node = resolve_cluster("h100-sxm");
  TrainingSpec t;
  t.seq_len = 4096;
  t.global_batch = 256;
  SuggestGoal g;
  g.token_budget = 1e11;
  g.price_per_gpu_hour = 2.0;
  g.minimize_cost = true;
  g.max_gpus = 512;
  SuggestResult r = suggest_cluster(resolve_model("llama3-8b"), t, node, SearchSpace{}, g);
  ASSERT_TRUE(r.recommended);
  for (const auto& p : r.sweep) {
    if (p.best) {
      EXPECT_GE(p.cost, r.sweep[*r.recommended].cost);
    }
  }
  EXPECT_NEAR(r.sweep[*r.recommended].cost, r.sweep[*r.recommended].gpu_hours * 2.0, 1e-6);
}

TEST(Suggest, NothingFitsSaysWhy) {
  ClusterSpec node = resolve_cluster("a100-40gb-sxm");
  TrainingSpec t;
  t.seq_len = 8192;
  t.global_batch = 16;
  SuggestGoal g;
  g.token_budget = 1e12;
  g.max_gpus = 8;
  SuggestResult r = suggest_cluster(resolve_model("llama3-405b"), t, node, SearchSpace{}, g);
  EXPECT_FALSE(r.recommended);
  EXPECT_NE(r.verdict.find("memory"), std::string::npos) << r.verdict;
}

}  // namespace
}  // namespace planner
