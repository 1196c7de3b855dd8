// The NVML path (dlopen + our own declarations) against a fake libnvidia-ml built by the tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "core/units.h"
#include "topology/cluster_presets.h"
#include "topology/node_cluster.h"
#include "topology/probe.h"

using namespace planner;
using namespace planner::topo;

namespace {

const std::string kData = TOPOLOGY_TEST_DATA;

NvmlReport fake_nvml(const std::string& config, double timeout_s = 20) {
  ::setenv("FAKE_NVML_CONFIG", config.c_str(), 1);
  return query_nvml(FAKE_NVML_LIBRARY, timeout_s);
}

// A node with the fake's GPUs only (this host has none): as `planner probe` builds it.
NodeTopology node_from(const NvmlReport& r) {
  NodeTopology t;
  t.source = "fake NVML";
  t.host.packages = 2;
  t.host.cpu_vendor = "GenuineIntel";
  t.host.cpu_family = 6;
  t.host.cpu_model_number = 143;
  merge_nvml(t, r);
  complete_topology(t);
  return t;
}

std::string temp_config(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/topology-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(Nvml, MissingLibraryIsSaidPlainlyNotAnError) {
  NvmlReport r = query_nvml("libnvidia-ml-does-not-exist.so.1", 10);
  EXPECT_FALSE(r.loaded);
  EXPECT_NE(r.status.find("NVML not available"), std::string::npos) << r.status;
  EXPECT_NE(r.status.find("no NVLink information"), std::string::npos) << r.status;
  NodeTopology t = node_from(r);
  EXPECT_TRUE(t.gpus.empty());
  EXPECT_FALSE(t.nvlink_known);
  EXPECT_EQ(t.nvlink_status, r.status);
}

TEST(Nvml, BusIdsAreNormalised) {
  EXPECT_EQ(normalise_busid("00000000:34:00.0"), "0000:34:00.0");
  EXPECT_EQ(normalise_busid("0000:3B:00.0"), "0000:3b:00.0");
  EXPECT_EQ(normalise_busid("34:00.0"), "0000:34:00.0");
  EXPECT_EQ(normalise_busid("garbage"), "");
}

TEST(Nvml, FakeHgxH100Has8GpusWith18LinksIntoTheSwitches) {
  NvmlReport r = fake_nvml(kData + "/fake-nvml-hgx-h100.txt");
  ASSERT_TRUE(r.loaded) << r.status;
  ASSERT_EQ(r.gpus.size(), 8u);
  EXPECT_EQ(r.gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(r.gpus[0].busid, "0000:18:00.0");  // NVML's 8-digit domain, normalised
  EXPECT_EQ(r.gpus[0].cc_major, 9);
  EXPECT_EQ(r.gpus[0].links.size(), 18u);
  EXPECT_NE(r.status.find("8 GPU(s), 144 active NVLink(s)"), std::string::npos) << r.status;

  NodeTopology t = node_from(r);
  ASSERT_EQ(t.planned_gpus().size(), 8u);
  const Gpu& g = t.gpus[0];
  EXPECT_EQ(g.nvlink_generation, "NVLink4");
  EXPECT_DOUBLE_EQ(g.nvlink_per_link_Bps, 25e9);  // sm_90
  ASSERT_EQ(g.nvlinks.size(), 4u);                // 4 switches: 5 + 4 + 4 + 5 links
  int links = 0;
  for (const auto& l : g.nvlinks) {
    EXPECT_EQ(l.remote_kind, "nvswitch");
    links += l.links;
  }
  EXPECT_EQ(links, 18);
  EXPECT_DOUBLE_EQ(g.memory_bytes, 81559.0 * 1024 * 1024);
  GpuMatrix m = gpu_matrix(t);
  // 18 links x 25 GB/s = 450 GB/s per direction between any two GPUs through the switches.
  EXPECT_EQ(m.pair[0][7].type, PathType::kNvSwitch);
  EXPECT_EQ(m.pair[0][7].nvlinks, 18);
  EXPECT_DOUBLE_EQ(m.pair[0][7].bw_Bps, 450e9);
  for (const auto& ring : ring_bandwidths(m)) EXPECT_DOUBLE_EQ(ring.bw_Bps, 450e9) << ring.group_size;

  // As a cluster it matches the hand-written h100-sxm preset (datasheet numbers).
  ClusterOptions o;
  o.inter_node_gbps = 3200;  // 8x 400 Gb/s ConnectX-7
  ClusterSpec c = cluster_from_topology(t, o);
  ClusterSpec preset = resolve_cluster("h100-sxm");
  EXPECT_EQ(c.gpus_per_node, 8);
  EXPECT_DOUBLE_EQ(c.intra_node.bw_Bps, preset.intra_node.bw_Bps);  // 450 GB/s
  EXPECT_DOUBLE_EQ(c.inter_node.bw_Bps, preset.inter_node.bw_Bps);  // 3200 / 8 / 8 = 50 GB/s
  EXPECT_DOUBLE_EQ(c.device.peak_bf16_flops_per_s, preset.device.peak_bf16_flops_per_s);
  EXPECT_DOUBLE_EQ(c.device.memory_bytes, preset.device.memory_bytes);
  EXPECT_NE(c.intra_node.name.find("NVLink4 via NVSwitch, 18 links x 25 GB/s"), std::string::npos) << c.intra_node.name;
}

TEST(Nvml, FakeFourA100sWiredDirectlyUseAllTwelveLinks) {
  NodeTopology t = node_from(fake_nvml(kData + "/fake-nvml-4x-a100-direct.txt"));
  ASSERT_EQ(t.planned_gpus().size(), 4u);
  GpuMatrix m = gpu_matrix(t);
  // 4 links x 25 GB/s to each peer.
  EXPECT_EQ(m.pair[0][3].type, PathType::kNvLink);
  EXPECT_EQ(m.pair[0][3].nvlinks, 4);
  EXPECT_DOUBLE_EQ(m.pair[0][3].bw_Bps, 100e9);
  auto rings = ring_bandwidths(m);
  ASSERT_EQ(rings.size(), 2u);
  EXPECT_DOUBLE_EQ(rings[0].bw_Bps, 100e9);  // 2 GPUs: their 4 links
  // 4 GPUs: rings on all links at once, 3 peers x 4 links x 25 GB/s = 300 GB/s (the a100-40gb-4x
  // preset's number).
  EXPECT_DOUBLE_EQ(rings[1].bw_Bps, 300e9);
  EXPECT_DOUBLE_EQ(rings[1].bw_Bps, resolve_cluster("a100-40gb-4x").intra_node.bw_Bps);
}

TEST(Nvml, InitFailureIsReportedNotThrown) {
  NvmlReport r = fake_nvml(temp_config("init-fails.txt", "init_fails 9\n"));
  EXPECT_FALSE(r.loaded);
  EXPECT_NE(r.status.find("nvmlInit_v2 failed"), std::string::npos) << r.status;
}

TEST(Nvml, AHangingDriverIsKilledAtTheDeadline) {
  auto start = std::chrono::steady_clock::now();
  NvmlReport r = fake_nvml(temp_config("hang.txt", "hang\n"), 1.0);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(r.loaded);
  EXPECT_NE(r.status.find("did not answer within 1 s"), std::string::npos) << r.status;
  EXPECT_LT(s, 5.0);
}

TEST(Nvml, ThisMachineProbesWithoutErrors) {
  // Whatever this host is (the CI host has no GPU): the probe answers and describes the CPU host.
  NodeTopology t = probe_this_machine("libnvidia-ml.so.1", 30);
  EXPECT_GE(t.host.cores, 1);
  EXPECT_GE(t.host.numa_nodes, 1);
  EXPECT_GT(t.host.memory_bytes, 0);
  EXPECT_FALSE(t.nvlink_status.empty());
  if (t.planned_gpus().empty()) {
    ClusterOptions o;
    o.ranks = 2;
    o.this_machine = true;
    ClusterSpec c = cluster_from_topology(t, o);
    EXPECT_EQ(c.backend, "gloo");
    EXPECT_EQ(c.gpus_per_node, 2);
    EXPECT_EQ(c.device.kind, "cpu");
    // Each of the 2 ranks gets half the memory hwloc/the OS reports.
    EXPECT_DOUBLE_EQ(c.device.memory_bytes, t.host.memory_bytes / 2);
    std::string e;
    try {
      cluster_from_topology(t, ClusterOptions{});
    } catch (const InputError& err) {
      e = err.what();
    }
    EXPECT_NE(e.find("--ranks"), std::string::npos) << e;
  }
}
