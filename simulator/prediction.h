// What the simulator predicts for one candidate. Hot-path values only (no strings, no vectors):
// planner search evaluates millions of these. simulate_detail() adds the per-tensor tables and the
// timeline events for reports.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/training_spec.h"

namespace planner {

// Bytes per GPU at the predicted peak (the start of backward; docs/cost-model.md, "Memory").
struct MemoryBreakdown {
  double master_params_bytes = 0;    // FSDP shard of the (TP-local) parameters, master dtype
  double grads_bytes = 0;            // FSDP shard of the gradients after reduce-scatter
  double optimizer_bytes = 0;        // AdamW exp_avg + exp_avg_sq on the shard
  double gathered_params_bytes = 0;  // all-gathered units alive (root + current + prefetched, or all)
  double unsharded_grads_bytes = 0;  // full-size unit grads awaiting reduce-scatter (or no_sync accum)
  double activations_bytes = 0;      // saved for backward, all layers, plus recompute working set
  double logits_bytes = 0;           // embedding output, logits, loss temporaries (vocab-sized)
  double comm_buffers_bytes = 0;     // reduce-scatter staging in reduce dtype, TP collective buffers
  double peak_allocated_bytes = 0;   // the lines above at the peak's instant (compare with max_memory_allocated)
  double allocator_reserve_bytes = 0;  // caching allocator's extra (compare reserved with this added)
  double runtime_reserved_bytes = 0;   // CUDA context, NCCL, cuBLAS workspaces: not tensors
  double capacity_bytes = 0;           // device memory
  // When the peak happens: an FSDP2 run's "loss backward" or "last block's backward"
  // (docs/cost-model.md, "Memory"), the executor's largest instant ("optimizer step", "forward
  // end", ...), or "start of backward" where the lines are summed (the FeedForward under fsdp2).
  const char* peak_at = "start of backward";
  double total_bytes() const { return peak_allocated_bytes + allocator_reserve_bytes + runtime_reserved_bytes; }
  // What must fit: the tensors at the peak and the runtime. The allocator reserve is what the
  // caching allocator usually holds on top (max_memory_reserved); when the device runs short, a
  // failed cudaMalloc makes it release its cached blocks and retry, so a plan that fits without the
  // reserve runs, with slower steps while it retries (or none with expandable_segments). Such a plan
  // is feasible but `tight`: reported as such and ranked after plans that fit with the reserve.
  double required_bytes() const { return peak_allocated_bytes + runtime_reserved_bytes; }
  bool fits() const { return required_bytes() <= capacity_bytes; }
  bool tight() const { return fits() && total_bytes() > capacity_bytes; }
};

// Seconds per optimizer step (all micro-batches plus the optimizer).
struct TimeBreakdown {
  double step_s = 0;
  double forward_s = 0;          // compute stream busy with forward math
  double backward_s = 0;         // compute stream busy with backward math
  double recompute_s = 0;        // activation-checkpointing recomputation
  double tp_comm_s = 0;          // TP collectives, on the critical path (inside compute stream)
  double fsdp_all_gather_s = 0;  // comm stream busy with FSDP all-gathers
  double fsdp_reduce_scatter_s = 0;  // comm stream busy with FSDP reduce-scatters
  double fsdp_exposed_s = 0;     // compute stream idle waiting for FSDP comm
  double optimizer_s = 0;        // AdamW on the shard (memory bound) + grad-norm
  int64_t grad_accum = 1;
  double compute_s() const { return forward_s + backward_s + recompute_s; }
  double fsdp_comm_s() const { return fsdp_all_gather_s + fsdp_reduce_scatter_s; }
  double fsdp_overlapped_s() const { return fsdp_comm_s() - fsdp_exposed_s; }
};

struct Throughput {
  double tokens_per_s = 0;            // global
  double tokens_per_s_per_gpu = 0;
  double model_flops_per_token = 0;   // 6N + 12 L h s (PaLM appendix B; torchtitan's MFU)
  double model_tflops_per_gpu = 0;    // model FLOP/s per GPU / 1e12
  double mfu = 0;                     // model FLOP/s per GPU / peak dense FLOP/s
};

struct Prediction {
  MemoryBreakdown memory;
  TimeBreakdown time;
  Throughput throughput;
};

// Why a candidate cannot run. `limit` is a stable key; `reason` quotes the numbers.
enum class Limit { none, tp_divisibility, sp_divisibility, batch_divisibility, world_size, memory, backend };

struct Candidate {
  Plan plan;
  Limit limit = Limit::none;   // none: feasible
  std::string reason;          // "" when feasible
  double memory_excess_bytes = 0;  // > 0 when limit == memory: required_bytes() - capacity
  Prediction prediction;       // filled when the plan is well formed (memory-infeasible included)
  bool feasible() const { return limit == Limit::none; }
};

std::string to_string(Limit l);

}  // namespace planner
