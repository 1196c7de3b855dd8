#include "topology/node_cluster.h"

#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>

#include "core/error.h"
#include "core/units.h"
#include "topology/cluster_presets.h"
#include "topology/gpu_table.h"

namespace planner::topo {

namespace {

std::string link_class(PathType t) {
  if (t == PathType::kNvLink || t == PathType::kNvSwitch) return "nvlink";
  return "pcie";
}

double link_efficiency(const std::string& cls) {
  // The presets' defaults (topology/cluster_presets.cc, docs/cost-model.md): NVLink busbw reaches
  // ~0.8 of the link, PCIe ~0.7, the network ~0.9.
  if (cls == "nvlink") return 0.8;
  if (cls == "pcie") return 0.7;
  return 0.9;
}

std::string gbit_words(double Bps) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g Gb/s", Bps * 8 / 1e9);
  return buf;
}

DeviceSpec device_for(const NodeTopology& t, const std::vector<int>& planned, const ClusterOptions& o) {
  std::set<std::string> names;
  for (int i : planned) names.insert(t.gpus[static_cast<size_t>(i)].name);
  if (names.size() > 1 && o.gpu_key.empty()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + ("'" + n + "'");
    throw InputError("--as-cluster", "", "the node mixes GPU models (" + list +
                                             "); a cluster file describes one model: pass --gpu KEY to choose (" +
                                             gpu_model_keys() + ")");
  }
  const Gpu& first = t.gpus[static_cast<size_t>(planned.front())];
  std::optional<GpuModel> model;
  if (!o.gpu_key.empty()) {
    model = gpu_model_by_key(o.gpu_key);
    if (!model) throw InputError("--gpu", "", "unknown GPU '" + o.gpu_key + "'; known: " + gpu_model_keys());
  } else {
    model = find_gpu_model(first.name);
  }
  DeviceSpec d;
  const bool all_given = o.peak_bf16_tflops && o.peak_fp32_tflops && o.memory_gib && o.mem_bw_GBps;
  if (model) {
    d = model->device;
    // The driver's own memory number beats the datasheet's nominal one.
    if (first.memory_bytes > 0 && o.gpu_key.empty()) d.memory_bytes = first.memory_bytes;
  } else if (all_given) {
    d.name = first.name;
    d.kind = "gpu";
    d.compute_units = 1;
  } else {
    throw InputError("--as-cluster", "", "GPU '" + first.name + "' is not in the table of known GPUs (" + gpu_model_keys() +
                                             "): pass --gpu KEY with the closest one, or give its datasheet numbers with "
                                             "--peak-bf16-tflops, --peak-fp32-tflops, --memory-gib and --mem-bw-gbps "
                                             "(and --sms)");
  }
  if (o.peak_bf16_tflops) d.peak_bf16_flops_per_s = *o.peak_bf16_tflops * kTera;
  if (o.peak_fp32_tflops) d.peak_fp32_flops_per_s = *o.peak_fp32_tflops * kTera;
  if (o.memory_gib) d.memory_bytes = gib_to_bytes(*o.memory_gib);
  if (o.mem_bw_GBps) d.mem_bw_Bps = gbps_to_Bps(*o.mem_bw_GBps);
  if (o.sms) d.compute_units = *o.sms;
  return d;
}

double ghz_from_model_name(const std::string& cpu_model) {
  static const std::regex re(R"(@\s*([0-9]+(\.[0-9]+)?)\s*GHz)");
  std::smatch m;
  // Bounded: std::regex recurses per character; a CPU model name is under 100 characters.
  if (cpu_model.size() <= 256 && std::regex_search(cpu_model, m, re)) {
    const double ghz = std::strtod(m[1].str().c_str(), nullptr);
    return std::isfinite(ghz) ? ghz : 0;
  }
  return 0;
}

}  // namespace

ClusterSpec cluster_from_topology(const NodeTopology& t, const ClusterOptions& o) {
  const std::vector<int> planned = t.planned_gpus();
  const std::string default_name = "probed: " + (t.host.machine.empty() ? t.source : t.host.machine);

  if (planned.empty()) {
    // CPU host: the CPU/Gloo profile for local executor runs.
    if (o.ranks < 1)
      throw InputError("--ranks", "", "this node has no GPU to plan on, so --as-cluster gives the CPU/Gloo profile: "
                                      "pass --ranks N (the number of processes of the local run, N >= 1)");
    if (t.host.cores < 1) throw InputError("--as-cluster", "", "the source gives no core count for this CPU host");
    double ghz = o.cpu_ghz > 0 ? o.cpu_ghz : ghz_from_model_name(t.host.cpu_model);
    int64_t fpc = o.cpu_fp32_flops_per_cycle;
    if (!o.this_machine) {
      if (ghz <= 0)
        throw InputError("--cpu-ghz", "", "the CPU model name of " + t.source + " gives no clock: pass --cpu-ghz");
      if (fpc <= 0)
        throw InputError("--cpu-flops-per-cycle", "", "FP32 FLOP per cycle of another machine's CPU are not in hwloc XML: "
                                                      "pass --cpu-flops-per-cycle (32 for AVX2+FMA, 64 for AVX-512)");
    }
    double memory = t.host.memory_bytes;
    if (memory <= 0) throw InputError("--as-cluster", "", "the source gives no memory size for this CPU host");
    ClusterSpec c = cpu_gloo_cluster_for(t.host.cores, memory, o.ranks, ghz, fpc);
    c.name = o.name.empty() ? "cpu-gloo (" + default_name + ")" : o.name;
    validate_cluster(c, "--as-cluster");
    return c;
  }
  if (o.ranks > 0)
    throw InputError("--ranks", "", "applies to a CPU host; this node has " + std::to_string(planned.size()) +
                                        " GPU(s) and one rank per GPU");

  DeviceSpec device = device_for(t, planned, o);
  const int64_t gpus = static_cast<int64_t>(planned.size());

  // Inside the node: the ring over all its GPUs (what a TP group of the whole node gets). Behind a
  // switch smaller groups get as much; when every pair of GPUs is wired directly by NVLink (HGX
  // 4-GPU boards) a smaller group reaches only its peers' links: the fabric is a mesh.
  LinkSpec intra;
  bool direct_mesh = false;
  if (o.intra_node_GBps) {
    intra.name = "given with --intra-node-GBps";
    intra.bw_Bps = gbps_to_Bps(*o.intra_node_GBps);
    intra.latency_s = ring_step_latency_s("nvlink");
    intra.efficiency = 0.8;
  } else if (gpus >= 2) {
    GpuMatrix m = gpu_matrix(t);
    auto rings = ring_bandwidths(m);
    const RingBandwidth& r = rings.back();
    if (r.bw_Bps <= 0)
      throw InputError("--intra-node-GBps", "", "the bandwidth between this node's GPUs is unknown (" + r.why +
                                                    "): pass --gpu KEY or --intra-node-GBps (per GPU, per direction)");
    direct_mesh = gpus > 2;
    for (size_t i = 0; i < m.pair.size(); ++i)
      for (size_t j = 0; j < m.pair[i].size(); ++j)
        if (i != j && m.pair[i][j].type != PathType::kNvLink) direct_mesh = false;
    const std::string cls = link_class(r.bottleneck);
    intra.name = r.why + " (ring of " + std::to_string(gpus) + " GPUs)";
    intra.bw_Bps = r.bw_Bps;
    intra.latency_s = ring_step_latency_s(cls);
    intra.efficiency = link_efficiency(cls);
  } else {
    double host = gpu_host_link_Bps(t, planned.front());
    if (host <= 0) {
      auto model = find_gpu_model(t.gpus[static_cast<size_t>(planned.front())].name);
      if (model) host = pcie_Bps(model->pcie_gen, model->pcie_lanes);
    }
    if (host <= 0) throw InputError("--intra-node-GBps", "", "the GPU's PCIe link is unknown: pass --intra-node-GBps");
    const std::string gen = pcie_link_name(host);
    intra.name = "PCIe " + (gen.empty() ? "" : gen + " ") + "host link (1 GPU per node)";
    intra.bw_Bps = host;
    intra.latency_s = ring_step_latency_s("pcie");
    intra.efficiency = link_efficiency("pcie");
  }

  // Across nodes: the node's NIC bandwidth shared by its GPUs.
  LinkSpec inter;
  double node_Bps = 0;
  std::string what;
  if (o.inter_node_gbps) {
    node_Bps = gbit_to_Bps(*o.inter_node_gbps);
    what = gbit_words(node_Bps) + " per node (--inter-node-gbps)";
  } else {
    // RDMA NICs (what NCCL's IB/RoCE transport uses) when there are any, else the Ethernet ones.
    bool any_rdma = false;
    for (const auto& n : t.nics) any_rdma = any_rdma || n.rdma;
    int count = 0;
    std::string kinds;
    for (const auto& n : t.nics) {
      if (n.rdma != any_rdma || n.rate_Bps <= 0) continue;
      node_Bps += n.rate_Bps;
      ++count;
      if (kinds.find(n.kind) == std::string::npos) kinds += (kinds.empty() ? "" : "/") + n.kind;
    }
    if (node_Bps <= 0) {
      std::string found;
      for (const auto& n : t.nics) found += (found.empty() ? "" : ", ") + n.name + " (" + n.kind + ", rate unknown)";
      throw InputError("--inter-node-gbps", "", "no NIC with a known link rate (" + (found.empty() ? "no NIC found" : found) +
                                                    "): pass --inter-node-gbps with the node's total network bandwidth "
                                                    "in Gb/s (e.g. 3200 for 8x 400 Gb/s)");
    }
    what = std::to_string(count) + "x " + kinds + ", " + gbit_words(node_Bps) + " per node";
  }
  inter.name = what + " / " + std::to_string(gpus) + (gpus == 1 ? " GPU" : " GPUs");
  inter.bw_Bps = node_Bps / static_cast<double>(gpus);
  inter.latency_s = ring_step_latency_s("net");
  inter.efficiency = link_efficiency("net");

  ClusterSpec c = gpu_node_cluster(o.name.empty() ? default_name : o.name, device, gpus, intra, inter);
  if (direct_mesh) c.intra_node_fabric = "mesh";
  validate_cluster(c, "--as-cluster");
  return c;
}

Json cluster_json_from_topology(const NodeTopology& t, const ClusterSpec& c) {
  Json j = cluster_to_json(c);
  j["source"] = "planner probe: " + t.source;
  return j;
}

}  // namespace planner::topo
