#include "topology/cluster_presets.h"

#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "core/error.h"
#include "core/units.h"

namespace planner {

namespace {

// Link latencies per ring step: NCCL's own tuning model (NVIDIA/nccl src/graph/tuning.cc, hwLat,
// Ring/Simple): NVLink 3.4 us, PCI 5.7 us, network 14 us.
constexpr double kNvlinkLatency_s = 3.4e-6;
constexpr double kPcieLatency_s = 5.7e-6;
constexpr double kNetLatency_s = 14e-6;

LinkSpec link(const std::string& name, double gb_per_s, double latency_s, double eff) {
  LinkSpec l;
  l.name = name;
  l.bw_Bps = gbps_to_Bps(gb_per_s);
  l.latency_s = latency_s;
  l.efficiency = eff;
  return l;
}

DeviceSpec gpu(const std::string& name, double bf16_tflops, double fp32_tflops, double memory_mib,
               double mem_bw_GBps, int64_t sms) {
  DeviceSpec d;
  d.name = name;
  d.kind = "gpu";
  d.peak_bf16_flops_per_s = bf16_tflops * kTera;
  d.peak_fp32_flops_per_s = fp32_tflops * kTera;
  d.memory_bytes = memory_mib * 1024.0 * 1024.0;
  d.mem_bw_Bps = gbps_to_Bps(mem_bw_GBps);
  d.compute_units = sms;
  d.gemm_tile_m = 128;
  d.gemm_tile_n = 128;
  return d;
}

// FlashAttention-2 reaches 50-73% of peak forward on A100 (Dao 2023) and 35% on H100 (Shah et
// al. 2024, FlashAttention-3, abstract); backward is lower, so take the low ends.
double default_attention_efficiency(const DeviceSpec& d) {
  const bool hopper = d.name.find("H100") != std::string::npos || d.name.find("H200") != std::string::npos ||
                      d.name.find("H800") != std::string::npos || d.name.find("GH200") != std::string::npos;
  return hopper ? 0.35 : 0.5;
}

ClusterSpec gpu_node(const std::string& name, DeviceSpec d, int64_t gpus, LinkSpec intra, LinkSpec inter) {
  ClusterSpec c;
  c.name = name;
  c.backend = "nccl";
  c.device = std::move(d);
  c.gpus_per_node = gpus;
  c.num_nodes = 1;
  c.intra_node = std::move(intra);
  c.inter_node = std::move(inter);
  c.comm_overlaps_compute = true;
  // CUDA context + cuBLAS workspace + NCCL buffers: about 1 GiB per process on Hopper/Ampere
  // (docs/cost-model.md, "Memory not in tensors").
  c.runtime_reserved_bytes = 1.0 * kGiB;
  c.allocator_fragmentation = 0.05;
  c.efficiency = EfficiencySpec{};  // gemm 0.75, memory 0.8 (docs/cost-model.md)
  c.efficiency.attention = default_attention_efficiency(c.device);
  return c;
}

}  // namespace

std::vector<std::string> cluster_preset_names() {
  return {"h100-sxm", "h200-sxm", "a100-80gb-sxm", "a100-40gb-sxm", "h100-pcie", "a100-40gb-4x", "cpu-gloo"};
}

// Something at that path (not a preset name): read as a file, so that a directory, a FIFO or a
// device is refused by name (core/json_io.h, read_input_file) instead of "no such file".
static bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

ClusterSpec resolve_cluster(const std::string& name, const std::string& flag) {
  // Datasheet sources are listed per preset in docs/cost-model.md.
  if (name == "h100-sxm")  // DGX/HGX H100: NVLink4 900 GB/s bidirectional, 8x ConnectX-7 NDR 400 Gb/s
    return gpu_node(name, gpu("NVIDIA H100 SXM5 80GB", 989.4, 66.9, 81559, 3350, 132), 8,
                    link("NVLink4 (NVSwitch)", 450, kNvlinkLatency_s, 0.8),
                    link("NDR InfiniBand 400 Gb/s per GPU", 50, kNetLatency_s, 0.9));
  if (name == "h200-sxm")
    return gpu_node(name, gpu("NVIDIA H200 SXM 141GB", 989.4, 66.9, 143771, 4800, 132), 8,
                    link("NVLink4 (NVSwitch)", 450, kNvlinkLatency_s, 0.8),
                    link("NDR InfiniBand 400 Gb/s per GPU", 50, kNetLatency_s, 0.9));
  if (name == "a100-80gb-sxm")  // DGX A100: NVLink3 600 GB/s bidirectional, 8x HDR 200 Gb/s
    return gpu_node(name, gpu("NVIDIA A100 SXM4 80GB", 312, 19.5, 81920, 2039, 108), 8,
                    link("NVLink3 (NVSwitch)", 300, kNvlinkLatency_s, 0.8),
                    link("HDR InfiniBand 200 Gb/s per GPU", 25, kNetLatency_s, 0.9));
  if (name == "a100-40gb-sxm")
    return gpu_node(name, gpu("NVIDIA A100 SXM4 40GB", 312, 19.5, 40960, 1555, 108), 8,
                    link("NVLink3 (NVSwitch)", 300, kNvlinkLatency_s, 0.8),
                    link("HDR InfiniBand 200 Gb/s per GPU", 25, kNetLatency_s, 0.9));
  if (name == "h100-pcie")  // 8x H100 PCIe on Gen5 switches, no NVLink bridges; 2x 200 Gb/s per node
    return gpu_node(name, gpu("NVIDIA H100 PCIe 80GB", 756, 51, 81559, 2000, 114), 8,
                    link("PCIe Gen5 x16", 64, kPcieLatency_s, 0.7),
                    link("2x 200 Gb/s Ethernet (RoCE) per node", 6.25, kNetLatency_s, 0.9));
  if (name == "a100-40gb-4x") {  // HGX A100 4-GPU (e.g. Perlmutter): NVLink3, 4x 200 Gb/s per node
    // No NVSwitch: 12 links per GPU, 4 to each of the 3 peers; a pair gets a third (100 GB/s).
    ClusterSpec c = gpu_node(name, gpu("NVIDIA A100 SXM4 40GB", 312, 19.5, 40960, 1555, 108), 4,
                             link("NVLink3 (4 links to each peer)", 300, kNvlinkLatency_s, 0.8),
                             link("200 Gb/s per GPU", 25, kNetLatency_s, 0.9));
    c.intra_node_fabric = "mesh";
    return c;
  }
  if (name == "cpu-gloo") return cpu_gloo_host_cluster(4);
  if (is_file(name)) return read_cluster_file(name);
  if (name.find('/') != std::string::npos || (name.size() > 5 && name.substr(name.size() - 5) == ".json"))
    throw InputError(name, "", "no such file (a cluster is a preset name or a path to a JSON file)");
  std::string valid;
  for (const auto& p : cluster_preset_names()) valid += (valid.empty() ? "" : ", ") + p;
  throw InputError(flag, "", "unknown cluster '" + name + "'; valid presets: " + valid +
                                 ", or a path to a cluster JSON file (see docs/formats.md)");
}

ClusterSpec cpu_gloo_cluster(int64_t cores, int64_t ranks, double ghz, int64_t fp32_flops_per_cycle,
                             double memory_bytes, double mem_bw_Bps) {
  PLANNER_CHECK(cores >= 1 && ranks >= 1, "cores=" << cores << " ranks=" << ranks);
  ClusterSpec c;
  c.name = "cpu-gloo";
  c.backend = "gloo";
  c.gpus_per_node = ranks;
  c.num_nodes = 1;
  const double cores_per_rank = std::max(1.0, static_cast<double>(cores) / static_cast<double>(ranks));
  // When ranks > cores they time-share: each rank gets cores/ranks of the machine.
  const double share = static_cast<double>(cores) / static_cast<double>(ranks);
  c.device.name = "CPU rank (" + std::to_string(cores) + " cores / " + std::to_string(ranks) + " ranks)";
  c.device.kind = "cpu";
  c.device.peak_fp32_flops_per_s = share * ghz * 1e9 * static_cast<double>(fp32_flops_per_cycle);
  // The bf16 peak is the fp32 one until `planner calibrate --precision bf16-mixed` times bf16
  // GEMMs (CPUs differ: AVX512-BF16 ones run them faster than fp32, others far slower).
  c.device.peak_bf16_flops_per_s = c.device.peak_fp32_flops_per_s;
  c.device.memory_bytes = memory_bytes / static_cast<double>(ranks);
  c.device.mem_bw_Bps = mem_bw_Bps * share / static_cast<double>(cores);
  c.device.compute_units = static_cast<int64_t>(cores_per_rank);
  c.device.gemm_tile_m = 1;  // CPU BLAS: no wave quantization to speak of
  c.device.gemm_tile_n = 1;
  // Shared-memory transport through the loopback TCP stack (Gloo's TCP transport).
  c.intra_node = link("Gloo TCP loopback", 2.0, 20e-6, 1.0);
  c.inter_node = link("Gloo TCP network", 1.25, 50e-6, 1.0);
  c.efficiency.gemm = 0.6;
  c.efficiency.gemm_overhead_s = 2e-6;
  c.efficiency.op_overhead_s = 2e-6;
  c.efficiency.attention = 0.3;
  c.efficiency.memory = 1.0;
  c.comm_overlaps_compute = false;  // Gloo's work runs on the same cores as compute
  c.runtime_reserved_bytes = 0;
  c.allocator_fragmentation = 0;
  return c;
}

static double read_cpu_ghz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) {
        try {
          double mhz = std::stod(line.substr(p + 1));
          if (mhz > 100) return mhz / 1000.0;
        } catch (...) {
        }
      }
    }
  }
  return 2.5;
}

static int64_t read_fp32_flops_per_cycle() {
  // Two FMA pipes per core: 2 x lanes x 2 FLOP. AVX-512: 16 lanes -> 64; AVX2: 8 lanes -> 32.
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      if (line.find(" avx512f") != std::string::npos) return 64;
      if (line.find(" avx2") != std::string::npos && line.find(" fma") != std::string::npos) return 32;
      return 16;
    }
  }
  return 16;
}

ClusterSpec cpu_gloo_host_cluster(int64_t ranks) {
  int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  double mem = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  // DRAM bandwidth per core: ~10 GB/s is typical of a server core's achievable stream bandwidth;
  // `planner calibrate` measures it.
  return cpu_gloo_cluster(cores, ranks, read_cpu_ghz(), read_fp32_flops_per_cycle(), mem, cores * 10e9);
}

ClusterSpec gpu_node_cluster(const std::string& name, const DeviceSpec& device, int64_t gpus_per_node,
                             const LinkSpec& intra_node, const LinkSpec& inter_node) {
  PLANNER_CHECK(gpus_per_node >= 1, "gpus_per_node=" << gpus_per_node);
  return gpu_node(name, device, gpus_per_node, intra_node, inter_node);
}

double ring_step_latency_s(const std::string& link_class) {
  if (link_class == "nvlink") return kNvlinkLatency_s;
  if (link_class == "pcie") return kPcieLatency_s;
  if (link_class == "net") return kNetLatency_s;
  PLANNER_CHECK(false, "unknown link class '" << link_class << "'");
  return 0;
}

ClusterSpec cpu_gloo_cluster_for(int64_t cores, double memory_bytes, int64_t ranks, double ghz,
                                 int64_t fp32_flops_per_cycle) {
  if (ghz <= 0) ghz = read_cpu_ghz();
  if (fp32_flops_per_cycle <= 0) fp32_flops_per_cycle = read_fp32_flops_per_cycle();
  // Same DRAM bandwidth assumption as cpu_gloo_host_cluster: ~10 GB/s per core.
  return cpu_gloo_cluster(cores, ranks, ghz, fp32_flops_per_cycle, memory_bytes, static_cast<double>(cores) * 10e9);
}

}  // namespace planner
