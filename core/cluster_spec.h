// ClusterSpec: the hardware the simulator prices a plan on. Vendor peaks and efficiency factors
// are separate fields (peaks from datasheets; efficiencies documented in docs/cost-model.md and
// replaced by `planner calibrate` measurements). Units are in the field names; rates are decimal.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace planner {

struct DeviceSpec {
  std::string name;                    // "NVIDIA H100 SXM5 80GB"
  std::string kind = "gpu";            // "gpu" or "cpu" (a CPU rank: one process, some cores)
  double peak_bf16_flops_per_s = 0;    // dense, no sparsity (datasheet)
  double peak_fp32_flops_per_s = 0;    // dense fp32 (no TF32) for GPUs; FMA peak for CPUs
  bool bf16 = true;                    // runs bfloat16 (V100, T4, K40: no; then bf16 plans are rejected)
  double memory_bytes = 0;             // capacity visible to the process (nvidia-smi total)
  double mem_bw_Bps = 0;               // HBM (GPU) or the rank's share of DRAM bandwidth (CPU)
  int64_t compute_units = 1;           // SMs (GPU) or cores per rank (CPU): wave quantization
  int64_t gemm_tile_m = 128;           // output tile of the GEMM library (rows)
  int64_t gemm_tile_n = 128;           // output tile (columns)
};

struct EfficiencySpec {
  double gemm = 0.75;            // fraction of peak a large, tile-aligned GEMM reaches
  double gemm_overhead_s = 5e-6; // fixed time per GEMM call (launch + ramp)
  // Fixed time per eager non-GEMM kernel in a training step (dispatch + autograd bookkeeping):
  // the CPU executor's cost per small op (docs/cost-model.md, "Eager op overhead").
  double op_overhead_s = 5e-6;
  double attention = 0.5;        // fraction of peak for the fused attention kernel (fwd and bwd)
  double memory = 0.8;           // fraction of mem_bw elementwise/optimizer kernels reach
};

struct LinkSpec {
  std::string name;          // "NVLink4", "NDR InfiniBand"
  double bw_Bps = 0;         // per GPU, per direction, vendor figure
  double latency_s = 0;      // per ring step (alpha)
  double efficiency = 0.8;   // fraction of bw_Bps a large collective reaches (busbw / link bw)
  double effective_bw_Bps() const { return bw_Bps * efficiency; }
};

// A collective measured on this cluster (`planner calibrate`): the ring formula's alpha and B
// (simulator/collectives.h) fitted to one kind's samples on one group shape inside a node. Where
// a plan's collective has an entry, the simulator prices it on `link` instead of intra_node:
// measured per kind and group because the algorithms differ (the executor's Gloo reduce_scatter
// is an all_to_all plus a local sum) and so does how the ranks of a group share the host (on an oversubscribed CPU, per-step latency is the scheduler's).
struct CollectiveFitSpec {
  std::string kind;       // all_gather, reduce_scatter or all_reduce
  int64_t group_size = 2;
  int64_t stride = 1;     // 1: consecutive ranks (TP groups); > 1: every stride-th rank (DP groups)
  LinkSpec link;          // latency_s per ring step, bw_Bps with efficiency 1
  // Fraction of the collective's time that hides behind compute issued after it (FSDP's
  // prefetched all-gather), as a profile gives it; < 0: not given (docs/cost-model.md, "Overlap on
  // a CPU host": `planner calibrate` measures it but keeps it out of the profile).
  double hidden_fraction = -1;
  // The compute every member ran right before the collective when it was measured (seconds);
  // < 0: not given. On a host with more ranks than cores a collective's time includes waiting for
  // its last member to be scheduled, which grows with that compute, so `planner calibrate` measures
  // each kind and group after several compute phases and the simulator interpolates at the compute
  // that precedes each collective in its timeline (docs/cost-model.md, "Compute before a collective").
  double after_compute_s = -1;
};

struct ClusterSpec {
  std::string name;
  std::string backend = "nccl";   // "nccl" or "gloo"
  DeviceSpec device;
  EfficiencySpec efficiency;
  int64_t gpus_per_node = 8;       // ranks per node
  int64_t num_nodes = 1;
  LinkSpec intra_node;             // inside a node (NVLink, PCIe, shared memory)
  // How the GPUs of a node reach each other: "switch" (NVSwitch, a PCIe switch, shared memory:
  // any group gets every GPU's whole intra_node bandwidth) or "mesh" (direct links split evenly
  // over the node's other GPUs, as on HGX 4-GPU boards: a group of k GPUs reaches only the links
  // to its k - 1 peers, (k - 1) / (gpus_per_node - 1) of the bandwidth).
  std::string intra_node_fabric = "switch";
  LinkSpec inter_node;             // across nodes, per GPU (node NIC bandwidth / GPUs per node)
  bool comm_overlaps_compute = true;   // GPUs: separate comm stream. CPU/Gloo: shares the cores
  double runtime_reserved_bytes = 0;   // CUDA context, NCCL and cuBLAS workspaces (not tensors)
  double allocator_fragmentation = 0;  // caching allocator: reserved ~= allocated * (1 + this)
  std::vector<CollectiveFitSpec> collectives;  // calibrated per kind and group (may be empty)

  int64_t world() const { return gpus_per_node * num_nodes; }
};

// Cluster JSON (docs/formats.md): vendor-friendly units in the field names
// (peak_bf16_tflops, memory_gib, mem_bw_GBps, bw_GBps, latency_us).
Json cluster_to_json(const ClusterSpec& c);
ClusterSpec cluster_from_json(const JsonReader& r);
ClusterSpec read_cluster_file(const std::string& path);
void validate_cluster(const ClusterSpec& c, const std::string& where);

}  // namespace planner
