#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "simulator/collectives.h"
#include "simulator/runtime.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {

LinkSpec link_100GBps_10us() {
  LinkSpec l;
  l.name = "test";
  l.bw_Bps = 100e9;
  l.latency_s = 10e-6;
  l.efficiency = 1.0;
  return l;
}

TEST(Collectives, RingAllGather) {
  // 8 ranks, 1 GB gathered: 7 steps x 10 us + 7/8 x 1e9 B / 1e11 B/s = 70 us + 8.75 ms.
  EXPECT_NEAR(all_gather_seconds(8, 1e9, link_100GBps_10us()), 70e-6 + 8.75e-3, 1e-12);
}

TEST(Collectives, RingReduceScatterEqualsAllGatherOfSameSize) {
  EXPECT_DOUBLE_EQ(reduce_scatter_seconds(8, 1e9, link_100GBps_10us()), all_gather_seconds(8, 1e9, link_100GBps_10us()));
}

TEST(Collectives, RingAllReduceIsTwice) {
  // 4 ranks, 400 MB: 2 x 3 x 10 us + 2 x 3/4 x 4e8 / 1e11 = 60 us + 6 ms.
  EXPECT_NEAR(all_reduce_seconds(4, 4e8, link_100GBps_10us()), 60e-6 + 6e-3, 1e-12);
}

TEST(Collectives, SingleRankIsFree) {
  EXPECT_EQ(all_reduce_seconds(1, 1e9, link_100GBps_10us()), 0.0);
  EXPECT_EQ(all_gather_seconds(1, 1e9, link_100GBps_10us()), 0.0);
}

TEST(Collectives, EfficiencyScalesBandwidth) {
  LinkSpec l = link_100GBps_10us();
  l.efficiency = 0.5;
  l.latency_s = 0;
  // 2 ranks, 1e9 B: 1/2 x 1e9 / (0.5 x 1e11) = 10 ms.
  EXPECT_NEAR(all_gather_seconds(2, 1e9, l), 10e-3, 1e-12);
}

TEST(Collectives, GlooReduceScatterIsAllToAllPlusLocalSum) {
  LinkSpec l = link_100GBps_10us();
  // 4 ranks, 400 MB: all_to_all 3 x 10 us + 3/4 x 4e8 / 1e11 = 30 us + 3 ms;
  // local sum reads 400 MB and writes 100 MB at 10 GB/s = 50 ms.
  EXPECT_NEAR(gloo_reduce_scatter_seconds(4, 4e8, l, 10e9), 30e-6 + 3e-3 + 50e-3, 1e-12);
}

TEST(Collectives, GroupPlacement) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.num_nodes = 4;  // 32 GPUs, 8 per node
  LinkSpec scratch;
  // TP groups of consecutive ranks: tp=8 stays inside a node, tp=16 crosses.
  EXPECT_FALSE(group_crosses_nodes(c, 8, 1));
  EXPECT_TRUE(group_crosses_nodes(c, 16, 1));
  EXPECT_EQ(&group_link(c, 8, 1, &scratch), &c.intra_node);
  // DP groups stride tp: dp=4 at tp=8 spans the 4 nodes; dp=2 at tp=4 stays in one node.
  EXPECT_EQ(&group_link(c, 4, 8, &scratch), &c.inter_node);
  EXPECT_EQ(&group_link(c, 2, 4, &scratch), &c.intra_node);
}

// A ring over a group that spans nodes leaves each node once per channel, through the NICs of the
// group's members there (NCCL spreads its channels over them), and forwards the other hops over
// NVLink. DGX A100 nodes: 8 x HDR 200 Gb/s, 25 GB/s per GPU at efficiency 0.9 (22.5 GB/s); NVLink3
// 300 GB/s at 0.8 (240 GB/s).
TEST(Collectives, ARingAcrossNodesLeavesEachNodeThroughItsMembersNics) {
  ClusterSpec c = resolve_cluster("a100-80gb-sxm");
  c.num_nodes = 4;  // 32 GPUs
  LinkSpec scratch;
  // dp = 32 at tp = 1: 8 members a node, 8 NICs: min(8 x 22.5, 240) = 180 GB/s.
  EXPECT_EQ(group_members_per_node(c, 32, 1), 8);
  EXPECT_NEAR(group_link(c, 32, 1, &scratch).effective_bw_Bps(), 180e9, 1e-3);
  // dp = 16 at tp = 2: 4 members a node (the other TP rank's group uses the other 4 NICs): 90 GB/s.
  EXPECT_EQ(group_members_per_node(c, 16, 2), 4);
  EXPECT_NEAR(group_link(c, 16, 2, &scratch).effective_bw_Bps(), 90e9, 1e-3);
  // dp = 4 at tp = 8: one member a node, its own NIC: the inter-node link itself.
  EXPECT_EQ(&group_link(c, 4, 8, &scratch), &c.inter_node);
  // Eight NICs of HDR can outrun NVLink3 only if they are faster: with 50 GB/s NICs the ring is
  // paced by NVLink, 240 GB/s.
  c.inter_node.bw_Bps = 50e9;
  EXPECT_NEAR(group_link(c, 32, 1, &scratch).effective_bw_Bps(), 240e9, 1e-3);
  // An all-gather of 1 GB over the 32: 31 steps x 14 us + 31/32 x 1e9 B / 240e9 B/s.
  EXPECT_NEAR(all_gather_seconds(32, 1e9, group_link(c, 32, 1, &scratch)), 31 * 14e-6 + 31.0 / 32 * 1e9 / 240e9, 1e-12);
}

// HGX 4-GPU board: 18 NVLink4 links per GPU (450 GB/s per direction), 6 to each of the 3 peers.
// A pair reaches one peer's links, 150 GB/s; a group of all 4, every link, 450 GB/s.
TEST(Collectives, MeshFabricGivesAGroupItsPeersLinks) {
  ClusterSpec c = resolve_cluster("h200-sxm");
  c.gpus_per_node = 4;
  c.intra_node_fabric = "mesh";
  LinkSpec scratch;
  EXPECT_NEAR(group_link(c, 2, 1, &scratch).bw_Bps, 150e9, 1e3);
  EXPECT_NEAR(group_link(c, 3, 1, &scratch).bw_Bps, 300e9, 1e3);
  EXPECT_EQ(&group_link(c, 4, 1, &scratch), &c.intra_node);
  // A DP group of 2 at tp 2 (ranks 0 and 2) is a pair too.
  EXPECT_NEAR(group_link(c, 2, 2, &scratch).bw_Bps, 150e9, 1e3);
  // 134,217,728 B all_gather over the pair: 1 step x latency + 1/2 x 134.2 MB / (150 GB/s x 0.8).
  EXPECT_NEAR(all_gather_seconds(2, 134217728.0, group_link(c, 2, 1, &scratch)),
              c.intra_node.latency_s + 0.5 * 134217728.0 / 120e9, 1e-9);
  // Behind a switch the pair gets all 450 GB/s.
  c.intra_node_fabric = "switch";
  EXPECT_EQ(&group_link(c, 2, 1, &scratch), &c.intra_node);
}

TEST(Collectives, CalibratedEntryPerKindAndGroup) {
  ClusterSpec c = resolve_cluster("cpu-gloo");
  c.gpus_per_node = 8;
  CollectiveFitSpec ar{"all_reduce", 4, 1, {"ar4", 0.9e9, 300e-6, 1.0}};
  CollectiveFitSpec ag{"all_gather", 2, 2, {"ag2s2", 1.5e9, 250e-6, 1.0}};
  c.collectives = {ar, ag};
  LinkSpec scratch;
  // Exact kind, size and stride.
  EXPECT_EQ(collective_link(c, CollectiveKind::all_reduce, 4, 1, &scratch).name, "ar4");
  EXPECT_EQ(collective_link(c, CollectiveKind::all_gather, 2, 2, &scratch).name, "ag2s2");
  // 1 MB all_reduce over 4 ranks on it: 6 steps x 300 us + 2 * 3/4 * 1e6 B / 0.9e9 B/s = 1.8 ms + 1.6667 ms.
  EXPECT_NEAR(all_reduce_seconds(4, 1e6, collective_link(c, CollectiveKind::all_reduce, 4, 1, &scratch)), 3.4667e-3, 1e-7);
  // Same placement, another stride (a DP group of 2 in a world of 8 would have stride 4).
  EXPECT_EQ(collective_link(c, CollectiveKind::all_gather, 2, 4, &scratch).name, "ag2s2");
  // No entry for this kind, size or placement: the intra-node link.
  EXPECT_EQ(&collective_link(c, CollectiveKind::reduce_scatter, 4, 1, &scratch), &c.intra_node);
  EXPECT_EQ(&collective_link(c, CollectiveKind::all_gather, 2, 1, &scratch), &c.intra_node);
  EXPECT_EQ(&collective_link(c, CollectiveKind::all_reduce, 2, 2, &scratch), &c.intra_node);
  // A group that leaves the node never uses the table: 4 ranks 4 apart on 8-GPU nodes, 2 a node,
  // leave each node through 2 NICs.
  c.num_nodes = 2;
  const LinkSpec& crossing = collective_link(c, CollectiveKind::all_reduce, 4, 4, &scratch);
  EXPECT_NE(crossing.name, "ar4");
  EXPECT_DOUBLE_EQ(crossing.effective_bw_Bps(),
                   std::min(2 * c.inter_node.effective_bw_Bps(), c.intra_node.effective_bw_Bps()));
  EXPECT_EQ(&collective_link(c, CollectiveKind::all_reduce, 2, 8, &scratch), &c.inter_node);  // 1 a node
}

TEST(Collectives, CalibratedEntriesAfterComputeAreInterpolated) {
  ClusterSpec c = resolve_cluster("cpu-gloo");
  c.gpus_per_node = 4;
  // A TP pair's all_reduce measured right after a barrier (0 us of compute: alpha 100 us, 1 GB/s)
  // and after 2 ms of compute (alpha 300 us, 0.5 GB/s).
  CollectiveFitSpec at0{"all_reduce", 2, 1, {"ar2 after 0", 1e9, 100e-6, 1.0}};
  CollectiveFitSpec at2{"all_reduce", 2, 1, {"ar2 after 2 ms", 0.5e9, 300e-6, 1.0}};
  at0.after_compute_s = 0;
  at2.after_compute_s = 2e-3;
  c.collectives = {at2, at0};  // any order
  // Halfway: alpha 200 us; seconds per byte (1 + 2) / 2 ns -> 0.6667 GB/s.
  LinkSpec mid = collective_link_after(c, CollectiveKind::all_reduce, 2, 1, 1e-3);
  EXPECT_NEAR(mid.latency_s, 200e-6, 1e-12);
  EXPECT_NEAR(mid.effective_bw_Bps(), 1e9 / 1.5, 1.0);
  // A 1 MB all_reduce on it: 2 steps x 200 us + 2 * 1/2 * 1e6 B * 1.5 ns = 0.4 ms + 1.5 ms.
  EXPECT_NEAR(all_reduce_seconds(2, 1e6, mid), 1.9e-3, 1e-9);
  // Outside the measured range: the nearest entry.
  EXPECT_EQ(collective_link_after(c, CollectiveKind::all_reduce, 2, 1, 5e-3).name, "ar2 after 2 ms");
  EXPECT_EQ(collective_link_after(c, CollectiveKind::all_reduce, 2, 1, 0.0).name, "ar2 after 0");
  // Without a compute time: the entry measured after the most compute.
  LinkSpec scratch;
  EXPECT_EQ(collective_link(c, CollectiveKind::all_reduce, 2, 1, &scratch).name, "ar2 after 2 ms");
  // Entries without after_compute_s (older profiles, GPUs): the one entry, whatever the compute.
  c.collectives = {{"all_reduce", 2, 1, {"ar2", 1e9, 100e-6, 1.0}}};
  EXPECT_EQ(collective_link_after(c, CollectiveKind::all_reduce, 2, 1, 1e-3).name, "ar2");
  // No table: the intra-node link.
  c.collectives.clear();
  EXPECT_EQ(collective_link_after(c, CollectiveKind::all_reduce, 2, 1, 1e-3).name, c.intra_node.name);
}

TEST(Collectives, OneTableOfStepsAndBusFactors) {
  // nccl-tests' bus-bandwidth factors over 8 ranks: all_gather, reduce_scatter, all_to_all 7/8 in
  // 7 steps; all_reduce 14/8 in 14 steps; one rank moves nothing.
  for (CollectiveKind k : {CollectiveKind::all_gather, CollectiveKind::reduce_scatter, CollectiveKind::all_to_all}) {
    EXPECT_EQ(ring_algorithm(k, 8).steps, 7.0) << to_string(k);
    EXPECT_EQ(ring_algorithm(k, 8).bus_factor, 7.0 / 8.0) << to_string(k);
  }
  EXPECT_EQ(ring_algorithm(CollectiveKind::all_reduce, 8).steps, 14.0);
  EXPECT_EQ(ring_algorithm(CollectiveKind::all_reduce, 8).bus_factor, 14.0 / 8.0);
  EXPECT_EQ(ring_algorithm(CollectiveKind::all_reduce, 1).steps, 0.0);
  // The per-collective functions are this table: 4 ranks, 400 MB all_reduce = 6 steps x 10 us +
  // 1.5 x 4e8 B / 1e11 B/s.
  EXPECT_EQ(collective_seconds(CollectiveKind::all_reduce, 4, 4e8, link_100GBps_10us()),
            all_reduce_seconds(4, 4e8, link_100GBps_10us()));
  EXPECT_NEAR(collective_seconds(CollectiveKind::all_reduce, 4, 4e8, link_100GBps_10us()), 60e-6 + 6e-3, 1e-12);
  // Gloo's local sum after its all_to_all: reads 8 MB, writes 8 MB / 4.
  EXPECT_EQ(gloo_local_sum_bytes(4, 8e6), 10e6);
}

TEST(Runtime, DefaultsAndNames) {
  // A GPU cluster trains with FSDP2 (fused kernels, peak = sum of the lines); the CPU cluster only
  // with planner's executor (composed kernels, its instants, its eager AdamW and op costs).
  const Runtime gpu = default_runtime(resolve_cluster("h100-sxm"));
  EXPECT_EQ(gpu.kind, RuntimeKind::fsdp2);
  EXPECT_EQ(gpu.kernels, KernelFlavor::fused);
  EXPECT_FALSE(gpu.memory_at_instants);
  EXPECT_FALSE(gpu.composed_adamw);
  const Runtime gpu_executor = make_runtime(RuntimeKind::executor, resolve_cluster("h100-sxm"));
  EXPECT_EQ(gpu_executor.kernels, KernelFlavor::fused);  // SDPA on the GPU
  EXPECT_TRUE(gpu_executor.memory_at_instants);
  EXPECT_TRUE(gpu_executor.composed_adamw);
  EXPECT_FALSE(gpu_executor.eager_op_overhead);
  const Runtime cpu = default_runtime(resolve_cluster("cpu-gloo"));
  EXPECT_EQ(cpu.kind, RuntimeKind::executor);
  EXPECT_EQ(cpu.kernels, KernelFlavor::composed);
  EXPECT_TRUE(cpu.eager_op_overhead);
  EXPECT_EQ(runtime_from_string("torchtitan", "--runtime", ""), RuntimeKind::fsdp2);
  EXPECT_EQ(runtime_from_string("lightning", "--runtime", ""), RuntimeKind::fsdp2);
  EXPECT_EQ(runtime_from_string("executor", "--runtime", ""), RuntimeKind::executor);
  try {
    runtime_from_string("deepspeed", "--runtime", "");
    FAIL() << "accepted an unknown runtime";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--runtime: unknown runtime 'deepspeed' (allowed: fsdp2"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace planner
