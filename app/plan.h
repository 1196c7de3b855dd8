// `planner plan`: enumerate every (dp, tp) split and knob setting, reject the infeasible ones with
// their reason, rank the rest by predicted throughput, compare with Lightning's "auto".
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "app/common.h"

namespace planner::app {

struct PlanOptions {
  SetupOptions setup;
  KnobOptions knobs;
  std::string format = "table";
  size_t top = 10;
  std::string write_plan;  // plan file of the best candidate
  std::string output = "-";
  std::string report;      // self-contained HTML
  std::string export_name;  // --export: print this export of the best plan instead of the table
};

// Declares `plan` and its flags on cli, bound to *o.
CLI::App* add_plan(CLI::App& cli, PlanOptions* o);
// The exit code: 0, or 1 when no split fits (a valid question whose answer is "nothing fits");
// InputError on bad input (exit 2).
int run_plan(const PlanOptions& o);

}  // namespace planner::app
