#include "planner/search.h"

#include <algorithm>

namespace planner {

std::vector<int64_t> divisors(int64_t n) {
  std::vector<int64_t> small, large;
  for (int64_t i = 1; i * i <= n; ++i) {
    if (n % i == 0) {
      small.push_back(i);
      if (i != n / i) large.push_back(n / i);
    }
  }
  small.insert(small.end(), large.rbegin(), large.rend());
  return small;
}

bool better(const Candidate& a, const Candidate& b) {
  // A plan that fits only without the allocator reserve ranks after every plan that fits with it.
  const bool tight_a = a.prediction.memory.tight(), tight_b = b.prediction.memory.tight();
  if (tight_a != tight_b) return tight_b;
  const double ta = a.prediction.throughput.tokens_per_s, tb = b.prediction.throughput.tokens_per_s;
  if (ta != tb) return ta > tb;
  return a.prediction.memory.total_bytes() < b.prediction.memory.total_bytes();
}

// "Nearer to fitting": memory-infeasible beats malformed; among memory, the smaller excess.
static bool closer(const Candidate& a, const Candidate& b) {
  const bool am = a.limit == Limit::memory, bm = b.limit == Limit::memory;
  if (am != bm) return am;
  if (am) return a.memory_excess_bytes < b.memory_excess_bytes;
  return false;
}

PlanSearchResult search_plans(const Simulator& sim, const SearchSpace& space, size_t keep_top) {
  PlanSearchResult r;
  const int64_t world = sim.cluster().world();
  const int64_t gpn = sim.cluster().gpus_per_node;
  const int64_t auto_tp = std::min(gpn, world);
  for_each_plan(sim.training(), world, space, [&](const Plan& p) {
    Candidate c = sim.evaluate(p, /*explain=*/false);
    ++r.evaluated;
    if (r.splits.empty() || r.splits.back().tp != p.tp) {
      r.splits.push_back({});
      r.splits.back().dp = p.dp;
      r.splits.back().tp = p.tp;
    }
    SplitSummary& s = r.splits.back();
    ++s.evaluated;
    if (c.feasible()) {
      ++s.feasible;
      if (!s.best || better(c, *s.best)) s.best = c;
      if (p.tp == auto_tp && (!r.auto_choice || better(c, *r.auto_choice))) r.auto_choice = c;
      r.ranked.push_back(std::move(c));
    } else if (!s.closest || closer(c, *s.closest)) {
      s.closest = std::move(c);
    }
  });
  for (auto& s : r.splits)
    if (s.closest && s.closest->limit == Limit::memory) s.closest = sim.evaluate(s.closest->plan);  // with its reason
  std::sort(r.ranked.begin(), r.ranked.end(), better);
  if (keep_top > 0 && r.ranked.size() > keep_top) r.ranked.resize(keep_top);
  return r;
}

std::optional<Candidate> best_plan(const Simulator& sim, const SearchSpace& space, int64_t* evaluated) {
  std::optional<Candidate> best;
  int64_t n = 0;
  for_each_plan(sim.training(), sim.cluster().world(), space, [&](const Plan& p) {
    Candidate c = sim.evaluate(p, /*explain=*/false);
    ++n;
    if (c.feasible() && (!best || better(c, *best))) best = std::move(c);
  });
  if (evaluated) *evaluated += n;
  return best;
}

}  // namespace planner
