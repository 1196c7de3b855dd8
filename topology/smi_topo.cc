// `nvidia-smi topo -m` text: the matrix people paste. Columns GPU0..GPUn-1 (and NICs), cells X,
// NV#, PIX, PXB, PHB, NODE, SYS (SOC in old drivers), then CPU/NUMA affinity.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/units.h"
#include "topology/probe.h"

namespace planner::topo {

namespace {

// Removes terminal colour codes (ESC [ digits/semicolons letter) and carriage returns. A loop,
// not std::regex: libstdc++'s regex recurses once per character matched.
std::string strip_ansi(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      size_t j = i + 2;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == ';')) ++j;
      if (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) {
        i = j;
        continue;
      }
    }
    if (s[i] != '\r') out += s[i];
  }
  return out;
}

// "PREFIX" followed by 1 to 6 digits (GPU3, NV12): the number, else -1.
long prefixed_number(const std::string& s, const char* prefix) {
  const size_t n = std::strlen(prefix);
  if (s.size() <= n || s.size() > n + 6 || s.compare(0, n, prefix) != 0) return -1;
  for (size_t i = n; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
  return std::stol(s.substr(n));
}

// The longest line read: a real `nvidia-smi topo -m` line is a few hundred characters.
constexpr size_t kMaxLineChars = 4096;

std::vector<std::string> tokens(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool is_gpu_name(const std::string& s) { return prefixed_number(s, "GPU") >= 0; }

}  // namespace

NodeTopology topology_from_smi_topo(const std::string& raw, const std::string& where,
                                    const std::optional<GpuModel>& model) {
  const std::string text = strip_ansi(raw);
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) {
      if (l.size() > kMaxLineChars)
        throw InputError(where, "line " + std::to_string(lines.size() + 1),
                         std::to_string(l.size()) + " characters; the limit is " + std::to_string(kMaxLineChars) +
                             " (not `nvidia-smi topo -m` output)");
      lines.push_back(l);
    }
  }
  // Header: the first line whose first token is GPU0.
  size_t header = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    auto tk = tokens(lines[i]);
    if (!tk.empty() && tk[0] == "GPU0") {
      header = i;
      break;
    }
  }
  if (header == lines.size())
    throw InputError(where, "", "no GPU matrix found: expected the output of `nvidia-smi topo -m` (a header line "
                                "starting with GPU0, then one row per GPU)");
  std::vector<std::string> columns;
  for (const auto& tk : tokens(lines[header])) {
    if (tk == "CPU" || tk == "NUMA" || tk == "GPU" || tk == "Affinity") break;
    columns.push_back(tk);
  }
  size_t n_gpus = 0;
  while (n_gpus < columns.size() && columns[n_gpus] == "GPU" + std::to_string(n_gpus)) ++n_gpus;
  for (size_t c = n_gpus; c < columns.size(); ++c)
    if (is_gpu_name(columns[c]))
      throw InputError(where, "line " + std::to_string(header + 1),
                       "GPU columns must be GPU0, GPU1, ... in order; got '" + columns[c] + "' after GPU" +
                           std::to_string(n_gpus - 1));
  // NIC legend ("NIC0: mlx5_0").
  std::map<std::string, std::string> nic_legend;
  static const std::regex legend_re(R"(^\s*(NIC[0-9]+)\s*:\s*(\S+)\s*$)");
  for (const auto& l : lines) {
    std::smatch m;
    if (std::regex_match(l, m, legend_re)) nic_legend[m[1].str()] = m[2].str();
  }

  NodeTopology t;
  t.source = where + " (nvidia-smi topo -m)";
  t.gpus.resize(n_gpus);
  t.given_pairs.assign(n_gpus, std::vector<PairLink>(n_gpus));
  std::vector<int> seen(n_gpus, 0);
  std::set<int> numas;
  const std::string allowed = "X, NV<links>, PIX, PXB, PHB, NODE, SYS (or SOC)";
  for (size_t i = header + 1; i < lines.size(); ++i) {
    auto tk = tokens(lines[i]);
    if (tk.empty()) continue;
    if (tk[0] == "Legend:" || tk[0] == "NIC" ) break;
    if (!is_gpu_name(tk[0])) continue;  // NIC rows: their cells repeat the GPU rows' NIC columns
    const size_t row = static_cast<size_t>(prefixed_number(tk[0], "GPU"));
    const std::string at = "line " + std::to_string(i + 1);
    if (row >= n_gpus) throw InputError(where, at, "row " + tk[0] + " but the header has " + std::to_string(n_gpus) + " GPU columns");
    if (tk.size() < 1 + columns.size())
      throw InputError(where, at, "row " + tk[0] + " has " + std::to_string(tk.size() - 1) + " cells; the header has " +
                                      std::to_string(columns.size()) + " columns");
    ++seen[row];
    for (size_t c = 0; c < n_gpus; ++c) {
      const std::string& cell = tk[1 + c];
      PairLink p;
      if (cell == "X") {
        if (c != row) throw InputError(where, at + ", column " + columns[c], "'X' off the diagonal");
        p.type = PathType::kSelf;
      } else if (prefixed_number(cell, "NV") >= 0) {
        p.type = PathType::kNvLink;
        p.nvlinks = static_cast<int>(prefixed_number(cell, "NV"));
      } else if (cell == "PIX") p.type = PathType::kPix;
      else if (cell == "PXB") p.type = PathType::kPxb;
      else if (cell == "PHB") p.type = PathType::kPhb;
      else if (cell == "NODE") p.type = PathType::kNode;
      else if (cell == "SYS" || cell == "SOC") p.type = PathType::kSys;
      else
        throw InputError(where, at + ", column " + columns[c], "cell '" + cell + "' is not a connection class; allowed: " + allowed);
      if (c == row && p.type != PathType::kSelf)
        throw InputError(where, at + ", column " + columns[c], "the diagonal must be 'X', got '" + cell + "'");
      t.given_pairs[row][c] = p;
    }
    // Affinity columns: "0-63  0  N/A" -> NUMA node when numeric.
    if (tk.size() >= columns.size() + 3) {
      const std::string& numa = tk[1 + columns.size() + 1];
      if (!numa.empty() && numa.size() <= 6 && std::all_of(numa.begin(), numa.end(), ::isdigit)) {
        t.gpus[row].numa = std::stoi(numa);
        numas.insert(t.gpus[row].numa);
      }
    }
  }
  for (size_t r = 0; r < n_gpus; ++r)
    if (seen[r] != 1)
      throw InputError(where, "GPU" + std::to_string(r), seen[r] == 0 ? "no row for this GPU" : "more than one row for this GPU");

  // GPUs: NVIDIA by definition; names and rates from --gpu.
  for (size_t r = 0; r < n_gpus; ++r) {
    Gpu& g = t.gpus[r];
    g.vendor = "NVIDIA";
    g.vendor_id = 0x10de;
    g.name = model ? model->device.name : "NVIDIA GPU (name not in topo -m text)";
    g.os_devices = "GPU" + std::to_string(r);
    g.planned = true;
    if (model) {
      g.nvlink_per_link_Bps = gbps_to_Bps(model->nvlink_per_link_GBps);
      g.nvlink_generation = model->nvlink_generation;
    }
  }
  t.host.numa_nodes = static_cast<int64_t>(numas.size());
  const double per_link = model ? gbps_to_Bps(model->nvlink_per_link_GBps) : 0;
  const double pcie = model ? pcie_Bps(model->pcie_gen, model->pcie_lanes) : 0;
  // The SMP interconnect: the CPU is not in the text; NCCL's Skylake value, said in a note.
  t.inter_socket_Bps = 10e9;
  t.inter_socket_why = "CPU not in topo -m text: NCCL's SKL_QPI_BW (Intel Skylake or later) assumed";
  bool any_nv = false;
  for (size_t a = 0; a < n_gpus; ++a) {
    int row_links = 0;
    for (size_t b = 0; b < n_gpus; ++b) row_links += t.given_pairs[a][b].nvlinks;
    // More links in the row than the GPU has: the links go into NVSwitches (every pair shows NV18
    // on an HGX H100, NV12 on an HGX A100).
    const bool via_switch = model && model->nvlink_links > 0 && row_links > model->nvlink_links;
    for (size_t b = 0; b < n_gpus; ++b) {
      PairLink& p = t.given_pairs[a][b];
      if (p.type == PathType::kSelf) continue;
      const std::string gen = model ? model->nvlink_generation : "NVLink";
      if (p.type == PathType::kNvLink) {
        any_nv = true;
        if (via_switch) p.type = PathType::kNvSwitch;
        p.bw_Bps = p.nvlinks * per_link;
        p.why = gen + (via_switch ? " via NVSwitch, " : " direct, ") + std::to_string(p.nvlinks) + (p.nvlinks == 1 ? " link" : " links") +
                (per_link > 0 ? " x " + format_GBps(per_link) : " (per-link rate unknown: pass --gpu)");
      } else {
        p.bw_Bps = pcie;
        if (p.type == PathType::kSys) p.bw_Bps = std::min(pcie, t.inter_socket_Bps);
        p.why = pcie > 0 ? (p.type == PathType::kSys && t.inter_socket_Bps < pcie
                                ? "inter-socket link " + format_GBps(t.inter_socket_Bps) + " (assumed)"
                                : "PCIe " + pcie_link_name(pcie) + " " + format_GBps(pcie) + " (the GPU's own link, datasheet)")
                         : "PCIe (rate unknown: pass --gpu)";
      }
    }
  }
  // NICs from the columns after the GPUs.
  for (size_t c = n_gpus; c < columns.size(); ++c) {
    Nic nic;
    auto it = nic_legend.find(columns[c]);
    nic.name = it != nic_legend.end() ? it->second : columns[c];
    nic.rdma = nic.name.rfind("mlx", 0) == 0 || nic.name.rfind("bnxt_re", 0) == 0 || nic.name.rfind("irdma", 0) == 0;
    nic.kind = nic.rdma ? "InfiniBand/RoCE" : "network";
    t.nics.push_back(nic);
  }
  t.nvlink_known = true;
  t.nvlink_status = any_nv ? "from the NV# cells of nvidia-smi topo -m" : "nvidia-smi topo -m shows no NVLink";
  if (!model)
    t.notes.push_back("topo -m text does not name the GPU: pass --gpu KEY (" + gpu_model_keys() +
                      ") for link rates and the device spec");
  t.notes.push_back("NIC rates are not in topo -m text: `--as-cluster` takes the node's network bandwidth from --inter-node-gbps");
  t.notes.push_back("inter-socket (SYS) pairs: " + t.inter_socket_why);
  return t;
}

NodeTopology read_smi_topo_file(const std::string& path, const std::optional<GpuModel>& model) {
  return topology_from_smi_topo(read_input_file(path, "the nvidia-smi topo -m text"), path, model);
}

}  // namespace planner::topo
