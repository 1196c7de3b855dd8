// Enumerate every (dp, tp) split of a world size with every knob, evaluate each with the
// simulator, keep infeasible candidates with their reason, rank the rest by predicted throughput.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "simulator/simulator.h"

namespace planner {

// Which values each knob may take. An empty list means "search all".
struct SearchSpace {
  std::vector<int64_t> tps;            // default: every divisor of the world size
  std::vector<int64_t> micro_batches;  // default: divisors of global_batch / dp up to max_micro_batch
  std::vector<ActivationCheckpointing> acs;  // default: none, selective, full
  std::vector<bool> sequence_parallel;       // default: off, on (on only when tp > 1)
  std::vector<bool> reshard_after_forward;   // default: on, off
  std::vector<GradSync> grad_syncs;          // default: every, last (last only when grad_accum > 1)
  int64_t max_micro_batch = 64;
};

// The best candidate of one (dp, tp) split, or why none of its knob settings fits.
struct SplitSummary {
  int64_t dp = 0, tp = 0;
  int64_t evaluated = 0;
  int64_t feasible = 0;
  std::optional<Candidate> best;       // best feasible
  std::optional<Candidate> closest;    // when none is feasible: the one nearest to fitting
};

struct PlanSearchResult {
  std::vector<Candidate> ranked;      // feasible, best first (tokens/s, then lower memory)
  std::vector<SplitSummary> splits;   // one per (dp, tp), tp ascending
  std::optional<Candidate> auto_choice;  // Lightning "auto": tp = GPUs per node, dp = nodes
  int64_t evaluated = 0;
};

std::vector<int64_t> divisors(int64_t n);
// Calls fn(plan) for every plan of the search space at world size `world`.
template <typename Fn>
void for_each_plan(const TrainingSpec& t, int64_t world, const SearchSpace& space, Fn&& fn);

// `keep_top`: how many ranked candidates to keep (0 = all).
PlanSearchResult search_plans(const Simulator& sim, const SearchSpace& space, size_t keep_top = 0);

// Fast path for sizing: only the best feasible candidate (nullopt if none); counts evaluations.
std::optional<Candidate> best_plan(const Simulator& sim, const SearchSpace& space, int64_t* evaluated);

// Ordering used everywhere: higher tokens/s first, then lower peak memory.
bool better(const Candidate& a, const Candidate& b);

}  // namespace planner

#include "planner/search_inl.h"
