// The topology probe: this machine (hwloc + NVML, each step in a child process with a deadline),
// an hwloc 2.x XML file of another machine, or the text of `nvidia-smi topo -m`.
// docs/topology.md describes the sources, the bandwidth rules and the errors.
#pragma once
#include <optional>
#include <string>

#include "topology/gpu_table.h"
#include "topology/node_topology.h"

namespace planner::topo {

// ---- hwloc ----
// Parses an hwloc 2.x XML file. InputError (exit 2) names the file for: missing/unreadable,
// not hwloc XML, malformed, or written by hwloc 3.x (the message says how to convert it).
NodeTopology read_hwloc_xml_file(const std::string& path);
// The same from text; `where` names the origin in errors.
NodeTopology topology_from_hwloc_xml(const std::string& xml, const std::string& where);
// This machine through hwloc, discovered in a child process that must answer within timeout_s.
// NIC link rates come from sysfs (/sys/class/net/*/speed, /sys/class/infiniband/*/ports/*/rate).
NodeTopology probe_hwloc_this_machine(double timeout_s);
// "2.9.0": the hwloc library this binary runs with.
std::string hwloc_library_version();

// ---- NVML (dlopen, declarations of our own) ----
struct NvmlLink {
  int link = 0;
  std::string remote_busid;  // normalised "0000:34:00.0"
  int remote_type = 255;     // NVML: 0 GPU, 1 IBM NPU (CPU), 2 NVSwitch, 255 unknown
  unsigned version = 0;      // nvmlDeviceGetNvLinkVersion, 0 if it failed
};
struct NvmlGpu {
  std::string name;
  std::string busid;  // normalised
  double memory_bytes = 0;
  int cc_major = 0, cc_minor = 0;
  std::vector<NvmlLink> links;  // active links only
};
struct NvmlReport {
  bool loaded = false;   // the library was found and nvmlInit succeeded
  std::string status;    // one sentence for the summary (why not, or what was read)
  std::vector<NvmlGpu> gpus;
};
// Loads `library` with dlopen in a child process and reads GPUs and NVLinks; never throws for a
// missing library or a failing driver (the report says why), and never waits past timeout_s.
NvmlReport query_nvml(const std::string& library, double timeout_s);
// Adds NVML's GPUs and NVLinks to the topology (matching hwloc's PCI devices by bus id).
void merge_nvml(NodeTopology& t, const NvmlReport& r);

// ---- nvidia-smi topo -m ----
// Parses the text `nvidia-smi topo -m` prints. `model` (from --gpu) gives per-link NVLink and PCIe
// rates; without it the classes are kept and the bandwidths are unknown. InputError (exit 2) for
// text that is not such a matrix (the message names the line and the cell).
NodeTopology topology_from_smi_topo(const std::string& text, const std::string& where,
                                    const std::optional<GpuModel>& model);
NodeTopology read_smi_topo_file(const std::string& path, const std::optional<GpuModel>& model);

// ---- after any source ----
// Fills what the source leaves to the GPU table and to NCCL's constants: NVLink per-link rate and
// link counts, GPU host links the source does not give, the inter-socket bandwidth; adds notes.
void complete_topology(NodeTopology& t);
// Normalises a PCI bus id ("00000000:34:00.0" -> "0000:34:00.0"); "" if it does not parse.
std::string normalise_busid(const std::string& busid);

}  // namespace planner::topo

namespace planner::topo {
// This machine: hwloc (bounded child) + NVML from `nvml_library` ("" = skip NVML), then
// complete_topology. Each step waits at most timeout_s.
NodeTopology probe_this_machine(const std::string& nvml_library, double timeout_s);
}  // namespace planner::topo
