// `planner train`: trains a model with a plan (dp x tp and the knobs) for real, on local ranks it
// launches itself (--nproc) or as one rank under torchrun / srun / mpirun. Needs LibTorch (the
// executor). See docs/executor.md.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace planner::app {

struct TrainOptions {
  std::string plan_file, model;
  std::string dp = "", tp = "";
  int64_t micro_batch = 0, seq_len = 0, global_batch = 0;
  std::string precision, reduce_dtype, ac, grad_sync;
  bool sp = false;        // --sp, when sp_given
  bool sp_given = false;  // set by add_train once parsed
  bool no_reshard = false, no_prefetch = false, quiet = false, print_lines = false, speed_probe = false,
       phase_times = false, force = false;
  int64_t steps = 10, warmup = -1, nnodes = 1;
  uint64_t seed = 0;
  double lr = 3e-4, weight_decay = 0.1;
  int nproc = 0, threads = 0, master_port = 0;
  double fault_timeout_s = 60, run_timeout_s = 0;
  std::string backend = "gloo", record, checkpoint_dir, resume, cpu_bind = "auto";
  int64_t checkpoint_every = 0;
};

// Declares `train` and its flags on cli, bound to *a.
CLI::App* add_train(CLI::App& cli, TrainOptions* a);
// The exit code: 0 when every rank finished (or the launch lines were printed); a failed run exits
// the process with the launcher's code; InputError on bad input (exit 2).
int run_train(const TrainOptions& a);

}  // namespace planner::app
