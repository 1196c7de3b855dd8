// Ring bandwidth on matrices written by hand: the best ring maximises its narrowest edge.
#include <gtest/gtest.h>

#include "topology/node_topology.h"

using namespace planner::topo;

namespace {

// n GPUs; bw[a][b] in GB/s with type t for every listed pair (symmetric), PCIe 10 GB/s otherwise.
GpuMatrix matrix(int n, const std::vector<std::tuple<int, int, double, PathType>>& links) {
  GpuMatrix m;
  for (int i = 0; i < n; ++i) m.gpu.push_back(i);
  m.pair.assign(static_cast<size_t>(n), std::vector<PairLink>(static_cast<size_t>(n)));
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      PairLink& p = m.pair[static_cast<size_t>(a)][static_cast<size_t>(b)];
      p.type = a == b ? PathType::kSelf : PathType::kPhb;
      p.bw_Bps = a == b ? 0 : 10e9;
    }
  for (auto [a, b, gbps, t] : links)
    for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
      PairLink& p = m.pair[static_cast<size_t>(x)][static_cast<size_t>(y)];
      p.type = t;
      p.bw_Bps = gbps * 1e9;
      p.nvlinks = static_cast<int>(gbps / 25);
    }
  return m;
}

}  // namespace

TEST(Ring, FindsTheRingAroundTheSlowPairs) {
  // 4 GPUs, fast pairs 0-2, 2-1, 1-3, 3-0 (a ring in the order 0,2,1,3), slow 0-1 and 2-3.
  GpuMatrix m = matrix(4, {{0, 2, 50, PathType::kPix}, {2, 1, 50, PathType::kPix}, {1, 3, 50, PathType::kPix},
                           {3, 0, 50, PathType::kPix}});
  RingBandwidth r = ring_bandwidth(m, {0, 1, 2, 3});
  EXPECT_DOUBLE_EQ(r.bw_Bps, 50e9);  // rank order 0-1-2-3 would be 10 GB/s; 0-2-1-3 is 50
  EXPECT_EQ(r.bottleneck, PathType::kPix);
}

TEST(Ring, NvlinkBridgedPairsOverPcie) {
  // Two NVLink bridges (0-1, 2-3: 4 links = 100 GB/s), PCIe between the pairs.
  GpuMatrix m = matrix(4, {{0, 1, 100, PathType::kNvLink}, {2, 3, 100, PathType::kNvLink}});
  auto rings = ring_bandwidths(m);
  ASSERT_EQ(rings.size(), 2u);
  EXPECT_DOUBLE_EQ(rings[0].bw_Bps, 100e9);  // TP=2 on a bridge
  EXPECT_DOUBLE_EQ(rings[1].bw_Bps, 10e9);   // TP=4 must cross PCIe twice: no NVLink ring, no packing
  EXPECT_EQ(rings[1].bottleneck, PathType::kPhb);
}

TEST(Ring, GroupsAreConsecutiveRanksAndTheWorstGroupCounts) {
  // 0-1 on 2 links (50 GB/s), 2-3 on 1 link (25 GB/s): TP=2 groups get min(50, 25).
  GpuMatrix m = matrix(4, {{0, 1, 50, PathType::kNvLink}, {2, 3, 25, PathType::kNvLink}});
  EXPECT_DOUBLE_EQ(ring_bandwidths(m)[0].bw_Bps, 25e9);
}

TEST(Ring, SixteenGpusExactSearch) {
  // 16 GPUs, all pairs at 10 GB/s except a fast Hamiltonian cycle 0,2,4,...,14,15,13,...,1 at 40.
  std::vector<std::tuple<int, int, double, PathType>> fast;
  std::vector<int> order;
  for (int i = 0; i < 16; i += 2) order.push_back(i);
  for (int i = 15; i >= 1; i -= 2) order.push_back(i);
  for (size_t i = 0; i < order.size(); ++i) fast.emplace_back(order[i], order[(i + 1) % order.size()], 40, PathType::kPxb);
  GpuMatrix m = matrix(16, fast);
  std::vector<int> all;
  for (int i = 0; i < 16; ++i) all.push_back(i);
  EXPECT_DOUBLE_EQ(ring_bandwidth(m, all).bw_Bps, 40e9);
}
