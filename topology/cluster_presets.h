// Node presets: vendor datasheet peaks + documented efficiency defaults (docs/cost-model.md,
// "Hardware presets", gives the source of every number).
#pragma once
#include <string>
#include <vector>

#include "core/cluster_spec.h"

namespace planner {

std::vector<std::string> cluster_preset_names();
// A preset with num_nodes = 1; InputError listing the valid names if unknown. `flag` names the
// option for errors. A path to a cluster JSON file is accepted too.
ClusterSpec resolve_cluster(const std::string& name_or_path, const std::string& flag = "--cluster");
// The CPU/Gloo profile for ranks as processes on one host: `ranks` ranks share `cores` cores
// (threads per rank = max(1, cores / ranks)). Peak FLOP/s from cores x GHz x FLOP/cycle; the
// GEMM efficiency and link numbers are replaced by `planner calibrate`.
ClusterSpec cpu_gloo_cluster(int64_t cores, int64_t ranks, double ghz, int64_t fp32_flops_per_cycle,
                             double memory_bytes, double mem_bw_Bps);
// The same, for this machine (cores, memory and SIMD width read from the OS).
ClusterSpec cpu_gloo_host_cluster(int64_t ranks);

// For clusters built from a probed node (topology/node_cluster.h, `planner probe --as-cluster`):
// one GPU node with the presets' defaults (runtime reserve, allocator fragmentation, efficiency)
// around a probed device and probed links.
ClusterSpec gpu_node_cluster(const std::string& name, const DeviceSpec& device, int64_t gpus_per_node,
                             const LinkSpec& intra_node, const LinkSpec& inter_node);
// Per-ring-step latency of a link class as NCCL's tuning model has it: "nvlink", "pcie" or "net".
double ring_step_latency_s(const std::string& link_class);
// The CPU/Gloo profile from counted cores and memory (hwloc); clock and FP32 FLOP/cycle from this
// host's /proc/cpuinfo unless given (> 0).
ClusterSpec cpu_gloo_cluster_for(int64_t cores, double memory_bytes, int64_t ranks, double ghz = 0,
                                 int64_t fp32_flops_per_cycle = 0);

}  // namespace planner
