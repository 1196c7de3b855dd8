// `planner probe`: describe this machine (or an hwloc XML / `nvidia-smi topo -m` text of another),
// print the GPU-to-GPU bandwidth matrix, or write the cluster file the simulator takes.
#pragma once
#include <CLI/CLI.hpp>

namespace planner::cli {

void register_probe(CLI::App& app);

}  // namespace planner::cli
