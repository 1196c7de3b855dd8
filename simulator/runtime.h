// The training runtime a prediction prices: the same plan costs different memory and time under
// PyTorch FSDP2 (torchtitan, Lightning's ModelParallelStrategy) and under planner's own LibTorch
// executor, because they allocate, free and fuse differently. The runtime is an input of the cost
// model beside the model, the training set-up, the cluster and the plan (docs/cost-model.md,
// "Runtimes").
#pragma once
#include <string>
#include <vector>

#include "core/cluster_spec.h"

namespace planner {

enum class RuntimeKind {
  fsdp2,     // PyTorch FSDP2 fully_shard + DTensor TP, as torchtitan and Lightning's
             // ModelParallelStrategy run it: fused AdamW (foreach), peak = sum of the memory lines
  executor,  // planner's executor (planner train; what validate and rescore compare against)
};

// Kernel implementations: GPUs run fused kernels (flash attention, fused RMSNorm under compile);
// the CPU executor (LibTorch 1.13) composes them from plain eager ops, which saves more for
// backward and pays a dispatch cost per op.
enum class KernelFlavor { fused, composed };

struct Runtime {
  RuntimeKind kind = RuntimeKind::fsdp2;
  KernelFlavor kernels = KernelFlavor::fused;
  // Peak memory is the largest of the runtime's known allocation instants (the executor frees
  // and allocates at points it controls; docs/cost-model.md, "Memory of the executor"), instead
  // of the sum of every line's maximum (FSDP2).
  bool memory_at_instants = false;
  // AdamW runs one eager kernel per line of the algorithm (22 fp32 accesses per element),
  // instead of the fused/foreach kernel (docs/cost-model.md, "Optimizer").
  bool composed_adamw = false;
  // Every eager non-GEMM op pays efficiency.op_overhead_s (composed kernels on a CPU host).
  bool eager_op_overhead = false;
  // FSDP wraps the model even when dp = 1. FSDP2 runs (torchtitan applies fully_shard only when
  // its dp_shard degree is above 1; Lightning's ModelParallelStrategy example only when the
  // data-parallel mesh has more than one rank) train a plain (TP) model then: no gathered copies,
  // no unsharded gradient buffers (docs/cost-model.md, "Without FSDP (dp = 1)"). The executor
  // keeps its flat shard at dp = 1.
  bool fsdp_at_dp1 = false;
  // RoPE as torchtitan's apply_rotary_emb runs it: q and k upcast to fp32, viewed as complex,
  // multiplied by freqs_cis, cast back (eager: three passes). The executor rotates real halves by
  // cos/sin tables in the compute dtype.
  bool complex_rope = false;
};

// The runtime `kind` on `cluster`: kernels are composed on a CPU device and fused on a GPU.
Runtime make_runtime(RuntimeKind kind, const ClusterSpec& cluster);
// What runs on this cluster unless the caller says otherwise: planner's executor on a CPU
// cluster (the only runtime there), FSDP2 on GPUs.
Runtime default_runtime(const ClusterSpec& cluster);

std::string to_string(RuntimeKind k);
// "fsdp2" (also "torchtitan", "lightning": both run FSDP2) or "executor"; InputError naming
// `where` and `field` otherwise.
RuntimeKind runtime_from_string(const std::string& s, const std::string& where, const std::string& field);
const std::vector<std::string>& runtime_names();

}  // namespace planner
