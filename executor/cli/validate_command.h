// `planner validate`: for a model and a world size on this machine, simulate every feasible
// (dp, tp), train each split for a few steps with the executor (`planner train` as a subprocess),
// and compare predicted with measured peak memory and step time (planner-validate/1 JSON and a
// table). docs/calibration.md.
#pragma once
#include <CLI/CLI.hpp>

namespace planner::cli {
void register_validate(CLI::App& app);
}  // namespace planner::cli
