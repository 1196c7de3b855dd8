// Cluster sizing (`planner suggest`): sweep node counts, take the best split at each size, and
// recommend the smallest (or cheapest) cluster that meets a token budget and a deadline.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/search.h"

namespace planner {

struct SuggestGoal {
  double token_budget = 0;        // tokens to train on (> 0)
  double deadline_days = 0;       // 0: no deadline
  int64_t max_nodes = 0;          // node budget; 0: up to max_gpus
  double price_per_gpu_hour = 0;  // 0: no cost shown
  bool minimize_cost = false;     // recommend the cheapest meeting the deadline (needs a price)
  int64_t min_gpus = 8;
  int64_t max_gpus = 16384;
};

struct SizePoint {
  int64_t nodes = 0;
  int64_t gpus = 0;
  std::optional<Candidate> best;  // best split at this size (nullopt: nothing fits)
  std::string why_none;           // when !best: the nearest candidate's reason
  double days = 0;                // token_budget / tokens_per_s
  double gpu_hours = 0;
  double cost = 0;                // gpu_hours * price
  // Per-GPU tokens/s relative to the best per-GPU rate of the sweep (at most 1): the smallest size
  // that fits is no baseline, memory pressure can make it the slowest per GPU.
  double scaling_efficiency = 0;
  bool meets_deadline = false;
};

struct SuggestResult {
  std::vector<SizePoint> sweep;     // ascending node count
  std::optional<size_t> recommended;  // index into sweep
  std::string verdict;              // one sentence: what to buy/rent, or why nothing works
  int64_t evaluated = 0;            // simulator evaluations
  // Node counts of the refinement left out because no (dp, tp) split divides the global batch.
  std::vector<int64_t> skipped_nodes;
  std::string skipped_reason;
  // Lower bound on GPUs from the sharded weights, gradients and AdamW states alone (before
  // activations): ceil(parameters x bytes per parameter / device memory).
  int64_t min_gpus_for_states = 0;
};

// Node counts tried: 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (powers of two and 1.5x powers of two),
// then every count between the last size that misses the deadline and the first that meets it
// (skipping counts where no dp divides the global batch).
SuggestResult suggest_cluster(const ModelSpec& model, const TrainingSpec& training, const ClusterSpec& node,
                              const SearchSpace& space, const SuggestGoal& goal);

}  // namespace planner
