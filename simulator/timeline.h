// The step timeline (docs/cost-model.md, "Timeline"): the units' costs (simulator/unit_costs.h)
// laid on a compute stream and a comm stream in the order FSDP runs them: the root gathered, each
// block's all-gather prefetched one unit ahead in forward and in backward, each block's
// reduce-scatter issued after its backward, the optimizer at the end; over every micro-batch of
// the optimizer step (gradient sync on each, or on the last only).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/training_spec.h"
#include "simulator/unit_costs.h"

namespace planner {

struct TraceEvent {
  std::string name;    // "F layers.3", "AG layers.4", "RS layers.2", "TP all_reduce" ...
  std::string stream;  // "compute" or "comm"
  double start_s = 0;
  double duration_s = 0;
  int64_t micro_batch = 0;
};

// How the runtime on this cluster overlaps communication with compute.
struct TimelineSpec {
  int64_t n_layers = 0;
  bool llama = false;    // names of trace events: "layers.i" or "feed_forward"
  bool has_root = false;
  bool reshard_after_forward = true;
  GradSync grad_sync = GradSync::every_micro_batch;
  int64_t grad_accum = 1;
  // GPUs: a separate comm stream, collectives overlap compute. Otherwise they run inline...
  bool comm_overlaps_compute = true;
  // ...except the executor's prefetched all-gathers over Gloo, which run on Gloo's worker thread
  // (docs/cost-model.md, "Overlap on a CPU host").
  bool gloo_prefetch = false;
  // The fraction of such an all-gather that hides behind compute, as a calibrated profile gives
  // it; < 0: not given (it then hides behind the TP collectives' blocking waits beside it).
  double ag_hidden_fraction = -1;
};

// Busy time of each stream over the whole optimizer step.
struct StepTimes {
  double step_s = 0;     // end of the optimizer
  double fwd_s = 0, bwd_s = 0, recompute_s = 0;
  double tp_s = 0;       // TP collectives on the compute stream
  double ag_s = 0, rs_s = 0;  // FSDP all-gathers and reduce-scatters
  double exposed_s = 0;  // compute stream waiting for (or running) FSDP comm
  double optimizer_s = 0;
};

// trace == nullptr: the hot path (no allocation; identical layers extrapolated once periodic,
// identical micro-batches priced once). Otherwise every event of every micro-batch is recorded.
StepTimes schedule_step(const UnitCosts& u, const TimelineSpec& spec, std::vector<TraceEvent>* trace);

}  // namespace planner
