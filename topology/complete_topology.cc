// What every source leaves to the GPU table and to NCCL's constants.
#include <algorithm>
#include <cmath>
#include <set>

#include "core/units.h"
#include "topology/probe.h"

namespace planner::topo {

namespace {

// Inter-socket bandwidth per direction as NCCL models it (NVIDIA/nccl src/graph/topo.h:
// QPI_BW 6, SKL_QPI_BW 10, AMD_BW 16, P9_BW 32, ARM_BW 6 GB/s).
void set_inter_socket(NodeTopology& t) {
  const HostInfo& h = t.host;
  std::string model = h.cpu_model, vendor = h.cpu_vendor;
  auto has = [](const std::string& s, const char* w) { return s.find(w) != std::string::npos; };
  const bool intel = has(vendor, "Intel") || has(model, "Intel");
  const bool amd = has(vendor, "AMD") || has(model, "AMD");
  const bool power = has(model, "POWER") || has(vendor, "IBM");
  const bool arm = has(vendor, "ARM") || has(model, "Neoverse") || has(model, "Grace");
  if (intel) {
    const bool skylake_or_later = (h.cpu_family == 6 && h.cpu_model_number >= 0x55) ||
                                  (h.cpu_model_number < 0 && (has(model, "Platinum") || has(model, "Gold") ||
                                                              has(model, "Silver") || has(model, "Bronze")));
    t.inter_socket_Bps = skylake_or_later ? 10e9 : 6e9;
    t.inter_socket_why = skylake_or_later ? "Intel Skylake or later: NCCL's SKL_QPI_BW" : "Intel before Skylake: NCCL's QPI_BW";
  } else if (amd) {
    t.inter_socket_Bps = 16e9;
    t.inter_socket_why = "AMD: NCCL's AMD_BW";
  } else if (power) {
    t.inter_socket_Bps = 32e9;
    t.inter_socket_why = "POWER9: NCCL's P9_BW";
  } else if (arm) {
    t.inter_socket_Bps = 6e9;
    t.inter_socket_why = "ARM: NCCL's ARM_BW";
  } else {
    t.inter_socket_Bps = 6e9;
    t.inter_socket_why = "CPU unknown: NCCL's QPI_BW, the lowest x86 value";
  }
}

}  // namespace

void complete_topology(NodeTopology& t) {
  set_inter_socket(t);
  std::set<std::string> noted;
  for (size_t i = 0; i < t.gpus.size(); ++i) {
    Gpu& g = t.gpus[i];
    auto model = find_gpu_model(g.name);
    if (g.nvlink_per_link_Bps <= 0) g.nvlink_per_link_Bps = nvlink_per_link_Bps_for_cc(g.cc_major, g.cc_minor);
    if (g.nvlink_per_link_Bps <= 0 && model) g.nvlink_per_link_Bps = gbps_to_Bps(model->nvlink_per_link_GBps);
    if (g.nvlink_generation.empty() && model && !g.nvlinks.empty()) g.nvlink_generation = model->nvlink_generation;
    // Link counts from a bandwidth-only source (hwloc's NVLinkBandwidth matrix).
    for (auto& l : g.nvlinks)
      if (l.links == 0 && g.nvlink_per_link_Bps > 0) {
        const double n = l.bw_Bps / g.nvlink_per_link_Bps;
        if (n >= 0.95 && std::fabs(n - std::round(n)) < 0.05) l.links = static_cast<int>(std::round(n));
      }
    // A host link the source does not give: the datasheet's.
    if (!g.pci_path.empty() && g.pci_path.front().link_Bps <= 0 && model) {
      g.pci_path.front().link_Bps = pcie_Bps(model->pcie_gen, model->pcie_lanes);
      const std::string note = g.name + ": the source gives no PCIe link speed; using the datasheet's Gen" +
                               std::to_string(model->pcie_gen) + " x" + std::to_string(model->pcie_lanes) + " (" +
                               format_GBps(g.pci_path.front().link_Bps) + " per direction)";
      if (noted.insert(note).second) t.notes.push_back(note);
    }
    if (g.planned && !model) {
      const std::string note = "GPU '" + g.name + "' is not in the GPU table: `--as-cluster` needs --gpu KEY or "
                               "--peak-bf16-tflops/--peak-fp32-tflops/--memory-gib/--mem-bw-gbps";
      if (noted.insert(note).second) t.notes.push_back(note);
    }
  }
  if (!t.nvlink_known && t.nvlink_status.empty())
    t.nvlink_status = "no NVLink information in this source (hwloc XML without an NVLinkBandwidth matrix): GPU pairs are "
                      "priced over PCIe";
  if (t.planned_gpus().size() >= 2 && t.nvlink_known) {
    bool any = false;
    for (int i : t.planned_gpus()) any = any || !t.gpus[static_cast<size_t>(i)].nvlinks.empty();
    if (!any) t.notes.push_back("no active NVLink between the GPUs: pairs go over PCIe");
  }
}

}  // namespace planner::topo

namespace planner::topo {

NodeTopology probe_this_machine(const std::string& nvml_library, double timeout_s) {
  NodeTopology t = probe_hwloc_this_machine(timeout_s);
  if (nvml_library.empty()) {
    t.nvlink_status = "NVML not queried (--no-nvml): no NVLink information";
  } else {
    merge_nvml(t, query_nvml(nvml_library, timeout_s));
  }
  complete_topology(t);
  return t;
}

}  // namespace planner::topo
