// AdamW on this rank's FSDP shards (fp32 exp_avg, exp_avg_sq on the shard), torch.optim.AdamW's
// formula, the decay applied to every parameter.
#pragma once
#include <cstdint>

#include "executor/fsdp.h"

namespace planner::executor {

struct AdamWConfig {
  double lr = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
};

// Step t (from 1) on unit u's shard with its sharded gradient (zero when none arrived); frees the
// gradient afterwards, as FSDP sets it to None.
void adamw_step(Unit& u, const AdamWConfig& a, int64_t t);

}  // namespace planner::executor
