// `nvidia-smi topo -m` text, as people paste it (tests/data/topologies/README.md).
#include <gtest/gtest.h>

#include "core/error.h"
#include "topology/node_cluster.h"
#include "topology/probe.h"

using namespace planner;
using namespace planner::topo;

namespace {

const std::string kData = TOPOLOGY_TEST_DATA;

template <typename F>
std::string input_error(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SmiTopo, Dgx1HybridCubeMesh) {
  NodeTopology t = read_smi_topo_file(kData + "/dgx1-v100.topo.txt", gpu_model_by_key("v100-sxm2-16gb"));
  ASSERT_EQ(t.planned_gpus().size(), 8u);
  ASSERT_EQ(t.nics.size(), 4u);
  EXPECT_EQ(t.nics[0].name, "mlx5_0");
  EXPECT_TRUE(t.nics[0].rdma);
  GpuMatrix m = gpu_matrix(t);
  EXPECT_EQ(m.pair[0][1].type, PathType::kNvLink);
  EXPECT_DOUBLE_EQ(m.pair[0][1].bw_Bps, 25e9);   // NV1: 1 x 25 GB/s
  EXPECT_DOUBLE_EQ(m.pair[0][3].bw_Bps, 50e9);   // NV2
  EXPECT_EQ(m.pair[0][5].type, PathType::kSys);
  EXPECT_DOUBLE_EQ(m.pair[0][5].bw_Bps, 10e9);   // min(PCIe Gen3 x16 15.75, inter-socket 10)
  auto rings = ring_bandwidths(m);
  ASSERT_EQ(rings.size(), 3u);
  // Pairs {0,1} and {4,5} have one link: 25 GB/s (the worst pair group).
  EXPECT_DOUBLE_EQ(rings[0].bw_Bps, 25e9);
  // {0,1,2,3}: every GPU has 1 + 1 + 2 = 4 links into the quad; rings on all of them: 100 GB/s.
  EXPECT_DOUBLE_EQ(rings[1].bw_Bps, 100e9);
  // All 8: each GPU's 6 links (NV1 + NV1 + NV2 + NV2) = 150 GB/s.
  EXPECT_DOUBLE_EQ(rings[2].bw_Bps, 150e9);
  ClusterOptions o;
  o.gpu_key = "v100-sxm2-16gb";
  o.inter_node_gbps = 400;  // 4x 100 Gb/s EDR
  ClusterSpec c = cluster_from_topology(t, o);
  EXPECT_DOUBLE_EQ(c.intra_node.bw_Bps, 150e9);
  EXPECT_DOUBLE_EQ(c.inter_node.bw_Bps, 6.25e9);  // 50 GB/s per node / 8 GPUs
}

TEST(SmiTopo, HgxH100WithAnsiEscapesAndNicLegend) {
  NodeTopology t = read_smi_topo_file(kData + "/hgx-h100.topo.txt", gpu_model_by_key("h100-sxm5-80gb"));
  ASSERT_EQ(t.planned_gpus().size(), 8u);
  ASSERT_EQ(t.nics.size(), 2u);
  EXPECT_EQ(t.nics[1].name, "mlx5_1");  // from the NIC legend
  EXPECT_EQ(t.gpus[5].numa, 1);         // NUMA Affinity column
  GpuMatrix m = gpu_matrix(t);
  // NV18 to all 7 peers is 126 links, more than the H100's 18: the links go into NVSwitches.
  EXPECT_EQ(m.pair[2][6].type, PathType::kNvSwitch);
  EXPECT_DOUBLE_EQ(m.pair[2][6].bw_Bps, 450e9);
  EXPECT_DOUBLE_EQ(ring_bandwidths(m).back().bw_Bps, 450e9);
}

TEST(SmiTopo, WithoutGpuTheBandwidthIsUnknownAndTheClusterAsksForIt) {
  NodeTopology t = read_smi_topo_file(kData + "/hgx-h100.topo.txt", std::nullopt);
  EXPECT_DOUBLE_EQ(gpu_matrix(t).pair[0][1].bw_Bps, 0);
  ClusterOptions o;
  o.inter_node_gbps = 3200;
  std::string e = input_error([&] { cluster_from_topology(t, o); });
  EXPECT_NE(e.find("--gpu"), std::string::npos) << e;
}

TEST(SmiTopoErrors, UnparsableTextNamesLineAndCell) {
  EXPECT_NE(input_error([] { topology_from_smi_topo("hello\nworld\n", "paste.txt", std::nullopt); }).find("no GPU matrix found"),
            std::string::npos);
  std::string bad = "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNV4\t0-7\nGPU1\tNV4\t XX \t0-7\n";
  std::string e = input_error([&] { topology_from_smi_topo(bad, "paste.txt", std::nullopt); });
  EXPECT_NE(e.find("paste.txt: field 'line 3, column GPU1'"), std::string::npos) << e;
  EXPECT_NE(e.find("'XX'"), std::string::npos) << e;
  EXPECT_NE(e.find("NV<links>, PIX, PXB, PHB, NODE, SYS"), std::string::npos) << e;
  std::string missing_row = "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \tNV4\t0-7\n";
  e = input_error([&] { topology_from_smi_topo(missing_row, "paste.txt", std::nullopt); });
  EXPECT_NE(e.find("no row for this GPU"), std::string::npos) << e;
  std::string short_row = "\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X\nGPU1\tNV4\t X \t0-7\n";
  e = input_error([&] { topology_from_smi_topo(short_row, "paste.txt", std::nullopt); });
  EXPECT_NE(e.find("has 1 cells"), std::string::npos) << e;
}
