// `planner simulate`: one split, full breakdown (memory per tensor, activations per op, timeline).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "app/common.h"

namespace planner::app {

struct SimulateOptions {
  SetupOptions setup;
  std::string plan_file;
  int64_t dp = 0;             // 0: world / tp
  std::string tp = "auto";    // auto = GPUs per node
  int64_t micro_batch = 1;
  std::string ac = "none";
  std::string sp = "off";
  std::string reshard = "on";
  std::string grad_sync = "every";
  std::string format = "table";
  std::string output = "-";
  std::string trace;   // Chrome trace of the simulated step
  std::string report;  // self-contained HTML
};

// Declares `simulate` and its flags on cli, bound to *o.
CLI::App* add_simulate(CLI::App& cli, SimulateOptions* o);
// The exit code: 0, or 1 when the split is infeasible (the breakdown says why); InputError on bad
// input (exit 2).
int run_simulate(const SimulateOptions& o);

}  // namespace planner::app
