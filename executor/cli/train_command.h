// `planner train`: trains a model with a plan (dp x tp and the knobs) for real, on local ranks it
// launches itself (--nproc) or as one rank under torchrun / srun / mpirun. See docs/executor.md.
#pragma once
#include <CLI/CLI.hpp>

namespace planner::cli {
void register_train(CLI::App& app);
}  // namespace planner::cli
