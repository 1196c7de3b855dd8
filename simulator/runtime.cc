#include "simulator/runtime.h"

#include "core/error.h"

namespace planner {

Runtime make_runtime(RuntimeKind kind, const ClusterSpec& cluster) {
  Runtime r;
  r.kind = kind;
  r.kernels = cluster.device.kind == "cpu" ? KernelFlavor::composed : KernelFlavor::fused;
  // A composed (CPU) run is always the executor's: its allocation order and its eager AdamW.
  const bool executor = kind == RuntimeKind::executor || r.kernels == KernelFlavor::composed;
  r.memory_at_instants = executor;
  r.composed_adamw = executor;
  r.eager_op_overhead = r.kernels == KernelFlavor::composed;
  r.fsdp_at_dp1 = executor;
  r.complex_rope = !executor;
  return r;
}

Runtime default_runtime(const ClusterSpec& cluster) {
  return make_runtime(cluster.device.kind == "cpu" ? RuntimeKind::executor : RuntimeKind::fsdp2, cluster);
}

std::string to_string(RuntimeKind k) { return k == RuntimeKind::executor ? "executor" : "fsdp2"; }

const std::vector<std::string>& runtime_names() {
  static const std::vector<std::string> names{"fsdp2", "torchtitan", "lightning", "executor"};
  return names;
}

RuntimeKind runtime_from_string(const std::string& s, const std::string& where, const std::string& field) {
  if (s == "fsdp2" || s == "torchtitan" || s == "lightning") return RuntimeKind::fsdp2;
  if (s == "executor") return RuntimeKind::executor;
  throw InputError(where, field,
                   "unknown runtime '" + s + "' (allowed: fsdp2, torchtitan, lightning (both run FSDP2), executor)");
}

}  // namespace planner
