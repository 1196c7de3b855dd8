#include "app/probe.h"
#include "app/common.h"

#include <iostream>

#include "app/common.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/json_io.h"
#include "topology/node_cluster.h"
#include "topology/probe.h"

namespace planner::app {

namespace {

void emit(const ProbeOptions& o, const std::string& text) {
  if (o.output.empty()) {
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
  } else {
    write_file_atomic(o.output, text.back() == '\n' ? text : text + "\n");
  }
}

}  // namespace

int run_probe(const ProbeOptions& given) {
  ProbeOptions o = given;
  if (!o.xml.empty() && !o.smi_topo.empty())
    throw InputError("--xml", "", "give either --xml or --nvidia-smi-topo, not both");
  if (o.timeout_s <= 0 || o.timeout_s > 600)
    throw InputError("--timeout", "", "must be in (0, 600] seconds, got " + std::to_string(o.timeout_s));
  std::optional<topo::GpuModel> model;
  if (!o.cluster.gpu_key.empty()) {
    model = topo::gpu_model_by_key(o.cluster.gpu_key);
    if (!model) throw InputError("--gpu", "", "unknown GPU '" + o.cluster.gpu_key + "'; known: " + topo::gpu_model_keys());
  }
  topo::NodeTopology t;
  if (!o.xml.empty()) {
    t = topo::read_hwloc_xml_file(o.xml);
  } else if (!o.smi_topo.empty()) {
    t = topo::read_smi_topo_file(o.smi_topo, model);
  } else {
    t = topo::probe_this_machine(o.no_nvml ? "" : o.nvml_library, o.timeout_s);
    o.cluster.this_machine = true;
  }

  if (o.as_cluster) {
    ClusterSpec c = topo::cluster_from_topology(t, o.cluster);
    Json j = topo::cluster_json_from_topology(t, c);
    emit(o, j.dump(2));
    if (!o.output.empty())
      std::cerr << "wrote " << o.output << ": " << c.name << ", " << c.gpus_per_node << " x " << c.device.name
                << "; intra_node " << c.intra_node.name << "; inter_node " << c.inter_node.name << "\n";
    return 0;
  }
  if (o.format == "json")
    emit(o, topo::to_json(t).dump(2));
  else
    emit(o, topo::summary_text(t));
  return 0;
}

CLI::App* add_probe(CLI::App& cli, ProbeOptions* o) {
  CLI::App* sub = cli.add_subcommand(
      "probe",
      "Describe this machine (hwloc + NVML), or another one from its hwloc XML or `nvidia-smi topo -m` text: GPUs, "
      "NVLink/PCIe wiring, GPU-to-GPU bandwidth, ring bandwidth of TP groups, NICs; --as-cluster writes the cluster "
      "file `planner plan --cluster` takes");
  sub->add_option("--xml", o->xml, "hwloc 2.x XML of the machine to describe (`lstopo FILE.xml` on it)");
  sub->add_option("--nvidia-smi-topo", o->smi_topo, "a file holding the text `nvidia-smi topo -m` printed on it");
  sub->add_option("--format", o->format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  sub->add_flag("--as-cluster", o->as_cluster, "write the planner-cluster/1 file for `planner plan --cluster`");
  add_output_option(sub, &o->output, "write to this file instead of stdout");
  sub->add_option("--nvml-library", o->nvml_library, "NVML library to dlopen (default libnvidia-ml.so.1)");
  sub->add_flag("--no-nvml", o->no_nvml, "do not query NVML");
  sub->add_option("--timeout", o->timeout_s, "seconds each probe step may take (default 20)")
      ->check(finite_number(0, 600, /*lo_open=*/true));
  sub->add_option("--gpu", o->cluster.gpu_key, "GPU table key, for GPUs the source does not name or the table lacks: " +
                                                   topo::gpu_model_keys());
  sub->add_option("--peak-bf16-tflops", o->peak_bf16, "device override: dense BF16 peak, TFLOP/s")->check(finite_number(0, 1e9, /*lo_open=*/true));
  sub->add_option("--peak-fp32-tflops", o->peak_fp32, "device override: FP32 peak, TFLOP/s")->check(finite_number(0, 1e9, /*lo_open=*/true));
  sub->add_option("--memory-gib", o->memory_gib, "device override: memory per GPU, GiB")->check(finite_number(0, 1e9, /*lo_open=*/true));
  sub->add_option("--mem-bw-gbps", o->mem_bw, "device override: HBM bandwidth, GB/s")->check(finite_number(0, 1e9, /*lo_open=*/true));
  sub->add_option("--sms", o->sms, "device override: SM count")->check(int_in(1, 1000000));
  sub->add_option("--intra-node-GBps", o->intra, "override: bandwidth between the node's GPUs, GB/s per GPU and direction")->check(finite_number(0, 1e9, /*lo_open=*/true));
  sub->add_option("--inter-node-gbps", o->inter,
                  "the node's total network bandwidth in Gb/s (e.g. 3200 for 8x 400 Gb/s); default: the sum of the NICs' rates")
      ->check(finite_number(0, 1e9, /*lo_open=*/true));
  sub->add_option("--ranks", o->cluster.ranks, "CPU host: processes of the local CPU/Gloo run")->check(int_in(1, limits::kMaxGpusPerNode));
  sub->add_option("--cpu-ghz", o->cluster.cpu_ghz, "CPU host: clock (default: CPU model name or /proc/cpuinfo)")->check(finite_number(0, 1e9, /*lo_open=*/true));
  sub->add_option("--cpu-flops-per-cycle", o->cluster.cpu_fp32_flops_per_cycle,
                  "CPU host: FP32 FLOP per cycle per core (default: /proc/cpuinfo; 32 AVX2+FMA, 64 AVX-512)")->check(int_in(1, 1000000));
  sub->add_option("--name", o->cluster.name, "cluster name in the written file");
  // The overrides given, once parsed: only those replace what the probe finds.
  sub->callback([o, sub]() {
    if (sub->count("--peak-bf16-tflops")) o->cluster.peak_bf16_tflops = o->peak_bf16;
    if (sub->count("--peak-fp32-tflops")) o->cluster.peak_fp32_tflops = o->peak_fp32;
    if (sub->count("--memory-gib")) o->cluster.memory_gib = o->memory_gib;
    if (sub->count("--mem-bw-gbps")) o->cluster.mem_bw_GBps = o->mem_bw;
    if (sub->count("--sms")) o->cluster.sms = o->sms;
    if (sub->count("--intra-node-GBps")) o->cluster.intra_node_GBps = o->intra;
    if (sub->count("--inter-node-gbps")) o->cluster.inter_node_gbps = o->inter;
  });
  return sub;
}

}  // namespace planner::app
