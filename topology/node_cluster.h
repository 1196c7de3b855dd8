// From a probed node to the cluster file the simulator takes (core/cluster_spec.h,
// planner-cluster/1): the device from the GPU table (or overrides), intra_node from the ring
// bandwidth of the node's GPUs, inter_node from the NICs (or --inter-node-gbps).
// A node without GPUs gives the CPU/Gloo profile for local executor runs.
#pragma once
#include <optional>
#include <string>

#include "core/cluster_spec.h"
#include "topology/node_topology.h"

namespace planner::topo {

struct ClusterOptions {
  std::string name;                          // cluster name; "" -> from the machine
  std::string gpu_key;                       // --gpu: a GPU table key instead of the reported name
  std::optional<double> peak_bf16_tflops;    // device overrides (datasheet numbers)
  std::optional<double> peak_fp32_tflops;
  std::optional<double> memory_gib;
  std::optional<double> mem_bw_GBps;
  std::optional<int64_t> sms;
  std::optional<double> intra_node_GBps;     // per GPU, per direction (replaces the probed ring)
  std::optional<double> inter_node_gbps;     // the node's total network bandwidth, Gb/s
  int64_t ranks = 0;                         // CPU host: processes (required there)
  double cpu_ghz = 0;                        // CPU host: 0 -> from the CPU model name or /proc/cpuinfo
  int64_t cpu_fp32_flops_per_cycle = 0;      // CPU host: 0 -> from /proc/cpuinfo
  bool this_machine = false;                 // the topology is this machine's (CPU numbers from /proc)
};

// InputError (exit 2) names the flag to pass when something is missing: an unknown GPU (--gpu or
// the device flags), no NIC rate (--inter-node-gbps), mixed GPU models, a CPU host without --ranks.
ClusterSpec cluster_from_topology(const NodeTopology& t, const ClusterOptions& o);
// The cluster JSON with a "source" line (what was probed).
Json cluster_json_from_topology(const NodeTopology& t, const ClusterSpec& c);

}  // namespace planner::topo
