// Training with a plan: the step loop (gradient accumulation, AdamW on the local shards from
// executor/optimizer.h, checkpoints through executor/checkpoint_io.h), measurement and the run
// record (format "planner-run/1", docs/executor.md).
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/model_spec.h"
#include "core/training_spec.h"
#include "executor/comm.h"
#include "executor/launcher.h"
#include "executor/optimizer.h"

namespace planner::executor {

struct TrainConfig {
  ModelSpec model;
  TrainingSpec training;
  Plan plan;
  int64_t steps = 10;
  int64_t warmup_steps = 2;  // excluded from the median step time
  uint64_t seed = 0;
  AdamWConfig adamw;
  std::string backend = "gloo";
  bool prefetch = true;
  bool progress = true;           // rank 0 prints one line per step
  std::string record_path;        // --record FILE (written by rank 0)
  std::string checkpoint_dir;     // --checkpoint-dir: saved at the end (and every checkpoint_every)
  int64_t checkpoint_every = 0;
  std::string resume_dir;         // --resume DIR
  Json plan_json;                 // the plan file's JSON, copied into the run record
  // --speed-probe: time calibrate's eager-op probe and up to 6 of the model's GEMM shapes on every
  // rank before training, into the run record's `speed_probe` (planner validate compares it with
  // the calibration: how fast the host ran during this run against during the calibration).
  bool speed_probe = false;
  // --phase-times: time each step's forward, backward and optimizer apart, synchronizing the
  // device at their boundaries (on a GPU that adds two waits per micro-batch), into the run
  // record's phase_s_median per rank, to compare with the simulator's forward_s, backward_s and
  // optimizer_s. Collectives inside a phase count in it.
  bool phase_times = false;
};

// Checks what can be checked before any rank starts (InputError naming the flag/field).
void validate_train_config(const TrainConfig& c, int64_t world, const std::string& where);

struct RankResult {
  std::vector<double> loss;         // per step (this run's steps), mean over the global batch
  std::vector<double> step_time_s;  // per step, this rank (drawing the synthetic batch excluded)
  std::vector<double> batch_draw_s; // per step, drawing the synthetic batch on the CPU (and copying it to the GPU)
  std::vector<double> forward_s, backward_s, optimizer_s;  // per step, with --phase-times only
  int64_t first_step = 0;           // > 0 when resumed
  int64_t peak_allocated_bytes = 0;
  int64_t peak_reserved_bytes = -1;  // GPU only
  std::map<std::string, CollectiveStats> collectives;  // by kind, all groups of this rank
  std::map<std::string, at::Tensor> full_params;       // filled when asked (tests)
};

// Trains on one rank with ready communicators (Gloo/NCCL/fake).
// device: where the model lives (the rank's GPU under NCCL); the peak memory is then the CUDA
// caching allocator's.
RankResult train_rank(const TrainConfig& c, const Mesh& mesh, Comms& comms, bool want_full_params = false,
                      at::Device device = at::kCPU);

// Per-rank entry for launch_local_ranks/run_as_rank: makes the mesh's communicators, trains,
// gathers every rank's measurements through the store, and rank 0 writes the run record.
int train_main(const TrainConfig& c, RankContext& ctx);

double median(std::vector<double> v);
Json rank_result_json(int rank, const RankResult& r, int64_t warmup_steps = 0);
// The run record from every rank's JSON (rank order); step_time_s = max over ranks per step.
Json run_record_json(const TrainConfig& c, const std::vector<Json>& ranks, const std::vector<double>& loss,
                     const RankContext& ctx);

}  // namespace planner::executor
