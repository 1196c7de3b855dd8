// Checkpoints of a training run (docs/executor.md, "Checkpoints"): one file per rank with each
// unit's shard and AdamW states, and meta.json (format "planner-checkpoint/1"); resuming at the
// same split or at another (dp, tp).
#pragma once
#include <cstdint>

#include "executor/comm.h"
#include "executor/parallelize.h"
#include "executor/trainer.h"

namespace planner::executor {

// Writes this rank's units to c.checkpoint_dir/rank-R.pt, then (after a barrier on the world
// group, so that every rank's file is complete) rank 0 writes meta.json saying the next step.
void save_checkpoint(const TrainConfig& c, const Mesh& mesh, Comms& comms, ShardedModel& m, int64_t next_step);

// Loads c.resume_dir into m's units (parameters and AdamW states) and returns the step to
// continue at. A checkpoint of another (dp, tp) is rebuilt unsharded from every old rank's file
// and re-sliced for this rank (InputError naming a missing or malformed file).
int64_t load_checkpoint(const TrainConfig& c, const Mesh& mesh, ShardedModel& m);

}  // namespace planner::executor
