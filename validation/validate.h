// `planner validate`: for a model and a world size on this machine, simulate every feasible
// (dp, tp), train each split for a few steps with the executor (`planner train` as a subprocess,
// the splits taking turns for --rounds rounds), and compare predicted with measured peak memory and
// step time (planner-validate/1 JSON and a table, scored by validation/score.h).
// run_validation needs LibTorch (planner_validation_runs); the options are plain values.
// docs/calibration.md.
#pragma once
#include <cstdint>
#include <string>

namespace planner::validation {

struct ValidateOptions {
  std::string model;
  std::string cluster = "cpu-gloo";  // profile from `planner calibrate`, or the uncalibrated preset
  std::string out;                   // "": validate.json
  std::string runs_dir;              // "": --out's folder
  std::string ac = "none";
  // What the splits train in (core/training_spec.h names): fp32 by default (the calibrated fp32
  // GEMMs); bf16-mixed and bf16 as FSDP2's MixedPrecisionPolicy.
  std::string precision = "fp32", reduce_dtype = "auto";
  int ranks = 4;
  int64_t seq_len = 64, global_batch = 0, micro_batch = 1, steps = 20, warmup = 5, rounds = 3;
  double run_timeout_s = 600, max_memory_error = 0.03, max_step_time_error = 0.10, max_ranking_gap = 0.05;
  bool force = false, allow_other_host = false, no_reshard = false;
  int threads = 0;
  std::string cpu_bind = "auto";
};

// Trains and scores every feasible split; writes the document and each run's record and log.
// Returns the exit code: 0 when the validation passes, 1 when it fails; InputError (exit 2) on bad
// options or a profile calibrated on another machine or for another rank count.
int run_validation(const ValidateOptions& o);

}  // namespace planner::validation
