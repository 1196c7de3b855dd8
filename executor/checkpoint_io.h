// Checkpoints of a training run (docs/executor.md, "Checkpoints"), crash-consistent:
//
//   DIR/.lock                  flock(2)ed by the run that writes DIR (CheckpointLock): one writer
//   DIR/step-00000012/         a committed checkpoint: the state before step 13 (1-based)
//       rank-R.pt              rank R's units (shard, exp_avg, exp_avg_sq), torch::save
//       meta.json              "planner-checkpoint/2": step, dp, tp, seed, model, units and, per
//                              rank file, its size and CRC-32 (zlib's, the same as gzip's)
//   DIR/step-00000013.tmp/     a checkpoint being written (or left by a run that was stopped)
//
// Every rank writes and fsyncs its file into step-N.tmp; after a barrier rank 0 writes meta.json
// there and commits the folder by one rename(2) to step-N (then fsyncs DIR). A folder without the
// .tmp suffix is therefore complete, and a resume reads only those: the newest one, whose every
// file must have the size and CRC-32 meta.json lists. Rank 0 keeps the two newest committed
// checkpoints and deletes older ones after each commit.
#pragma once
#include <cstdint>
#include <string>

#include "core/json_io.h"
#include "executor/comm.h"
#include "executor/parallelize.h"
#include "executor/trainer.h"

namespace planner::executor {

// Writes this rank's units into c.checkpoint_dir/step-<next_step>.tmp; rank 0 commits it (above).
// Collective over comms.world (barriers).
void save_checkpoint(const TrainConfig& c, const Mesh& mesh, Comms& comms, ShardedModel& m, int64_t next_step);

// Loads the checkpoint c.resume_dir names (resolve_checkpoint) into m's units (parameters and
// AdamW states) and returns the step to continue at. The files this rank reads are checked
// against meta.json's sizes and CRC-32s first. A checkpoint of another (dp, tp) is rebuilt
// unsharded from every old rank's file and re-sliced for this rank. InputError (exit 2) naming the
// file on a missing, truncated or corrupted file, and on another model or seed (check_resume).
int64_t load_checkpoint(const TrainConfig& c, const Mesh& mesh, ShardedModel& m);

// The checkpoint `--resume DIR` means: DIR itself when it holds meta.json, else DIR's newest
// committed step-N folder. InputError when there is none (naming uncommitted .tmp folders found).
std::string resolve_checkpoint(const std::string& dir);

// What can be checked of --resume before any rank starts: the checkpoint resolves, its meta.json
// is a planner-checkpoint/2 of this model and seed, and every rank file it lists is there with
// its size (the CRC-32 is checked when each rank reads its files). Returns the checkpoint folder.
std::string check_resume(const TrainConfig& c);

// Checks --record and --checkpoint-dir before training (InputError naming the flag and path):
// the record's folder exists and a file can be created in it, the path is not a folder; the
// checkpoint folder exists or can be made, is writable, and holds no committed checkpoint of
// another run unless this run resumes from it.
void check_output_paths(const TrainConfig& c);

// An exclusive flock(2) on DIR/.lock (made with the folder if needed) held while this object
// lives, with the holder's pid written in the file. InputError naming the pid of the run that
// holds it. Forked ranks inherit it; it is released when every process holding it has exited.
class CheckpointLock {
 public:
  explicit CheckpointLock(const std::string& dir);
  ~CheckpointLock();
  CheckpointLock(const CheckpointLock&) = delete;
  CheckpointLock& operator=(const CheckpointLock&) = delete;

 private:
  int fd_ = -1;
};

// The folder name of the checkpoint before step `next_step` + 1: "step-00000012".
std::string checkpoint_step_name(int64_t next_step);

}  // namespace planner::executor
