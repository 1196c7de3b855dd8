// `planner calibrate`: measure this machine (GEMMs, a memory-bound kernel, the mesh's collectives)
// with the executor's own building blocks and write a hardware profile (a planner-cluster/1 file
// the simulator reads) plus a side document with the raw measurements and the fits' residuals
// (validation/calibrate.h). Needs LibTorch. docs/calibration.md.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "validation/calibrate.h"

namespace planner::app {

struct CalibrateOptions {
  validation::CalibrateOptions o;
  std::vector<std::string> models;      // --model, repeatable ("": o's default)
  std::vector<int64_t> micro_batches;   // --micro-batch, repeatable
  bool quick = false;                   // tests: 3 message sizes, 3 repetitions
};

// Declares `calibrate` and its flags on cli, bound to *a.
CLI::App* add_calibrate(CLI::App& cli, CalibrateOptions* a);
// The exit code: 0 when the profile was written; a failed or interrupted calibration exits the
// process with the launcher's code, nothing written; InputError on bad input (exit 2).
int run_calibrate(const CalibrateOptions& a);

}  // namespace planner::app
