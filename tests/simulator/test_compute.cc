#include <gtest/gtest.h>

#include "simulator/compute.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {

ClusterSpec toy() {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.device.peak_bf16_flops_per_s = 1e15;
  c.device.mem_bw_Bps = 1e12;
  c.device.compute_units = 4;
  c.device.gemm_tile_m = 128;
  c.device.gemm_tile_n = 128;
  c.efficiency.gemm = 0.5;
  c.efficiency.memory = 1.0;
  c.efficiency.gemm_overhead_s = 0;
  return c;
}

TEST(Compute, ShapeEfficiency) {
  ClusterSpec c = toy();
  // 256 x 256: 4 tiles on 4 units, no padding -> 1.
  EXPECT_DOUBLE_EQ(gemm_shape_efficiency(c.device, 256, 256), 1.0);
  // 128 x 128: 1 tile for 4 units: split-K spreads it over all 4 -> 1.
  EXPECT_DOUBLE_EQ(gemm_shape_efficiency(c.device, 128, 128), 1.0);
  // 64 x 128: 1 tile padded from 64 to 128 rows -> 0.5.
  EXPECT_DOUBLE_EQ(gemm_shape_efficiency(c.device, 64, 128), 0.5);
  // 192 x 256: 2 x 2 tiles padded from 192 to 256 rows -> 192/256 = 0.75.
  EXPECT_DOUBLE_EQ(gemm_shape_efficiency(c.device, 192, 256), 0.75);
  // 640 x 128: 5 tiles need 2 waves of 4 -> 5/8.
  EXPECT_DOUBLE_EQ(gemm_shape_efficiency(c.device, 640, 128), 5.0 / 8.0);
}

TEST(Compute, LargeGemmIsComputeBound) {
  ClusterSpec c = toy();
  // 4096^3: 2 x 4096^3 = 1.374e11 FLOP at 1e15 x 0.5 = 274.9 us. Bytes 3 x 4096^2 x 2 = 100.7 MB
  // at 1e12 B/s = 100.7 us < compute, so compute bound.
  const double flops = 2.0 * 4096.0 * 4096.0 * 4096.0;
  EXPECT_NEAR(gemm_seconds(c, 4096, 4096, 4096, 2), flops / 5e14, 1e-12);
}

TEST(Compute, SkinnyGemmIsMemoryBound) {
  ClusterSpec c = toy();
  // 8 x 8192 x 8192: 2 x 8 x 8192^2 = 1.07e9 FLOP; tile efficiency 8/128 (padding) x 1 (64 tiles
  // in 16 full waves of 4) = 1/16 -> 1.07e9 / (5e14/16) = 34.4 us. Bytes (8x8192 + 8192^2 + 8x8192) x 2
  // = 134.48 MB -> 134.5 us: memory bound.
  const double bytes = (8.0 * 8192 + 8192.0 * 8192 + 8.0 * 8192) * 2;
  EXPECT_NEAR(gemm_seconds(c, 8, 8192, 8192, 2), bytes / 1e12, 1e-12);
}

TEST(Compute, FeedForwardFirstStepGemmOnH100) {
  // The FeedForward(8192, 8192) at tp=2: w1 is (4096 out, 8192 in). With 8 tokens the GEMM moves
  // 4096 x 8192 x 2 B = 67 MB of weights: memory bound at 3.35 TB/s x 0.8 -> ~25 us + 5 us launch
  // (compute: 5.4e8 FLOP at 989.4e12 x 0.75 x 8/128 padding = 11.6 us).
  ClusterSpec c = resolve_cluster("h100-sxm");
  const double bytes = (8.0 * 8192 + 8192.0 * 4096 + 8.0 * 4096) * 2;
  EXPECT_NEAR(linear_forward_seconds(c, 8, 4096, 8192, 2), 5e-6 + bytes / (3350e9 * 0.8), 1e-12);
}

}  // namespace
}  // namespace planner
