// NodeTopology: what the probe learns about one machine (CPUs, GPUs, how the GPUs are wired, NICs),
// whatever the source (this machine through hwloc + NVML, an hwloc XML file, or the text of
// `nvidia-smi topo -m`), and what it means in bandwidth: the GPU-to-GPU matrix and the ring
// bandwidth of groups of 2, 4, 8 ... consecutive GPUs (docs/topology.md).
// Rates are per direction, decimal (1 GB/s = 1e9 B/s), in B/s.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace planner::topo {

// How two GPUs reach each other, best first (the classes of `nvidia-smi topo -m`, plus NVS for
// "through NVSwitches").
enum class PathType { kSelf, kNvLink, kNvSwitch, kPix, kPxb, kPhb, kNode, kSys, kUnknown };
const char* path_type_name(PathType t);  // "X", "NV", "NVS", "PIX", "PXB", "PHB", "NODE", "SYS", "?"

// One hop up the PCIe tree: the upstream link of a device or bridge.
struct PciHop {
  std::string id;           // hwloc object id (gp_index) of the device/bridge below the link
  double link_Bps = 0;      // 0: the source does not say
  bool host_bridge = false; // the hop is a host bridge (root complex): PHB
};

// NVLinks of one GPU to one remote end.
struct NvLinkGroup {
  std::string remote_kind;  // "gpu", "nvswitch", "cpu", "unknown"
  int remote_gpu = -1;      // index into NodeTopology::gpus when remote_kind == "gpu"
  std::string remote_busid; // PCI bus id of the remote end (as NVML or hwloc gives it)
  int links = 0;            // 0 when only the bandwidth is known (hwloc distances of an unknown GPU)
  double bw_Bps = 0;        // links x per-link rate, per direction
};

struct Gpu {
  std::string name;          // "Tesla V100-SXM3-32GB-H", "NVIDIA H100 80GB HBM3"
  std::string vendor;        // "NVIDIA", "AMD", ...
  unsigned vendor_id = 0;    // PCI vendor (0x10de for NVIDIA), 0 if unknown
  std::string busid;         // "0000:34:00.0", "" if unknown
  std::string os_devices;    // "nvml0", "cuda0", "opencl0d1", ...
  bool planned = false;      // NVIDIA with a compute driver: the planner plans on it
  std::string excluded_why;  // when !planned
  int package = -1;          // socket (os index), -1 unknown
  int numa = -1;             // NUMA node (os index), -1 unknown
  std::vector<PciHop> pci_path;  // from the GPU's own link up to the host bridge
  double memory_bytes = 0;   // reported by the driver (NVML/CUDA OS device), 0 if not
  int cc_major = 0, cc_minor = 0;  // CUDA compute capability (NVML), 0 if unknown
  double nvlink_per_link_Bps = 0;  // the generation's per-link rate, per direction
  std::string nvlink_generation;   // "NVLink2", "" if unknown
  std::vector<NvLinkGroup> nvlinks;
};

struct Nic {
  std::string name;       // OS names on one PCI function: "ib0 mlx5_0", "eth0"
  std::string kind;       // "InfiniBand", "RoCE", "Ethernet", "OmniPath/other"
  std::string busid;
  std::string model;      // PCI device name if known
  double rate_Bps = 0;    // 0: not known (XML files and text imports do not carry it)
  int package = -1;
  bool rdma = false;      // has an OpenFabrics (verbs) device: NCCL's IB/RoCE transport
};

struct HostInfo {
  std::string machine;    // DMI product name, if any
  std::string cpu_model;  // first package's CPUModel
  std::string cpu_vendor; // GenuineIntel / AuthenticAMD / ...
  int cpu_family = -1, cpu_model_number = -1;
  int64_t packages = 0, numa_nodes = 0, cores = 0, pus = 0;
  double memory_bytes = 0;
};

// One GPU pair's effective bandwidth.
struct PairLink {
  PathType type = PathType::kUnknown;
  double bw_Bps = 0;   // per direction; 0 when the source does not allow to know it
  int nvlinks = 0;     // links of the narrower end (NV/NVS)
  std::string why;     // "6 links x 25 GB/s via NVSwitch", "PCIe 15.75 GB/s (narrowest link)"
};

struct NodeTopology {
  std::string source;          // "this machine (hwloc 2.9.0)", "file.xml", "nvidia-smi topo -m text"
  HostInfo host;
  std::vector<Gpu> gpus;       // every GPU found, planned or not
  std::vector<Nic> nics;
  bool nvlink_known = false;   // NVLink information was available (NVML or hwloc distances or topo -m)
  std::string nvlink_status;   // a sentence for the summary
  double inter_socket_Bps = 0; // the SMP interconnect between packages (per direction)
  std::string inter_socket_why;
  // Imported from `nvidia-smi topo -m`: the pair classes are given, not derived from a tree.
  std::vector<std::vector<PairLink>> given_pairs;  // indexed like gpus, empty otherwise
  std::vector<std::string> notes;  // things the user should know (missing data, assumptions)

  std::vector<int> planned_gpus() const;
};

// GPU-to-GPU effective bandwidth for the planned GPUs (index i of the matrix = planned_gpus()[i]).
struct GpuMatrix {
  std::vector<int> gpu;  // indices into NodeTopology::gpus
  std::vector<std::vector<PairLink>> pair;
};
GpuMatrix gpu_matrix(const NodeTopology& t);

// Ring bandwidth of groups of consecutive GPUs (TP groups are consecutive ranks).
struct RingBandwidth {
  int group_size = 0;
  double bw_Bps = 0;          // per direction: the narrowest edge of the best ring, worst group
  PathType bottleneck = PathType::kUnknown;
  std::string why;            // the bottleneck pair's description
};
// Best ring over `members` (indices into m.gpu): maximises the narrowest edge.
RingBandwidth ring_bandwidth(const GpuMatrix& m, const std::vector<int>& members);
// Groups of 2, 4, 8 ... consecutive GPUs and the whole node.
std::vector<RingBandwidth> ring_bandwidths(const GpuMatrix& m);

// The GPUs' own PCIe link (host link), first planned GPU; 0 if unknown.
double gpu_host_link_Bps(const NodeTopology& t, int gpu_index);

// Summary text (default output of `planner probe`) and JSON (`--format json`).
std::string summary_text(const NodeTopology& t);
Json to_json(const NodeTopology& t);

// "15.75 GB/s" style number for summaries.
std::string format_GBps(double bw_Bps);
// Names a PCIe rate as its most likely generation and width: "Gen3 x16" for 15.75 GB/s, "" if none.
std::string pcie_link_name(double link_Bps);

}  // namespace planner::topo
