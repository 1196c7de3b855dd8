#include "core/cluster_spec.h"

#include "core/error.h"
#include "core/limits.h"
#include "core/units.h"

namespace planner {

Json cluster_to_json(const ClusterSpec& c) {
  const auto& d = c.device;
  auto link = [](const LinkSpec& l) {
    return Json{{"name", l.name}, {"bw_GBps", l.bw_Bps / kGB}, {"latency_us", l.latency_s * 1e6},
                {"efficiency", l.efficiency}};
  };
  Json j{
      {"format", "planner-cluster/1"},
      {"name", c.name},
      {"backend", c.backend},
      {"gpus_per_node", c.gpus_per_node},
      {"num_nodes", c.num_nodes},
      {"device",
       {{"name", d.name},
        {"kind", d.kind},
        {"peak_bf16_tflops", d.peak_bf16_flops_per_s / kTera},
        {"peak_fp32_tflops", d.peak_fp32_flops_per_s / kTera},
        {"memory_gib", d.memory_bytes / kGiB},
        {"mem_bw_GBps", d.mem_bw_Bps / kGB},
        {"compute_units", d.compute_units},
        {"gemm_tile_m", d.gemm_tile_m},
        {"gemm_tile_n", d.gemm_tile_n}}},
      {"efficiency",
       {{"gemm", c.efficiency.gemm},
        {"gemm_overhead_us", c.efficiency.gemm_overhead_s * 1e6},
        {"op_overhead_us", c.efficiency.op_overhead_s * 1e6},
        {"attention", c.efficiency.attention},
        {"memory", c.efficiency.memory}}},
      {"intra_node", link(c.intra_node)},
      {"inter_node", link(c.inter_node)},
      {"comm_overlaps_compute", c.comm_overlaps_compute},
      {"runtime_reserved_gib", c.runtime_reserved_bytes / kGiB},
      {"allocator_fragmentation", c.allocator_fragmentation},
  };
  if (c.intra_node_fabric != "switch") j["intra_node_fabric"] = c.intra_node_fabric;
  // Written only for a device without bfloat16, so files of the others read as before.
  if (!d.bf16) j["device"]["bf16"] = false;
  if (!c.collectives.empty()) {
    Json t = Json::array();
    for (const auto& f : c.collectives) {
      Json e = {{"kind", f.kind}, {"group_size", f.group_size}, {"stride", f.stride},
                {"latency_us", f.link.latency_s * 1e6}, {"bw_GBps", f.link.bw_Bps / kGB}};
      if (f.hidden_fraction >= 0) e["hidden_fraction"] = f.hidden_fraction;
      if (f.after_compute_s >= 0) e["after_compute_us"] = f.after_compute_s * 1e6;
      t.push_back(e);
    }
    j["collectives"] = t;
  }
  return j;
}

static std::vector<CollectiveFitSpec> collectives_from_json(const JsonReader& r) {
  std::vector<CollectiveFitSpec> out;
  if (!r.has("collectives")) return out;
  for (const JsonReader& e : r.children("collectives")) {
    e.reject_unknown_keys({"kind", "group_size", "stride", "latency_us", "bw_GBps", "hidden_fraction", "after_compute_us"});
    CollectiveFitSpec f;
    f.kind = e.get_enum("kind", {"all_gather", "reduce_scatter", "all_reduce"});
    f.group_size = e.get_int_in("group_size", 2, limits::kMaxWorld);
    f.stride = e.get_int_in("stride", 1, limits::kMaxWorld);
    f.link.name = "calibrated " + f.kind + " of " + std::to_string(f.group_size) +
                  (f.stride == 1 ? " consecutive" : " strided") + " ranks";
    f.link.latency_s = e.get_number("latency_us", 0.0, true) * 1e-6;
    f.link.bw_Bps = gbps_to_Bps(e.get_number("bw_GBps", 0.0));
    f.link.efficiency = 1.0;
    if (e.has("hidden_fraction")) {
      f.hidden_fraction = e.get_number("hidden_fraction", 0.0, true);
      if (f.hidden_fraction > 1.0)
        throw InputError(e.file(), e.field_path("hidden_fraction"),
                         "must be between 0 and 1 (the fraction of the collective hidden behind compute), got " +
                             std::to_string(f.hidden_fraction));
    }
    if (e.has("after_compute_us")) f.after_compute_s = e.get_number("after_compute_us", 0.0, true) * 1e-6;
    for (const auto& g : out) {
      if (g.kind != f.kind || g.group_size != f.group_size || g.stride != f.stride) continue;
      if ((g.after_compute_s < 0) != (f.after_compute_s < 0))
        throw InputError(e.file(), e.field_path("after_compute_us"),
                         "given for some entries of " + f.kind + " group_size " + std::to_string(f.group_size) +
                             " stride " + std::to_string(f.stride) + " but not all: give it on every entry of a group or on none");
      if (g.after_compute_s == f.after_compute_s)
        throw InputError(e.file(), e.field_path(f.after_compute_s < 0 ? "kind" : "after_compute_us"),
                         "a second entry for " + f.kind + " group_size " + std::to_string(f.group_size) + " stride " +
                             std::to_string(f.stride) +
                             (f.after_compute_s < 0 ? std::string()
                                                    : " after_compute_us " + std::to_string(f.after_compute_s * 1e6)));
    }
    out.push_back(f);
  }
  return out;
}

static LinkSpec link_from_json(const JsonReader& r) {
  r.reject_unknown_keys({"name", "bw_GBps", "latency_us", "efficiency"});
  LinkSpec l;
  l.name = r.get_string("name", "");
  l.bw_Bps = gbps_to_Bps(r.get_number("bw_GBps", 0.0));
  l.latency_s = r.get_number("latency_us", 0.0, true) * 1e-6;
  l.efficiency = r.get_number("efficiency", 0.0, false, 0.8);
  if (l.efficiency > 1.0)
    throw InputError(r.file(), r.field_path("efficiency"), "must be in (0, 1], got " + std::to_string(l.efficiency));
  return l;
}

ClusterSpec cluster_from_json(const JsonReader& r) {
  r.reject_unknown_keys({"format", "name", "backend", "gpus_per_node", "num_nodes", "device", "efficiency",
                         "intra_node", "intra_node_fabric", "inter_node", "comm_overlaps_compute", "runtime_reserved_gib",
                         "allocator_fragmentation", "source", "collectives"});
  if (r.has("format") && r.get_string("format") != "planner-cluster/1")
    throw InputError(r.file(), "format",
                     "'" + quote_for_error(r.get_string("format")) + "' is not supported; expected 'planner-cluster/1'");
  ClusterSpec c;
  c.name = r.get_string("name", r.file());
  c.backend = r.get_enum("backend", {"nccl", "gloo"}, "nccl");
  c.gpus_per_node = r.get_int_in("gpus_per_node", 1, limits::kMaxGpusPerNode);
  c.num_nodes = r.get_int_in("num_nodes", 1, limits::kMaxWorld, 1);
  JsonReader d = r.child("device");
  d.reject_unknown_keys({"name", "kind", "peak_bf16_tflops", "peak_fp32_tflops", "bf16", "memory_gib", "mem_bw_GBps",
                         "compute_units", "gemm_tile_m", "gemm_tile_n"});
  c.device.name = d.get_string("name", "");
  c.device.kind = d.get_enum("kind", {"gpu", "cpu"}, "gpu");
  c.device.peak_bf16_flops_per_s = d.get_number("peak_bf16_tflops", 0.0) * kTera;
  c.device.peak_fp32_flops_per_s = d.get_number("peak_fp32_tflops", 0.0) * kTera;
  c.device.bf16 = d.get_bool("bf16", true);
  c.device.memory_bytes = gib_to_bytes(d.get_number("memory_gib", 0.0));
  c.device.mem_bw_Bps = gbps_to_Bps(d.get_number("mem_bw_GBps", 0.0));
  c.device.compute_units = d.get_int_in("compute_units", 1, limits::kMaxModelDim, 1);
  c.device.gemm_tile_m = d.get_int_in("gemm_tile_m", 1, limits::kMaxModelDim, 128);
  c.device.gemm_tile_n = d.get_int_in("gemm_tile_n", 1, limits::kMaxModelDim, 128);
  if (r.has("efficiency")) {
    JsonReader e = r.child("efficiency");
    e.reject_unknown_keys({"gemm", "gemm_overhead_us", "op_overhead_us", "attention", "memory"});
    auto frac = [&](const char* k, double fb) {
      double v = e.get_number(k, 0.0, false, fb);
      if (v > 1.0) throw InputError(e.file(), e.field_path(k), "must be in (0, 1], got " + std::to_string(v));
      return v;
    };
    c.efficiency.gemm = frac("gemm", c.efficiency.gemm);
    c.efficiency.attention = frac("attention", c.efficiency.attention);
    c.efficiency.memory = frac("memory", c.efficiency.memory);
    c.efficiency.gemm_overhead_s = e.get_number("gemm_overhead_us", 0.0, true, c.efficiency.gemm_overhead_s * 1e6) * 1e-6;
    // Absent (files written before the field existed): the GEMM's fixed cost, as before.
    c.efficiency.op_overhead_s =
        e.get_number("op_overhead_us", 0.0, true, c.efficiency.gemm_overhead_s * 1e6) * 1e-6;
  }
  c.intra_node = link_from_json(r.child("intra_node"));
  c.intra_node_fabric = r.get_enum("intra_node_fabric", {"switch", "mesh"}, "switch");
  c.inter_node = link_from_json(r.child("inter_node"));
  c.comm_overlaps_compute = r.get_bool("comm_overlaps_compute", c.backend == "nccl");
  c.runtime_reserved_bytes = gib_to_bytes(r.get_number("runtime_reserved_gib", 0.0, true, 0.0));
  c.allocator_fragmentation = r.get_number("allocator_fragmentation", 0.0, true, 0.0);
  c.collectives = collectives_from_json(r);
  validate_cluster(c, r.file());
  return c;
}

ClusterSpec read_cluster_file(const std::string& path) {
  Json j = read_json_file(path);
  return cluster_from_json(JsonReader(j, path));
}

void validate_cluster(const ClusterSpec& c, const std::string& where) {
  if (c.runtime_reserved_bytes >= c.device.memory_bytes)
    throw InputError(where, "runtime_reserved_gib", "is not below device.memory_gib");
  check_range(c.gpus_per_node, 1, limits::kMaxGpusPerNode, where, "gpus_per_node");
  check_range(c.num_nodes, 1, limits::kMaxWorld, where, "num_nodes");
  // Both bounded: the product fits; the world is bounded on its own.
  if (c.world() > limits::kMaxWorld)
    throw InputError(where, "num_nodes",
                     std::to_string(c.num_nodes) + " nodes x " + std::to_string(c.gpus_per_node) + " GPUs = " +
                         std::to_string(c.world()) + " ranks; the limit is " + std::to_string(limits::kMaxWorld));
}

}  // namespace planner
