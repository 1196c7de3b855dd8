#include "planner/suggest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.h"

namespace planner {

namespace {

// Some tp that divides the world and the model's sharded dims leaves a dp dividing the batch.
bool batch_splits_evenly(const ModelSpec& m, const TrainingSpec& t, int64_t world) {
  for (int64_t tp : divisors(world)) {
    const bool shards = m.kind == ModelKind::llama ? m.n_kv_heads % tp == 0 && m.n_heads % tp == 0
                                                   : m.ffn_hidden % tp == 0 && m.dim % tp == 0;
    if (shards && t.global_batch % (world / tp) == 0) return true;
  }
  return false;
}

SizePoint evaluate_size(const ModelSpec& model, const TrainingSpec& training, const ClusterSpec& node,
                        const SearchSpace& space, const SuggestGoal& goal, int64_t nodes, int64_t* evaluated) {
  ClusterSpec c = node;
  c.num_nodes = nodes;
  SizePoint pt;
  pt.nodes = nodes;
  pt.gpus = c.world();
  Simulator sim(model, training, c);
  pt.best = best_plan(sim, space, evaluated);
  if (!pt.best) {
    // Say why: the nearest candidate of a full search at this size.
    PlanSearchResult r = search_plans(sim, space, 1);
    *evaluated += r.evaluated;
    const Candidate* nearest = nullptr;
    for (const auto& s : r.splits)
      if (s.closest && (!nearest || (s.closest->limit == Limit::memory &&
                                     (nearest->limit != Limit::memory ||
                                      s.closest->memory_excess_bytes < nearest->memory_excess_bytes))))
        nearest = &*s.closest;
    pt.why_none = nearest ? plan_label(nearest->plan) + ": " + nearest->reason : "no candidate";
    return pt;
  }
  const double tps = pt.best->prediction.throughput.tokens_per_s;
  pt.days = goal.token_budget / tps / 86400.0;
  pt.gpu_hours = pt.days * 24.0 * static_cast<double>(pt.gpus);
  pt.cost = pt.gpu_hours * goal.price_per_gpu_hour;
  pt.meets_deadline = goal.deadline_days <= 0 || pt.days <= goal.deadline_days;
  return pt;
}

}  // namespace

SuggestResult suggest_cluster(const ModelSpec& model, const TrainingSpec& training, const ClusterSpec& node,
                              const SearchSpace& space, const SuggestGoal& goal) {
  PLANNER_CHECK(goal.token_budget > 0, "token_budget=" << goal.token_budget);
  const int64_t gpn = node.gpus_per_node;
  int64_t min_nodes = std::max<int64_t>(1, (goal.min_gpus + gpn - 1) / gpn);
  int64_t max_nodes = std::max<int64_t>(min_nodes, goal.max_gpus / gpn);
  if (goal.max_nodes > 0) max_nodes = std::min(max_nodes, goal.max_nodes);
  if (min_nodes > max_nodes) min_nodes = max_nodes;

  std::vector<int64_t> grid;
  for (int64_t p = 1; p <= max_nodes; p *= 2) {
    for (int64_t n : {p, p + p / 2})
      if (n >= min_nodes && n <= max_nodes && (grid.empty() || grid.back() != n)) grid.push_back(n);
  }
  if (grid.empty() || grid.front() != min_nodes) grid.insert(grid.begin(), min_nodes);
  if (grid.back() != max_nodes) grid.push_back(max_nodes);
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());

  SuggestResult r;
  std::map<int64_t, SizePoint> points;
  for (int64_t n : grid) points[n] = evaluate_size(model, training, node, space, goal, n, &r.evaluated);

  // Refine: every node count between the largest grid size that misses the deadline and the
  // smallest that meets it (bounded: at most 64 extra sizes, evenly spaced).
  if (goal.deadline_days > 0) {
    int64_t lo = 0, hi = 0;
    for (const auto& [n, pt] : points) {
      if (pt.best && pt.meets_deadline) {
        hi = n;
        break;
      }
      lo = n;
    }
    if (hi > 0 && lo > 0 && hi - lo > 1) {
      const int64_t step = std::max<int64_t>(1, (hi - lo - 1) / 64);
      for (int64_t n = lo + 1; n < hi; n += step) {
        if (batch_splits_evenly(model, training, n * gpn))
          points[n] = evaluate_size(model, training, node, space, goal, n, &r.evaluated);
        else  // no dp can split the batch over this size: listed, not priced
          r.skipped_nodes.push_back(n);
      }
      if (!r.skipped_nodes.empty())
        r.skipped_reason = "no split of their GPUs into dp x tp has a dp dividing global_batch " +
                           std::to_string(training.global_batch);
    }
  }

  double best_per_gpu = 0;
  for (const auto& [n, pt] : points)
    if (pt.best) best_per_gpu = std::max(best_per_gpu, pt.best->prediction.throughput.tokens_per_s_per_gpu);
  for (auto& [n, pt] : points) {
    if (pt.best) pt.scaling_efficiency = pt.best->prediction.throughput.tokens_per_s_per_gpu / best_per_gpu;
    r.sweep.push_back(std::move(pt));
  }
  {
    const PrecisionBytes b = precision_bytes(training);
    const double state_bytes = static_cast<double>(parameter_count(model)) *
                               (b.master_param + b.grad + 2.0 * b.optimizer_state);
    const double usable = node.device.memory_bytes - node.runtime_reserved_bytes;
    if (usable > 0) r.min_gpus_for_states = static_cast<int64_t>(std::ceil(state_bytes / usable));
  }

  // Recommendation.
  const bool by_cost = goal.minimize_cost && goal.price_per_gpu_hour > 0;
  for (size_t i = 0; i < r.sweep.size(); ++i) {
    const SizePoint& p = r.sweep[i];
    if (!p.best || !p.meets_deadline) continue;
    if (!r.recommended) {
      r.recommended = i;
      if (!by_cost) break;
    } else if (p.cost < r.sweep[*r.recommended].cost) {
      r.recommended = i;
    }
  }
  char buf[1024];
  if (r.recommended) {
    const SizePoint& p = r.sweep[*r.recommended];
    std::snprintf(buf, sizeof buf, "%s: %lld nodes (%lld GPUs), %s, %.1f days, %.0f GPU-hours%s",
                  by_cost ? "cheapest cluster that meets the goal" : "smallest cluster that meets the goal",
                  (long long)p.nodes, (long long)p.gpus, plan_label(p.best->plan).c_str(), p.days, p.gpu_hours,
                  goal.price_per_gpu_hour > 0 ? (", cost " + std::to_string(static_cast<long long>(std::llround(p.cost)))).c_str() : "");
    r.verdict = buf;
  } else {
    const SizePoint* fastest = nullptr;
    for (const auto& p : r.sweep)
      if (p.best && (!fastest || p.days < fastest->days)) fastest = &p;
    if (fastest) {
      std::snprintf(buf, sizeof buf,
                    "no size up to %lld nodes meets the deadline of %.1f days; the fastest, %lld nodes, needs %.1f days",
                    (long long)max_nodes, goal.deadline_days, (long long)fastest->nodes, fastest->days);
    } else {
      const int64_t need_nodes = (r.min_gpus_for_states + gpn - 1) / gpn;
      const std::string hint =
          need_nodes > max_nodes
              ? "; its weights, gradients and AdamW states alone need at least " +
                    std::to_string(r.min_gpus_for_states) + " GPUs (" + std::to_string(need_nodes) +
                    " nodes): raise --max-gpus/--max-nodes"
              : "; the states fit from " + std::to_string(r.min_gpus_for_states) +
                    " GPUs, the activations do not: try --ac full or a smaller --seq-len";
      std::snprintf(buf, sizeof buf, "no size from %lld to %lld nodes can train this model: %s%s", (long long)min_nodes,
                    (long long)max_nodes, r.sweep.empty() ? "" : r.sweep.back().why_none.c_str(), hint.c_str());
    }
    r.verdict = buf;
  }
  return r;
}

}  // namespace planner
