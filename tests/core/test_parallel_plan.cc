#include <gtest/gtest.h>

#include "core/parallel_plan.h"

namespace planner {
namespace {

TEST(ParallelPlan, FeedForwardColwiseRowwise) {
  auto plan = default_tp_plan(ModelKind::feedforward);
  EXPECT_EQ(tp_style_for(plan, "w1"), TpStyle::colwise);
  EXPECT_EQ(tp_style_for(plan, "w2"), TpStyle::rowwise);
  EXPECT_EQ(tp_style_for(plan, "w3"), TpStyle::colwise);
}

TEST(ParallelPlan, LocalShapes) {
  // w1 is (hidden=8192, dim=8192): colwise shards dim 0 -> 4096 x 8192 at tp=2.
  TensorSpec w1{"w1", ModuleType::linear, 8192, 8192, 1, true};
  LocalShape s;
  ASSERT_TRUE(tp_local_shape(w1, TpStyle::colwise, 2, &s, nullptr));
  EXPECT_EQ(s.rows, 4096);
  EXPECT_EQ(s.cols, 8192);
  // w2 rowwise shards dim 1 (in_features).
  ASSERT_TRUE(tp_local_shape(w1, TpStyle::rowwise, 2, &s, nullptr));
  EXPECT_EQ(s.rows, 8192);
  EXPECT_EQ(s.cols, 4096);
  // The embedding is sharded on the vocabulary (dim 0) under rowwise.
  TensorSpec emb{"tok_embeddings", ModuleType::embedding, 128256, 4096, 1, false};
  ASSERT_TRUE(tp_local_shape(emb, TpStyle::rowwise, 8, &s, nullptr));
  EXPECT_EQ(s.rows, 16032);  // 128256 / 8
  EXPECT_EQ(s.cols, 4096);
}

TEST(ParallelPlan, IndivisibleNamesTheTensor) {
  TensorSpec wk{"layers.*.attention.wk", ModuleType::linear, 1000, 4096, 32, true};
  LocalShape s;
  std::string why;
  EXPECT_FALSE(tp_local_shape(wk, TpStyle::colwise, 16, &s, &why));
  EXPECT_EQ(why, "tp(16) does not divide layers.*.attention.wk dim 0 (1000)");
}

TEST(ParallelPlan, FsdpPadsDim0) {
  // 10 rows over 4 ranks: FSDP2 pads to 12, 3 rows per rank, x 7 columns = 21.
  EXPECT_EQ(fsdp_shard_numel({10, 7}, 4), 21);
  EXPECT_EQ(fsdp_shard_numel({4096, 8192}, 2), 2048 * 8192);
}

}  // namespace
}  // namespace planner
