#include "topology/gpu_table.h"

#include <algorithm>
#include <cctype>

#include "core/units.h"

namespace planner::topo {

namespace {

GpuModel model(std::string key, std::vector<std::string> match, std::vector<std::string> reject,
               std::string name, double bf16_tflops, double fp32_tflops, double memory_mib,
               double mem_bw_GBps, int64_t sms, std::string nvlink_gen, double per_link_GBps,
               int links, int pcie_gen, std::string note = "") {
  GpuModel m;
  m.key = std::move(key);
  m.match = std::move(match);
  m.reject = std::move(reject);
  m.device.name = std::move(name);
  m.device.kind = "gpu";
  m.device.peak_bf16_flops_per_s = bf16_tflops * kTera;
  m.device.peak_fp32_flops_per_s = fp32_tflops * kTera;
  m.device.memory_bytes = memory_mib * 1024.0 * 1024.0;
  m.device.mem_bw_Bps = gbps_to_Bps(mem_bw_GBps);
  m.device.compute_units = sms;
  m.device.gemm_tile_m = 128;
  m.device.gemm_tile_n = 128;
  m.nvlink_generation = std::move(nvlink_gen);
  m.nvlink_per_link_GBps = per_link_GBps;
  m.nvlink_links = links;
  m.pcie_gen = pcie_gen;
  m.pcie_lanes = 16;
  m.note = std::move(note);
  // Volta and older have no bfloat16 (their notes say so): plans in bf16 are rejected for them.
  m.device.bf16 = m.note.find("no bfloat16") == std::string::npos;
  return m;
}

// Lower case, letters and digits only: "Tesla V100-SXM3-32GB-H" -> "teslav100sxm332gbh".
std::string normalise(const std::string& s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// Sources (docs/topology.md, "GPU table"): NVIDIA datasheets. Peaks are dense (no sparsity).
// Memory in MiB as the driver reports the full part (the probe prefers the driver's own number).
// Order matters: the first entry whose `match` words all appear (and no `reject` word) wins.
const std::vector<GpuModel>& gpu_models() {
  static const std::vector<GpuModel> table = {
      model("h200-sxm-141gb", {"h200"}, {"nvl"}, "NVIDIA H200 SXM 141GB", 989.4, 66.9, 143771, 4800, 132,
            "NVLink4", 25, 18, 5),
      model("h100-sxm5-80gb", {"h100", "hbm3"}, {"pcie", "nvl"}, "NVIDIA H100 SXM5 80GB", 989.4, 66.9, 81559,
            3350, 132, "NVLink4", 25, 18, 5),
      model("h100-sxm5-80gb", {"h100", "sxm"}, {}, "NVIDIA H100 SXM5 80GB", 989.4, 66.9, 81559, 3350, 132,
            "NVLink4", 25, 18, 5),
      model("h100-pcie-80gb", {"h100", "pcie"}, {}, "NVIDIA H100 PCIe 80GB", 756, 51, 81559, 2000, 114,
            "NVLink4", 25, 0, 5, "NVLink only through optional bridges"),
      model("a100-sxm4-80gb", {"a100", "sxm", "80"}, {}, "NVIDIA A100 SXM4 80GB", 312, 19.5, 81920, 2039, 108,
            "NVLink3", 25, 12, 4),
      model("a100-sxm4-40gb", {"a100", "sxm"}, {}, "NVIDIA A100 SXM4 40GB", 312, 19.5, 40960, 1555, 108,
            "NVLink3", 25, 12, 4),
      model("a100-pcie-80gb", {"a100", "80", "pcie"}, {}, "NVIDIA A100 PCIe 80GB", 312, 19.5, 81920, 1935, 108,
            "NVLink3", 25, 0, 4, "NVLink only through optional bridges"),
      model("a100-pcie-40gb", {"a100", "pcie"}, {}, "NVIDIA A100 PCIe 40GB", 312, 19.5, 40960, 1555, 108,
            "NVLink3", 25, 0, 4, "NVLink only through optional bridges"),
      model("v100-sxm3-32gb", {"v100", "sxm3"}, {}, "NVIDIA Tesla V100 SXM3 32GB", 125, 15.7, 32768, 900, 80,
            "NVLink2", 25, 6, 3, "no bfloat16: peak_bf16 holds the FP16 tensor-core peak"),
      model("v100-sxm2-32gb", {"v100", "sxm2", "32"}, {}, "NVIDIA Tesla V100 SXM2 32GB", 125, 15.7, 32768, 900,
            80, "NVLink2", 25, 6, 3, "no bfloat16: peak_bf16 holds the FP16 tensor-core peak"),
      model("v100-sxm2-16gb", {"v100", "sxm2"}, {}, "NVIDIA Tesla V100 SXM2 16GB", 125, 15.7, 16384, 900, 80,
            "NVLink2", 25, 6, 3, "no bfloat16: peak_bf16 holds the FP16 tensor-core peak"),
      model("v100-pcie-32gb", {"v100", "pcie", "32"}, {}, "NVIDIA Tesla V100 PCIe 32GB", 112, 14, 32768, 900,
            80, "", 0, 0, 3, "no bfloat16: peak_bf16 holds the FP16 tensor-core peak"),
      model("v100-pcie-16gb", {"v100", "pcie"}, {}, "NVIDIA Tesla V100 PCIe 16GB", 112, 14, 16384, 900, 80, "",
            0, 0, 3, "no bfloat16: peak_bf16 holds the FP16 tensor-core peak"),
      model("k40m", {"k40"}, {}, "NVIDIA Tesla K40m", 4.29, 4.29, 12288, 288, 15, "", 0, 0, 3,
            "no tensor cores and no bfloat16: peak_bf16 is the FP32 peak"),
  };
  return table;
}

std::string gpu_model_keys() {
  std::vector<std::string> keys;
  for (const auto& m : gpu_models())
    if (std::find(keys.begin(), keys.end(), m.key) == keys.end()) keys.push_back(m.key);
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

std::optional<GpuModel> find_gpu_model(const std::string& reported_name) {
  const std::string n = normalise(reported_name);
  if (n.empty()) return std::nullopt;
  for (const auto& m : gpu_models()) {
    bool ok = true;
    for (const auto& w : m.match) ok = ok && n.find(w) != std::string::npos;
    for (const auto& w : m.reject) ok = ok && n.find(w) == std::string::npos;
    if (ok) return m;
  }
  return std::nullopt;
}

std::optional<GpuModel> gpu_model_by_key(const std::string& key) {
  for (const auto& m : gpu_models())
    if (m.key == key) return m;
  return std::nullopt;
}

double nvlink_per_link_Bps_for_cc(int cc_major, int /*cc_minor*/) {
  // NVLink1 (P100, sm_60): 20 GB/s per direction per link; NVLink2/3/4 (V100 sm_70, A100 sm_80,
  // H100 sm_90): 25 GB/s; NVLink5 (B200, sm_100): 50 GB/s. Consumer Ampere/Ada bridges (sm_86/89)
  // differ per product and are left unknown.
  if (cc_major == 6) return gbps_to_Bps(20);
  if (cc_major == 7 || cc_major == 9) return gbps_to_Bps(25);
  if (cc_major == 8) return gbps_to_Bps(25);
  if (cc_major == 10) return gbps_to_Bps(50);
  return 0;
}

std::string nvlink_generation_for_cc(int cc_major, int cc_minor) {
  if (cc_major == 6) return "NVLink1";
  if (cc_major == 7) return "NVLink2";
  if (cc_major == 8 && cc_minor == 0) return "NVLink3";
  if (cc_major == 9) return "NVLink4";
  if (cc_major == 10) return "NVLink5";
  return "";
}

double pcie_Bps(int gen, int lanes) {
  // Per lane and direction: GT/s x encoding / 8 bits.
  double per_lane_GBps = 0;
  switch (gen) {
    case 1: per_lane_GBps = 2.5 * 0.8 / 8; break;
    case 2: per_lane_GBps = 5.0 * 0.8 / 8; break;
    case 3: per_lane_GBps = 8.0 * 128.0 / 130.0 / 8; break;
    case 4: per_lane_GBps = 16.0 * 128.0 / 130.0 / 8; break;
    case 5: per_lane_GBps = 32.0 * 128.0 / 130.0 / 8; break;
    default: return 0;
  }
  return gbps_to_Bps(per_lane_GBps * lanes);
}

}  // namespace planner::topo
