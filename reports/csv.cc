#include "reports/csv.h"

#include <cmath>
#include <cstdio>

namespace planner::reports {

std::string csv_num(double v) {
  char b[64];
  if (std::floor(v) == v && std::fabs(v) < 1e15)
    std::snprintf(b, sizeof b, "%.0f", v);  // byte counts and element counts in full
  else
    std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

std::string csv_bool(bool v) { return v ? "true" : "false"; }

std::vector<std::string> plan_csv_header() {
  return {"dp", "tp", "micro_batch", "activation_checkpointing", "sequence_parallel", "reshard_after_forward", "grad_sync"};
}

std::vector<std::string> plan_csv_fields(const Plan& p) {
  return {std::to_string(p.dp), std::to_string(p.tp), std::to_string(p.micro_batch), to_string(p.ac),
          csv_bool(p.sequence_parallel), csv_bool(p.reshard_after_forward), to_string(p.grad_sync)};
}

}  // namespace planner::reports
