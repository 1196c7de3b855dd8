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

}  // namespace planner
