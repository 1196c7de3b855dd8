// Known GPUs: datasheet numbers (docs/topology.md cites each source) keyed by the names NVML,
// CUDA and hwloc report ("Tesla V100-SXM3-32GB-H", "NVIDIA H100 80GB HBM3", "Tesla K40m").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/cluster_spec.h"

namespace planner::topo {

struct GpuModel {
  std::string key;                  // "v100-sxm3-32gb": what --gpu takes
  std::vector<std::string> match;   // all of these appear in the normalised reported name
  std::vector<std::string> reject;  // none of these does
  DeviceSpec device;                // peaks, memory, HBM bandwidth, SMs
  std::string nvlink_generation;    // "NVLink2", "" if the part has no NVLink
  double nvlink_per_link_GBps = 0;  // per direction
  int nvlink_links = 0;             // links per GPU on the SXM board
  int pcie_gen = 3;                 // host link
  int pcie_lanes = 16;
  std::string note;                 // e.g. "no bfloat16: peak_bf16 is the FP16 tensor peak"
};

const std::vector<GpuModel>& gpu_models();
std::string gpu_model_keys();  // "h100-sxm5-80gb, ..." for error messages
// By reported name ("Tesla V100-SXM3-32GB-H"); nullopt if unknown.
std::optional<GpuModel> find_gpu_model(const std::string& reported_name);
// By key (--gpu); nullopt if unknown.
std::optional<GpuModel> gpu_model_by_key(const std::string& key);

// NVLink per-link rate (per direction) from the CUDA compute capability: sm_60 20 GB/s (NVLink1),
// sm_70/80/90 25 GB/s (NVLink2/3/4), sm_100 50 GB/s (NVLink5). 0 if unknown.
double nvlink_per_link_Bps_for_cc(int cc_major, int cc_minor);
std::string nvlink_generation_for_cc(int cc_major, int cc_minor);
// PCIe rate per direction after 8b/10b (Gen1/2) or 128b/130b (Gen3+) encoding.
double pcie_Bps(int gen, int lanes);

}  // namespace planner::topo
