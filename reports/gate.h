// The regression gate (`planner gate`, docs/reports.md "Regression gate"): compares a current
// document with a baseline of the same kind and says, metric by metric, whether it is within its
// threshold.
//  - Google Benchmark JSON: real_time and cpu_time per benchmark (the median aggregate when
//    repetitions were run); fails when current / baseline - 1 > threshold (default 0.25: lenient,
//    shared CI machines are noisy), or a baseline benchmark is missing or errored. Faster passes.
//  - planner-validate/1: |memory_error| <= 0.03 and |step_time_error| <= 0.10 for every current
//    row, the predicted best measured within ranking_regret (0.10) of the measured best, and no
//    baseline plan missing. The baseline is optional here (its errors are shown for comparison).
//  - golden simulator outputs (planner-plan-search/1, planner-suggest/1, simulate detail,
//    planner-topology/1): same structure, strings and booleans; numbers within a relative 1e-9.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace planner::reports {

struct GateThresholds {
  double benchmark_real_time = 0.25;  // relative slowdown allowed
  double benchmark_cpu_time = 0.25;
  std::map<std::string, std::pair<double, double>> benchmark_overrides;  // name -> (real, cpu)
  double memory_error = 0.03;         // |(predicted - measured) / measured|
  double step_time_error = 0.10;
  double ranking_regret = 0.10;       // measured(predicted best) / measured(measured best) - 1
  double golden_relative = 1e-9;
};
// Reads a thresholds file (every field optional; unknown fields are refused):
// {"benchmark": {"real_time": 0.25, "cpu_time": 0.25, "overrides": {"BM_x": {"real_time": 0.5}}},
//  "validate": {"memory_error": 0.03, "step_time_error": 0.10, "ranking_regret": 0.10},
//  "golden": {"relative": 1e-9}}
GateThresholds read_thresholds(const Json& j, const std::string& source);

struct GateLine {
  std::string metric;
  std::string baseline, current, change, threshold;  // formatted for the table ("" when n/a)
  bool pass = true;
};

struct GateResult {
  std::string kind;               // what was compared
  std::vector<GateLine> lines;    // every metric (golden: the differences only)
  std::string summary;            // one sentence
  bool pass() const;
  std::string text() const;       // aligned table + summary line
};

// baseline may be null (only for planner-validate/1). InputError (exit 2) for documents of
// different kinds, kinds the gate does not compare, or malformed documents.
GateResult gate_documents(const Json* baseline, const std::string& baseline_name, const Json& current,
                          const std::string& current_name, const GateThresholds& t);

}  // namespace planner::reports
