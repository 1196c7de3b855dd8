// `planner probe`: describe this machine (or an hwloc XML / `nvidia-smi topo -m` text of another),
// print the GPU-to-GPU bandwidth matrix, or write the cluster file the simulator takes.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "topology/node_cluster.h"

namespace planner::app {

struct ProbeOptions {
  std::string xml;
  std::string smi_topo;
  std::string format = "text";
  bool as_cluster = false;
  std::string output;
  std::string nvml_library = "libnvidia-ml.so.1";
  bool no_nvml = false;
  double timeout_s = 20;
  topo::ClusterOptions cluster;  // the device and link overrides given (add_probe sets them once parsed)
  double peak_bf16 = 0, peak_fp32 = 0, memory_gib = 0, mem_bw = 0, intra = 0, inter = 0;  // as parsed
  int64_t sms = 0;
};

// Declares `probe` and its flags on cli, bound to *o.
CLI::App* add_probe(CLI::App& cli, ProbeOptions* o);
// The exit code: 0; InputError on bad input or a topology the cluster cannot be made of (exit 2).
int run_probe(const ProbeOptions& o);

}  // namespace planner::app
