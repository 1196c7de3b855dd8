// hwloc 2.x: the machine's packages, NUMA nodes, cores, PCIe tree (with link speeds), GPUs, NICs
// and the NVLinkBandwidth distances matrix, from an XML file or from this machine.
#include <hwloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/units.h"
#include "topology/bounded_child.h"
#include "topology/hwloc_xml_check.h"
#include "topology/probe.h"

namespace planner::topo {

std::string hwloc_library_version() { return HWLOC_VERSION; }

namespace {

std::string info(hwloc_obj_t o, const char* name) {
  const char* v = o ? hwloc_obj_get_info_by_name(o, name) : nullptr;
  std::string s = v ? v : "";
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

std::string busid_of(hwloc_obj_t pci) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%01x", pci->attr->pcidev.domain, pci->attr->pcidev.bus,
                pci->attr->pcidev.dev, pci->attr->pcidev.func);
  return buf;
}

std::string vendor_name(unsigned vendor_id) {
  switch (vendor_id) {
    case 0x10de: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x15b3: return "Mellanox/NVIDIA Networking";
    default: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%04x", vendor_id);
      return buf;
    }
  }
}

// A small non-negative integer written in an info attribute (CPUFamilyNumber "6"), else fallback.
int small_int(const std::string& s, int fallback) {
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return fallback;
  return std::atoi(s.c_str());
}

std::string object_id(hwloc_obj_t o) { return std::to_string(o->gp_index); }

// Package and NUMA node of an I/O object: those of its first non-I/O ancestor.
void locality(hwloc_topology_t topo, hwloc_obj_t o, int& package, int& numa) {
  hwloc_obj_t cpu_side = hwloc_get_non_io_ancestor_obj(topo, o);
  package = -1;
  numa = -1;
  if (!cpu_side) return;
  hwloc_obj_t p = cpu_side->type == HWLOC_OBJ_PACKAGE ? cpu_side
                                                       : hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, cpu_side);
  if (p && p->os_index != HWLOC_UNKNOWN_INDEX) package = static_cast<int>(p->os_index);
  if (cpu_side->nodeset && hwloc_bitmap_weight(cpu_side->nodeset) == 1) numa = hwloc_bitmap_first(cpu_side->nodeset);
  // A single-package machine: everything is on package 0 even when hwloc attaches I/O to Machine.
  if (package < 0 && hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE) == 1) {
    hwloc_obj_t only = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
    if (only && only->os_index != HWLOC_UNKNOWN_INDEX) package = static_cast<int>(only->os_index);
  }
}

// The upstream links from a PCI device up to (and including) its host bridge.
std::vector<PciHop> pci_path_of(hwloc_obj_t dev) {
  std::vector<PciHop> path;
  PciHop self;
  self.id = object_id(dev);
  self.link_Bps = gbps_to_Bps(dev->attr->pcidev.linkspeed);
  path.push_back(self);
  for (hwloc_obj_t o = dev->parent; o && o->type == HWLOC_OBJ_BRIDGE; o = o->parent) {
    PciHop h;
    h.id = object_id(o);
    if (o->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST) {
      h.host_bridge = true;
      path.push_back(h);
      break;
    }
    h.link_Bps = gbps_to_Bps(o->attr->bridge.upstream.pci.linkspeed);
    path.push_back(h);
  }
  return path;
}

bool is_nvswitch(hwloc_obj_t pci) {
  const char* st = pci->subtype;
  if (st && std::string(st) == "NVSwitch") return true;
  return pci->attr->pcidev.vendor_id == 0x10de && pci->attr->pcidev.class_id == 0x0680;
}

// An OS device through which a compute runtime sees the GPU (CUDA, NVML, OpenCL, ROCm SMI, Level Zero).
bool is_compute_osdev(hwloc_obj_t os) {
  if (os->type != HWLOC_OBJ_OS_DEVICE) return false;
  if (os->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC) return true;
  if (os->attr->osdev.type == HWLOC_OBJ_OSDEV_GPU) {
    std::string backend = info(os, "Backend");
    return backend == "NVML" || backend == "RSMI" || backend == "LevelZero" || backend == "CUDA" ||
           backend == "OpenCL" || !info(os, "GPUModel").empty();
  }
  return false;
}

struct NicRates {
  std::map<std::string, double> by_netdev;     // name -> B/s
  std::map<std::string, double> by_verbs;      // mlx5_0 -> B/s (sum of ACTIVE ports)
  std::map<std::string, std::string> link_layer;  // mlx5_0 -> "InfiniBand" / "Ethernet"
};

NodeTopology from_hwloc(hwloc_topology_t topo, const std::string& source, const NicRates* rates) {
  NodeTopology t;
  t.source = source;
  HostInfo& h = t.host;
  hwloc_obj_t root = hwloc_get_root_obj(topo);
  h.machine = info(root, "DMIProductName");
  h.packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  h.numa_nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  h.cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  h.pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  if (h.cores <= 0) h.cores = h.pus;
  h.memory_bytes = static_cast<double>(root->total_memory);
  if (hwloc_obj_t p = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0)) {
    h.cpu_model = info(p, "CPUModel");
    h.cpu_vendor = info(p, "CPUVendor");
    h.cpu_family = small_int(info(p, "CPUFamilyNumber"), h.cpu_family);
    h.cpu_model_number = small_int(info(p, "CPUModelNumber"), h.cpu_model_number);
  }
  if (h.cpu_model.empty()) h.cpu_model = info(root, "CPUModel");
  if (h.cpu_vendor.empty()) h.cpu_vendor = info(root, "CPUVendor");

  // GPUs: PCI devices (NVSwitches aside) that a compute runtime sees, or NVIDIA/AMD display and
  // 3D controllers when the source has no compute OS device at all (hwloc built without CUDA/NVML).
  struct Candidate {
    hwloc_obj_t pci;
    hwloc_obj_t compute;  // first compute OS device, may be null
    std::string os_names;
  };
  std::vector<Candidate> cands;
  bool any_nvidia_compute = false;
  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topo, nullptr); pci; pci = hwloc_get_next_pcidev(topo, pci)) {
    if (is_nvswitch(pci)) continue;
    Candidate c{pci, nullptr, ""};
    for (hwloc_obj_t ch = pci->io_first_child; ch; ch = ch->next_sibling) {
      if (ch->type != HWLOC_OBJ_OS_DEVICE) continue;
      if (is_compute_osdev(ch)) {
        if (!c.compute) c.compute = ch;
        c.os_names += (c.os_names.empty() ? "" : " ") + std::string(ch->name ? ch->name : "?");
      }
    }
    const unsigned cls = pci->attr->pcidev.class_id;
    const unsigned vendor = pci->attr->pcidev.vendor_id;
    const bool display = (cls >> 8) == 0x03 || (cls >> 8) == 0x12;
    if (!c.compute && !(display && (vendor == 0x10de || vendor == 0x1002))) continue;
    if (c.compute && vendor == 0x10de) any_nvidia_compute = true;
    cands.push_back(c);
  }
  std::map<std::string, int> gpu_by_busid;
  std::map<hwloc_obj_t, int> gpu_by_obj;
  for (const auto& c : cands) {
    Gpu g;
    const unsigned vendor = c.pci->attr->pcidev.vendor_id;
    g.vendor_id = vendor;
    g.vendor = vendor_name(vendor);
    g.busid = busid_of(c.pci);
    g.os_devices = c.os_names;
    g.name = info(c.compute, "GPUModel");
    if (g.name.empty()) g.name = info(c.pci, "PCIDevice");
    if (g.name.empty()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s PCI device %04x:%04x", g.vendor.c_str(), vendor, c.pci->attr->pcidev.device_id);
      g.name = buf;
    }
    if (c.compute) {
      std::string mem_kib = info(c.compute, "CUDAGlobalMemorySize");
      const double kib = mem_kib.empty() ? 0.0 : std::strtod(mem_kib.c_str(), nullptr);
      if (std::isfinite(kib) && kib > 0 && kib < 1e15) g.memory_bytes = kib * 1024.0;  // < 1 EiB
    }
    locality(topo, c.pci, g.package, g.numa);
    g.pci_path = pci_path_of(c.pci);
    if (vendor != 0x10de) {
      g.excluded_why = g.vendor + " GPU: reported, not planned on (plans run NCCL on NVIDIA GPUs, PCI vendor 0x10de)";
    } else if (!c.compute && any_nvidia_compute) {
      g.excluded_why = "NVIDIA GPU without a CUDA/NVML device (a generation the installed CUDA does not support, no "
                       "driver bound, or hidden from the process that wrote the topology)";
    } else {
      g.planned = true;
    }
    gpu_by_busid[g.busid] = static_cast<int>(t.gpus.size());
    gpu_by_obj[c.pci] = static_cast<int>(t.gpus.size());
    t.gpus.push_back(std::move(g));
  }

  if (!hwloc_get_next_pcidev(topo, nullptr))
    t.notes.push_back("the topology has no PCI devices (written with `lstopo --no-io`, or I/O discovery disabled): "
                      "GPUs and NICs cannot be seen");

  // NICs: network and OpenFabrics OS devices, one NIC per PCI function.
  std::map<std::string, int> nic_by_busid;
  for (hwloc_obj_t os = hwloc_get_next_osdev(topo, nullptr); os; os = hwloc_get_next_osdev(topo, os)) {
    const auto type = os->attr->osdev.type;
    if (type != HWLOC_OBJ_OSDEV_NETWORK && type != HWLOC_OBJ_OSDEV_OPENFABRICS) continue;
    const std::string name = os->name ? os->name : "?";
    hwloc_obj_t pci = os->parent && os->parent->type == HWLOC_OBJ_PCI_DEVICE ? os->parent : nullptr;
    const std::string key = pci ? busid_of(pci) : "os:" + name;
    auto it = nic_by_busid.find(key);
    if (it == nic_by_busid.end()) {
      Nic n;
      n.busid = pci ? busid_of(pci) : "";
      n.model = info(pci, "PCIDevice");
      int numa_unused = -1;
      locality(topo, pci ? pci : os, n.package, numa_unused);
      it = nic_by_busid.emplace(key, static_cast<int>(t.nics.size())).first;
      t.nics.push_back(n);
    }
    Nic& n = t.nics[static_cast<size_t>(it->second)];
    n.name += (n.name.empty() ? "" : " ") + name;
    double rate = 0;
    if (type == HWLOC_OBJ_OSDEV_OPENFABRICS) {
      n.rdma = true;
      if (rates) {
        auto r = rates->by_verbs.find(name);
        if (r != rates->by_verbs.end()) rate = r->second;
        auto l = rates->link_layer.find(name);
        if (l != rates->link_layer.end()) n.kind = l->second == "Ethernet" ? "RoCE" : "InfiniBand";
      }
    } else if (rates) {
      auto r = rates->by_netdev.find(name);
      if (r != rates->by_netdev.end()) rate = r->second;
    }
    n.rate_Bps = std::max(n.rate_Bps, rate);
  }
  for (auto& n : t.nics) {
    if (!n.kind.empty()) continue;
    const bool ipoib = n.name.rfind("ib", 0) == 0 || n.name.find(" ib") != std::string::npos;
    if (n.rdma)
      n.kind = ipoib ? "InfiniBand" : (n.name.find(' ') != std::string::npos ? "RoCE" : "InfiniBand/RoCE");
    else
      n.kind = ipoib ? "IPoIB" : "Ethernet";
  }

  // NVLink: hwloc's NVML backend records NVLinkBandwidth (MB/s between GPUs, NVSwitches, CPUs).
  unsigned nr = 1;
  hwloc_distances_s* dist = nullptr;
  if (hwloc_distances_get_by_name(topo, "NVLinkBandwidth", &nr, &dist, 0) == 0 && nr >= 1 && dist) {
    const unsigned n = dist->nbobjs;
    auto gpu_of = [&](hwloc_obj_t o) -> int {
      hwloc_obj_t pci = o->type == HWLOC_OBJ_OS_DEVICE ? o->parent : o;
      auto it = pci ? gpu_by_obj.find(pci) : gpu_by_obj.end();
      return it == gpu_by_obj.end() ? -1 : it->second;
    };
    for (unsigned i = 0; i < n; ++i) {
      const int gi = gpu_of(dist->objs[i]);
      if (gi < 0) continue;
      for (unsigned j = 0; j < n; ++j) {
        const uint64_t mbps = dist->values[i * n + j];
        if (i == j || mbps == 0) continue;
        hwloc_obj_t o = dist->objs[j];
        NvLinkGroup l;
        l.bw_Bps = static_cast<double>(mbps) * 1e6;
        const int gj = gpu_of(o);
        if (gj >= 0) {
          l.remote_kind = "gpu";
          l.remote_gpu = gj;
          l.remote_busid = t.gpus[static_cast<size_t>(gj)].busid;
        } else if (o->type == HWLOC_OBJ_PCI_DEVICE) {
          l.remote_kind = "nvswitch";
          l.remote_busid = busid_of(o);
        } else {
          l.remote_kind = "cpu";
        }
        t.gpus[static_cast<size_t>(gi)].nvlinks.push_back(l);
      }
    }
    t.nvlink_known = true;
    t.nvlink_status = "from the hwloc NVLinkBandwidth distances matrix (" + std::to_string(n) + " objects)";
    hwloc_distances_release(topo, dist);
  }
  return t;
}

// Loads a topology from XML text; throws InputError naming `where`.
NodeTopology load_xml(const std::string& xml, const std::string& where, const std::string& source,
                      const NicRates* rates) {
  // hwloc 3.x writes version="3.0" and changed OS device types: refuse it explicitly.
  std::smatch m;
  static const std::regex version_re(R"(^<topology[^>]*\bversion\s*=\s*"([0-9]{1,6})(\.[0-9]{1,6})?")");
  const size_t topology_at = xml.find("<topology");
  if (topology_at == std::string::npos)
    throw InputError(where, "", "not an hwloc topology XML file (no <topology> element); write one with `lstopo FILE.xml` "
                                "(hwloc 2.x) or `hwloc-gather-topology`");
  // The <topology ...> tag alone, bounded: std::regex recurses per character matched.
  const size_t tag_end = xml.find('>', topology_at);
  const std::string tag = xml.substr(topology_at, std::min<size_t>(tag_end == std::string::npos ? xml.size() - topology_at
                                                                                                 : tag_end - topology_at + 1,
                                                                   1024));
  if (std::regex_search(tag, m, version_re)) {
    const int major = std::stoi(m[1].str());  // at most 6 digits
    if (major >= 3)
      throw InputError(where, "topology version",
                       "\"" + m[1].str() + m[2].str() + "\" is hwloc " + m[1].str() +
                           ".x XML; this planner reads hwloc 2.x XML (libhwloc " + hwloc_library_version() +
                           "). Re-export it with hwloc 3: `lstopo --input " + where +
                           " --export-xml-flags v2 out-v2.xml`, or convert by hand: set <topology version=\"2.0\"> and "
                           "give GPU OS devices osdev_type=\"1\" (docs/topology.md)");
  }
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) throw std::runtime_error("hwloc_topology_init failed");
  struct Guard {
    hwloc_topology_t t;
    ~Guard() { hwloc_topology_destroy(t); }
  } guard{topo};
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
  if (hwloc_topology_set_xmlbuffer(topo, xml.c_str(), static_cast<int>(xml.size()) + 1) != 0 ||
      hwloc_topology_load(topo) != 0)
    throw InputError(where, "", std::string("hwloc could not load this XML (") + std::strerror(errno) +
                                    "): malformed or not hwloc 2.x topology XML; check it with `lstopo --input " + where +
                                    "` (set HWLOC_XML_VERBOSE=1 for hwloc's parser messages)");
  return from_hwloc(topo, source, rates);
}

// Reads a small sysfs file's first line; "" on any failure.
std::string sysfs_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

NicRates sysfs_nic_rates(const NodeTopology& parsed_without_rates) {
  NicRates r;
  for (const auto& n : parsed_without_rates.nics) {
    std::istringstream names(n.name);
    std::string name;
    while (names >> name) {
      // Ethernet/IPoIB: speed in Mb/s (-1 or unreadable when the link is down).
      std::string s = sysfs_line("/sys/class/net/" + name + "/speed");
      if (!s.empty()) {
        try {
          double mbps = std::stod(s);
          if (mbps > 0) r.by_netdev[name] = mbps * 1e6 / 8;
        } catch (...) {
        }
      }
      // Verbs device: sum of ACTIVE ports' rate ("200 Gb/sec (4X HDR)").
      double sum = 0;
      for (int port = 1; port <= 4; ++port) {
        const std::string base = "/sys/class/infiniband/" + name + "/ports/" + std::to_string(port) + "/";
        std::string state = sysfs_line(base + "state");
        if (state.empty()) continue;
        std::string layer = sysfs_line(base + "link_layer");
        if (!layer.empty()) r.link_layer[name] = layer;
        if (state.find("ACTIVE") == std::string::npos) continue;
        try {
          sum += std::stod(sysfs_line(base + "rate")) * 1e9 / 8;
        } catch (...) {
        }
      }
      if (sum > 0) r.by_verbs[name] = sum;
    }
  }
  return r;
}

}  // namespace

// A user's XML: checked before libhwloc sees it (topology/hwloc_xml_check.h).
static NodeTopology load_checked_xml(const std::string& xml, const std::string& where) {
  if (xml.find("<topology") == std::string::npos) load_xml(xml, where, where, nullptr);  // its "not hwloc XML" error
  check_hwloc_xml(xml, where);
  return load_xml(xml, where, where, nullptr);
}

NodeTopology topology_from_hwloc_xml(const std::string& xml, const std::string& where) {
  NodeTopology t = load_checked_xml(xml, where);
  complete_topology(t);
  return t;
}

NodeTopology read_hwloc_xml_file(const std::string& path) {
  const std::string xml = read_input_file(path, "the hwloc XML file");
  if (xml.empty()) throw InputError(path, "", "the hwloc XML file is empty");
  NodeTopology t = load_checked_xml(xml, path);
  t.notes.push_back("NIC link rates are not in hwloc XML: `--as-cluster` takes the node's network bandwidth from "
                    "--inter-node-gbps");
  complete_topology(t);
  return t;
}

NodeTopology probe_hwloc_this_machine(double timeout_s) {
  // hwloc discovery runs in a child that exports XML; the parent parses it. A hung discovery
  // (a wedged sysfs read, a broken driver plugin) is killed at the deadline.
  ChildResult r = run_bounded_child(timeout_s, [](int fd) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) return 3;
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
    if (hwloc_topology_load(topo) != 0) return 4;
    char* buf = nullptr;
    int len = 0;
    if (hwloc_topology_export_xmlbuffer(topo, &buf, &len, 0) != 0) return 5;
    bool ok = write_all(fd, buf, static_cast<size_t>(len > 0 ? len - 1 : 0));
    hwloc_free_xmlbuffer(topo, buf);
    hwloc_topology_destroy(topo);
    return ok ? 0 : 6;
  });
  if (r.timed_out)
    throw std::runtime_error("hwloc discovery of this machine did not finish within " + std::to_string(static_cast<int>(timeout_s)) +
                             " s (killed); retry with a larger --timeout, or probe an XML written by `lstopo`");
  if (r.exit_code != 0 || r.output.empty())
    throw std::runtime_error("hwloc discovery of this machine failed (child exit status " + std::to_string(r.exit_code) + ")");
  const std::string source = "this machine (hwloc " + hwloc_library_version() + ")";
  NodeTopology first = load_xml(r.output, "hwloc discovery of this machine", source, nullptr);
  NicRates rates = sysfs_nic_rates(first);
  NodeTopology t = load_xml(r.output, "hwloc discovery of this machine", source, &rates);
  // hwloc counts the NUMA nodes' memory; a VM may report less there than the OS has.
  const double os_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (os_bytes > t.host.memory_bytes * 1.05) {
    t.notes.push_back("hwloc's NUMA nodes hold " + std::to_string(static_cast<int>(bytes_to_gib(t.host.memory_bytes))) +
                      " GiB but the OS reports " + std::to_string(static_cast<int>(bytes_to_gib(os_bytes))) +
                      " GiB (memory outside the NUMA accounting, e.g. in a VM): using the OS number");
    t.host.memory_bytes = os_bytes;
  }
  for (const auto& n : t.nics)
    if (n.rate_Bps <= 0)
      t.notes.push_back("NIC " + n.name + ": the OS gives no link rate (virtual NIC or link down)");
  return t;  // complete_topology after NVML is merged
}

}  // namespace planner::topo
