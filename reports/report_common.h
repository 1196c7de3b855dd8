// Internal to reports/: reading a candidate ({"plan", "memory", "time", "throughput"}) out of any
// document, the series (names, colours) shared by the HTML charts and the CSV columns.
#pragma once
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/training_spec.h"
#include "reports/charts.h"

namespace planner::reports {

struct MemLine {
  const char* key;    // field of "memory" in bytes
  const char* label;
  const char* color;
  const char* note;
};
const std::vector<MemLine>& memory_lines();  // in the order of the stacked bar (peak + reserve + runtime)

struct CandidateView {
  Plan plan;
  bool feasible = false;
  std::string limit, reason;
  bool has_prediction = false;  // memory/time/throughput present
  std::vector<double> memory_bytes;  // one per memory_lines()
  double peak_allocated_bytes = 0, total_bytes = 0, capacity_bytes = 0;
  std::string peak_at = "start of backward";  // older documents do not say
  bool fits = false;
  double step_s = 0, forward_s = 0, backward_s = 0, recompute_s = 0, tp_comm_s = 0;
  double fsdp_all_gather_s = 0, fsdp_reduce_scatter_s = 0, fsdp_exposed_s = 0, fsdp_overlapped_s = 0, optimizer_s = 0;
  int64_t grad_accum = 1;
  double tokens_per_s = 0, tokens_per_s_per_gpu = 0, model_tflops_per_gpu = 0, mfu = 0, model_flops_per_token = 0;
};
CandidateView read_candidate(const JsonReader& r);

// Step-time series of the stacked bar: forward, backward, recompute, exposed TP comm, exposed FSDP
// comm, optimizer (they add up to step_s), and the overlapped FSDP comm drawn under the bar.
std::vector<SeriesStyle> time_series();
std::vector<double> time_values(const CandidateView& c);
SeriesStyle overlapped_style();

std::string knobs_label(const Plan& p);  // "mb=2 ac=full sp=off reshard=on sync=every"

}  // namespace planner::reports
