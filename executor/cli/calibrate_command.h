// `planner calibrate`: measure this machine (GEMMs, a memory-bound kernel, the mesh's collectives)
// with the executor's own building blocks and write a hardware profile (a planner-cluster/1 file
// the simulator reads) plus a side document with the raw measurements and the fits' residuals.
// docs/calibration.md.
#pragma once
#include <CLI/CLI.hpp>

namespace planner::cli {
void register_calibrate(CLI::App& app);
}  // namespace planner::cli
