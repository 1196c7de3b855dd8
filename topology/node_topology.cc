#include "topology/node_topology.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/units.h"

namespace planner::topo {

const char* path_type_name(PathType t) {
  switch (t) {
    case PathType::kSelf: return "X";
    case PathType::kNvLink: return "NV";
    case PathType::kNvSwitch: return "NVS";
    case PathType::kPix: return "PIX";
    case PathType::kPxb: return "PXB";
    case PathType::kPhb: return "PHB";
    case PathType::kNode: return "NODE";
    case PathType::kSys: return "SYS";
    case PathType::kUnknown: return "?";
  }
  return "?";
}

std::vector<int> NodeTopology::planned_gpus() const {
  std::vector<int> out;
  for (size_t i = 0; i < gpus.size(); ++i)
    if (gpus[i].planned) out.push_back(static_cast<int>(i));
  return out;
}

std::string format_GBps(double bw_Bps) {
  char buf[64];
  const double g = bw_Bps / kGB;
  if (g >= 100 || std::fabs(g - std::round(g)) < 1e-9)
    std::snprintf(buf, sizeof buf, "%.0f GB/s", g);
  else
    std::snprintf(buf, sizeof buf, "%.2f GB/s", g);
  return buf;
}

static std::string number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string pcie_link_name(double link_Bps) {
  if (link_Bps <= 0) return "";
  // Prefer the widest standard width: a GPU or NIC slot is x16 far more often than x8.
  const double per_lane[] = {0.25e9, 0.5e9, 8e9 * 128 / 130 / 8, 16e9 * 128 / 130 / 8, 32e9 * 128 / 130 / 8};
  for (int lanes : {16, 8, 4, 2, 1})
    for (int gen = 1; gen <= 5; ++gen)
      if (std::fabs(per_lane[gen - 1] * lanes - link_Bps) <= 0.01 * link_Bps)
        return "Gen" + std::to_string(gen) + " x" + std::to_string(lanes);
  return "";
}

static std::string pcie_words(double link_Bps) {
  std::string n = pcie_link_name(link_Bps);
  return "PCIe " + (n.empty() ? "" : n + " ") + format_GBps(link_Bps);
}

double gpu_host_link_Bps(const NodeTopology& t, int gpu_index) {
  const Gpu& g = t.gpus.at(static_cast<size_t>(gpu_index));
  return g.pci_path.empty() ? 0.0 : g.pci_path.front().link_Bps;
}

namespace {

struct NvlSum {
  double bw_Bps = 0;
  int links = 0;
};

NvlSum direct_links(const Gpu& a, int b) {
  NvlSum s;
  for (const auto& g : a.nvlinks)
    if (g.remote_kind == "gpu" && g.remote_gpu == b) {
      s.bw_Bps += g.bw_Bps;
      s.links += g.links;
    }
  return s;
}

NvlSum switch_links(const Gpu& a) {
  NvlSum s;
  for (const auto& g : a.nvlinks)
    if (g.remote_kind == "nvswitch") {
      s.bw_Bps += g.bw_Bps;
      s.links += g.links;
    }
  return s;
}

std::string links_words(int links, double per_link_Bps, double total_Bps) {
  if (links > 0 && per_link_Bps > 0)
    return std::to_string(links) + (links == 1 ? " link x " : " links x ") + format_GBps(per_link_Bps);
  return format_GBps(total_Bps);
}

// The lowest common node of two PCI paths: (index in a, index in b), or (-1, -1).
std::pair<int, int> common_node(const std::vector<PciHop>& a, const std::vector<PciHop>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j)
      if (a[i].id == b[j].id) return {static_cast<int>(i), static_cast<int>(j)};
  return {-1, -1};
}

// Narrowest known link among the first n hops (0 if none known).
double narrowest(const std::vector<PciHop>& p, size_t n) {
  double bw = 0;
  for (size_t i = 0; i < std::min(n, p.size()); ++i)
    if (p[i].link_Bps > 0) bw = bw > 0 ? std::min(bw, p[i].link_Bps) : p[i].link_Bps;
  return bw;
}

double min_known(double a, double b) {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return std::min(a, b);
}

PairLink derive_pair(const NodeTopology& t, int ia, int ib) {
  const Gpu& a = t.gpus[static_cast<size_t>(ia)];
  const Gpu& b = t.gpus[static_cast<size_t>(ib)];
  PairLink p;
  // NVLink: direct links counted from both ends (the narrower end wins), plus the switch plane,
  // limited by each GPU's links into it (all NVSwitches of a node form one non-blocking plane,
  // as NCCL models them).
  NvlSum d_ab = direct_links(a, ib), d_ba = direct_links(b, ia);
  NvlSum direct = d_ab;
  if (d_ba.bw_Bps > 0 && (direct.bw_Bps <= 0 || d_ba.bw_Bps < direct.bw_Bps)) direct = d_ba;
  NvlSum sa = switch_links(a), sb = switch_links(b);
  NvlSum nvs;
  if (sa.bw_Bps > 0 && sb.bw_Bps > 0) nvs = sa.bw_Bps <= sb.bw_Bps ? sa : sb;
  const double per_link = a.nvlink_per_link_Bps > 0 ? a.nvlink_per_link_Bps : b.nvlink_per_link_Bps;
  if (direct.bw_Bps > 0 || nvs.bw_Bps > 0) {
    p.type = direct.bw_Bps > 0 ? PathType::kNvLink : PathType::kNvSwitch;
    p.bw_Bps = direct.bw_Bps + nvs.bw_Bps;
    p.nvlinks = direct.links + nvs.links;
    std::string gen = a.nvlink_generation.empty() ? "NVLink" : a.nvlink_generation;
    if (direct.bw_Bps > 0) p.why = gen + " direct, " + links_words(direct.links, per_link, direct.bw_Bps);
    if (nvs.bw_Bps > 0)
      p.why += std::string(p.why.empty() ? "" : " + ") + gen + " via NVSwitch, " +
               links_words(nvs.links, per_link, nvs.bw_Bps);
    return p;
  }
  // PCIe.
  if (a.pci_path.empty() || b.pci_path.empty()) {
    p.type = PathType::kUnknown;
    p.bw_Bps = min_known(gpu_host_link_Bps(t, ia), gpu_host_link_Bps(t, ib));
    p.why = "PCIe path unknown; " + (p.bw_Bps > 0 ? "host links " + format_GBps(p.bw_Bps) : "no link speed");
    return p;
  }
  auto [i, j] = common_node(a.pci_path, b.pci_path);
  if (i >= 0) {
    p.bw_Bps = min_known(narrowest(a.pci_path, static_cast<size_t>(i)), narrowest(b.pci_path, static_cast<size_t>(j)));
    if (a.pci_path[static_cast<size_t>(i)].host_bridge)
      p.type = PathType::kPhb;
    else
      p.type = (i <= 2 && j <= 2) ? PathType::kPix : PathType::kPxb;  // same bridge or same switch
    p.why = p.bw_Bps > 0 ? pcie_words(p.bw_Bps) + " (narrowest link on the path)" : "PCIe, no link speed known";
    return p;
  }
  // Different host bridges.
  p.bw_Bps = min_known(narrowest(a.pci_path, a.pci_path.size()), narrowest(b.pci_path, b.pci_path.size()));
  const bool same_numa = a.numa >= 0 && a.numa == b.numa;
  const bool same_package = a.package >= 0 && a.package == b.package;
  if (same_numa || (same_package && a.numa < 0)) {
    p.type = PathType::kNode;
    p.why = p.bw_Bps > 0 ? pcie_words(p.bw_Bps) + " (narrowest link; across host bridges of one NUMA node)"
                         : "PCIe, no link speed known";
  } else {
    p.type = PathType::kSys;
    if (t.inter_socket_Bps > 0 && (p.bw_Bps <= 0 || t.inter_socket_Bps < p.bw_Bps)) {
      p.bw_Bps = t.inter_socket_Bps;
      p.why = "inter-socket link " + format_GBps(t.inter_socket_Bps) + " (" + t.inter_socket_why + ")";
    } else {
      p.why = p.bw_Bps > 0 ? pcie_words(p.bw_Bps) + " (narrowest link; across sockets)" : "across sockets, no link speed known";
    }
  }
  return p;
}

}  // namespace

GpuMatrix gpu_matrix(const NodeTopology& t) {
  GpuMatrix m;
  m.gpu = t.planned_gpus();
  const size_t n = m.gpu.size();
  m.pair.assign(n, std::vector<PairLink>(n));
  for (size_t x = 0; x < n; ++x)
    for (size_t y = 0; y < n; ++y) {
      if (x == y) {
        m.pair[x][y].type = PathType::kSelf;
        continue;
      }
      const int a = m.gpu[x], b = m.gpu[y];
      if (!t.given_pairs.empty())
        m.pair[x][y] = t.given_pairs.at(static_cast<size_t>(a)).at(static_cast<size_t>(b));
      else
        m.pair[x][y] = derive_pair(t, a, b);
    }
  return m;
}

namespace {

// A directed Hamiltonian cycle over k vertices using only edges with cap[v][w] >= thr, starting at
// vertex 0 (bitmask DP with predecessors, k <= 16). Empty if there is none.
std::vector<int> find_ring(const std::vector<std::vector<double>>& cap, double thr) {
  const int k = static_cast<int>(cap.size());
  const size_t full = size_t{1} << k;
  // prev[mask][v]: the vertex before v on a path from 0 over `mask` ending at v; -1 unreachable.
  std::vector<std::vector<int8_t>> prev(full, std::vector<int8_t>(static_cast<size_t>(k), -1));
  prev[1][0] = 0;
  for (size_t mask = 1; mask < full; ++mask) {
    if (!(mask & 1)) continue;
    for (int v = 0; v < k; ++v) {
      if (prev[mask][static_cast<size_t>(v)] < 0) continue;
      for (int w = 1; w < k; ++w)
        if (!(mask >> w & 1) && cap[static_cast<size_t>(v)][static_cast<size_t>(w)] >= thr &&
            prev[mask | (size_t{1} << w)][static_cast<size_t>(w)] < 0)
          prev[mask | (size_t{1} << w)][static_cast<size_t>(w)] = static_cast<int8_t>(v);
    }
  }
  for (int last = 1; last < k; ++last) {
    if (prev[full - 1][static_cast<size_t>(last)] < 0 || cap[static_cast<size_t>(last)][0] < thr) continue;
    std::vector<int> order;
    size_t mask = full - 1;
    int v = last;
    while (v != 0) {
      order.push_back(v);
      int p = prev[mask][static_cast<size_t>(v)];
      mask &= ~(size_t{1} << v);
      v = p;
    }
    order.push_back(0);
    std::reverse(order.begin(), order.end());
    return order;
  }
  return {};
}

// The ring with the widest narrowest edge: (order, bottleneck); order empty if none with cap > 0.
std::pair<std::vector<int>, double> best_ring(const std::vector<std::vector<double>>& cap) {
  std::vector<double> values;
  for (size_t x = 0; x < cap.size(); ++x)
    for (size_t y = 0; y < cap.size(); ++y)
      if (x != y && cap[x][y] > 0) values.push_back(cap[x][y]);
  std::sort(values.begin(), values.end(), std::greater<double>());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  for (double thr : values) {
    auto order = find_ring(cap, thr);
    if (!order.empty()) return {order, thr};
  }
  return {{}, 0.0};
}

}  // namespace

RingBandwidth ring_bandwidth(const GpuMatrix& m, const std::vector<int>& members) {
  RingBandwidth r;
  r.group_size = static_cast<int>(members.size());
  if (members.size() < 2) return r;
  const size_t k = members.size();
  auto pair = [&](size_t x, size_t y) -> const PairLink& {
    return m.pair[static_cast<size_t>(members[x])][static_cast<size_t>(members[y])];
  };
  auto describe = [&](double bw) {
    for (size_t x = 0; x < k; ++x)
      for (size_t y = 0; y < k; ++y)
        if (x != y && pair(x, y).bw_Bps == bw) {
          r.bottleneck = pair(x, y).type;
          r.why = pair(x, y).why;
          return;
        }
  };
  if (k == 2) {
    r.bw_Bps = std::min(pair(0, 1).bw_Bps, pair(1, 0).bw_Bps);
    describe(r.bw_Bps);
    return r;
  }
  if (k > 16) {
    // Too many GPUs for the exact search: the ring in rank order.
    double best = std::numeric_limits<double>::infinity();
    for (size_t x = 0; x < k; ++x) best = std::min(best, pair(x, (x + 1) % k).bw_Bps);
    r.bw_Bps = best;
    describe(best);
    return r;
  }
  std::vector<std::vector<double>> cap(k, std::vector<double>(k, 0));
  for (size_t x = 0; x < k; ++x)
    for (size_t y = 0; y < k; ++y)
      if (x != y) cap[x][y] = pair(x, y).bw_Bps;
  auto [order, bottleneck] = best_ring(cap);
  r.bw_Bps = bottleneck;
  describe(bottleneck);
  if (order.empty() || r.bottleneck != PathType::kNvLink) return r;
  // Direct NVLinks are separate wires per pair: like NCCL's channels, several rings run at once on
  // different links, so the group reaches each GPU's NVLink bandwidth into the group (NCCL's search
  // starts from that total, src/graph/search.cc). Taken only when a ring over direct NVLinks
  // exists; the narrowest GPU bounds it. NVSwitch and PCIe bandwidth is shared, not per pair.
  std::vector<std::vector<double>> nv(k, std::vector<double>(k, 0));
  for (size_t x = 0; x < k; ++x)
    for (size_t y = 0; y < k; ++y)
      if (x != y && pair(x, y).type == PathType::kNvLink) nv[x][y] = pair(x, y).bw_Bps;
  if (best_ring(nv).first.empty()) return r;
  double packed = std::numeric_limits<double>::infinity();
  size_t narrowest_gpu = 0;
  for (size_t x = 0; x < k; ++x) {
    double sum = 0;
    for (size_t y = 0; y < k; ++y) sum += nv[x][y];
    if (sum < packed) {
      packed = sum;
      narrowest_gpu = x;
    }
  }
  if (packed > r.bw_Bps) {
    int links = 0;
    for (size_t y = 0; y < k; ++y)
      if (y != narrowest_gpu) links += pair(narrowest_gpu, y).nvlinks;
    r.why = "rings over all direct NVLinks: GPU" + std::to_string(m.gpu[static_cast<size_t>(members[narrowest_gpu])]) +
            " has " + std::to_string(links) + " links to the group, " + format_GBps(packed) + " (narrowest single ring " +
            format_GBps(bottleneck) + ")";
    r.bw_Bps = packed;
  }
  return r;
}

std::vector<RingBandwidth> ring_bandwidths(const GpuMatrix& m) {
  std::vector<RingBandwidth> out;
  const int n = static_cast<int>(m.gpu.size());
  std::vector<int> sizes;
  for (int s = 2; s < n; s *= 2)
    if (n % s == 0) sizes.push_back(s);
  if (n >= 2) sizes.push_back(n);
  for (int s : sizes) {
    RingBandwidth worst;
    bool first = true;
    for (int start = 0; start + s <= n; start += s) {
      std::vector<int> members;
      for (int i = start; i < start + s; ++i) members.push_back(i);
      RingBandwidth r = ring_bandwidth(m, members);
      if (first || r.bw_Bps < worst.bw_Bps) worst = r;
      first = false;
    }
    out.push_back(worst);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output

static std::string gib(double bytes) { return number(bytes_to_gib(bytes), 1) + " GiB"; }

static std::string pad(const std::string& s, size_t w) { return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' '); }

std::string summary_text(const NodeTopology& t) {
  std::ostringstream o;
  o << "Topology of " << t.source << "\n";
  const HostInfo& h = t.host;
  o << "Host: " << (h.machine.empty() ? "" : h.machine + ", ") << h.packages << " package(s), " << h.numa_nodes
    << " NUMA node(s), " << h.cores << " cores, " << h.pus << " hardware threads";
  if (h.memory_bytes > 0) o << ", " << gib(h.memory_bytes) << " memory";
  o << "\n";
  if (!h.cpu_model.empty()) o << "CPU: " << h.cpu_model << "\n";
  if (t.inter_socket_Bps > 0 && h.packages > 1)
    o << "Inter-socket link: " << format_GBps(t.inter_socket_Bps) << " per direction (" << t.inter_socket_why << ")\n";

  const auto planned = t.planned_gpus();
  o << "\nGPUs: " << t.gpus.size() << " found, " << planned.size() << " planned on\n";
  if (!t.gpus.empty()) {
    o << "  " << pad("#", 4) << pad("name", 28) << pad("bus id", 14) << pad("socket", 7) << pad("NUMA", 5)
      << pad("host link", 24) << pad("NVLink", 26) << "memory\n";
    for (size_t i = 0; i < t.gpus.size(); ++i) {
      const Gpu& g = t.gpus[i];
      std::string link = g.pci_path.empty() || g.pci_path.front().link_Bps <= 0 ? "?" : pcie_words(g.pci_path.front().link_Bps);
      int links = 0;
      double bw = 0;
      for (const auto& n : g.nvlinks) {
        links += n.links;
        bw += n.bw_Bps;
      }
      std::string nvl = g.nvlinks.empty() ? "-" : (links > 0 ? std::to_string(links) + " links, " : "") + format_GBps(bw);
      o << "  " << pad(std::to_string(i), 4) << pad(g.name.size() > 27 ? g.name.substr(0, 24) + "..." : g.name, 28) << pad(g.busid.empty() ? "?" : g.busid, 14)
        << pad(g.package >= 0 ? std::to_string(g.package) : "?", 7) << pad(g.numa >= 0 ? std::to_string(g.numa) : "?", 5)
        << pad(link, 24) << pad(nvl, 26) << (g.memory_bytes > 0 ? gib(g.memory_bytes) : "?") << "\n";
      if (!g.planned) o << "      not planned on: " << g.excluded_why << "\n";
    }
  }
  o << "NVLink: " << t.nvlink_status << "\n";

  if (planned.size() >= 2) {
    GpuMatrix m = gpu_matrix(t);
    o << "\nGPU-to-GPU effective bandwidth, GB/s per direction (class:GB/s; NV = direct NVLink, "
         "NVS = through NVSwitches)\n";
    const size_t w = 10;
    o << pad("", 7);
    for (size_t y = 0; y < m.gpu.size(); ++y) o << pad("GPU" + std::to_string(m.gpu[y]), w);
    o << "\n";
    for (size_t x = 0; x < m.gpu.size(); ++x) {
      o << pad("GPU" + std::to_string(m.gpu[x]), 7);
      for (size_t y = 0; y < m.gpu.size(); ++y) {
        const PairLink& p = m.pair[x][y];
        std::string cell = p.type == PathType::kSelf ? "X" : std::string(path_type_name(p.type)) + ":" +
                                                               (p.bw_Bps > 0 ? number(p.bw_Bps / kGB, p.bw_Bps >= 100e9 ? 0 : 1) : "?");
        o << pad(cell, w);
      }
      o << "\n";
    }
    // Distinct pair kinds, explained once.
    std::map<std::string, int> kinds;
    for (size_t x = 0; x < m.gpu.size(); ++x)
      for (size_t y = 0; y < m.gpu.size(); ++y)
        if (x != y) kinds[std::string(path_type_name(m.pair[x][y].type)) + ": " + m.pair[x][y].why]++;
    for (const auto& [k, count] : kinds) o << "  " << k << "  (" << count / 2 << " pair(s))\n";
    o << "Ring bandwidth of consecutive GPUs (per GPU, per direction; the simulator's intra-node link):\n";
    for (const auto& r : ring_bandwidths(m))
      o << "  " << pad(std::to_string(r.group_size) + " GPUs:", 10) << pad(r.bw_Bps > 0 ? format_GBps(r.bw_Bps) : "unknown", 12)
        << "bottleneck " << path_type_name(r.bottleneck) << " (" << r.why << ")\n";
  } else if (planned.size() == 1) {
    double l = gpu_host_link_Bps(t, planned[0]);
    o << "One GPU: no GPU-to-GPU traffic inside the node; host link " << (l > 0 ? pcie_words(l) : "unknown") << "\n";
  } else {
    o << "No GPU to plan on: this is a CPU host (`planner probe --as-cluster --ranks N` gives the CPU/Gloo profile)\n";
  }

  o << "\nNICs: " << (t.nics.empty() ? "none found" : std::to_string(t.nics.size())) << "\n";
  for (const auto& n : t.nics)
    o << "  " << pad(n.name, 18) << pad(n.kind, 12) << pad(n.busid.empty() ? "?" : n.busid, 14)
      << pad(n.rate_Bps > 0 ? number(n.rate_Bps * 8 / 1e9, 0) + " Gb/s" : "rate unknown", 14) << n.model << "\n";
  if (!t.notes.empty()) {
    o << "\nNotes:\n";
    for (const auto& n : t.notes) o << "  - " << n << "\n";
  }
  return o.str();
}

Json to_json(const NodeTopology& t) {
  Json gpus = Json::array();
  for (const auto& g : t.gpus) {
    Json links = Json::array();
    for (const auto& n : g.nvlinks)
      links.push_back({{"remote", n.remote_kind}, {"remote_gpu", n.remote_gpu}, {"remote_busid", n.remote_busid},
                       {"links", n.links}, {"bw_GBps", n.bw_Bps / kGB}});
    Json path = Json::array();
    for (const auto& h : g.pci_path) path.push_back({{"id", h.id}, {"link_GBps", h.link_Bps / kGB}, {"host_bridge", h.host_bridge}});
    gpus.push_back({{"name", g.name}, {"vendor", g.vendor}, {"pci_vendor_id", g.vendor_id}, {"busid", g.busid},
                    {"os_devices", g.os_devices}, {"planned", g.planned}, {"excluded_why", g.excluded_why},
                    {"package", g.package}, {"numa", g.numa}, {"memory_gib", g.memory_bytes / kGiB},
                    {"compute_capability", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
                    {"nvlink_generation", g.nvlink_generation}, {"nvlink_per_link_GBps", g.nvlink_per_link_Bps / kGB},
                    {"nvlinks", links}, {"pci_path", path}});
  }
  Json nics = Json::array();
  for (const auto& n : t.nics)
    nics.push_back({{"name", n.name}, {"kind", n.kind}, {"busid", n.busid}, {"model", n.model},
                    {"rate_Gbps", n.rate_Bps * 8 / 1e9}, {"rdma", n.rdma}, {"package", n.package}});
  GpuMatrix m = gpu_matrix(t);
  Json types = Json::array(), bws = Json::array();
  for (size_t x = 0; x < m.gpu.size(); ++x) {
    Json tr = Json::array(), br = Json::array();
    for (size_t y = 0; y < m.gpu.size(); ++y) {
      tr.push_back(path_type_name(m.pair[x][y].type));
      br.push_back(m.pair[x][y].bw_Bps / kGB);
    }
    types.push_back(tr);
    bws.push_back(br);
  }
  Json rings = Json::array();
  for (const auto& r : ring_bandwidths(m))
    rings.push_back({{"group_size", r.group_size}, {"bw_GBps", r.bw_Bps / kGB}, {"bottleneck", path_type_name(r.bottleneck)},
                     {"why", r.why}});
  const HostInfo& h = t.host;
  return Json{{"format", "planner-topology/1"},
              {"source", t.source},
              {"host",
               {{"machine", h.machine}, {"cpu_model", h.cpu_model}, {"packages", h.packages}, {"numa_nodes", h.numa_nodes},
                {"cores", h.cores}, {"pus", h.pus}, {"memory_gib", h.memory_bytes / kGiB}}},
              {"inter_socket", {{"bw_GBps", t.inter_socket_Bps / kGB}, {"why", t.inter_socket_why}}},
              {"gpus", gpus},
              {"nvlink", {{"known", t.nvlink_known}, {"status", t.nvlink_status}}},
              {"matrix", {{"gpus", m.gpu}, {"type", types}, {"bw_GBps", bws}}},
              {"rings", rings},
              {"nics", nics},
              {"notes", t.notes}};
}

}  // namespace planner::topo
