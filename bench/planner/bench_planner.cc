// Speed of the cost model and the search (issue 2 targets: >= 1M split evaluations per second;
// `planner suggest` over 8 to 16,384 GPUs with every knob searched in under 1 s on one core).
// Run: build/bench/planner/bench_planner --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "planner/search.h"
#include "planner/suggest.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {

Simulator make_sim(const std::string& model, int64_t nodes) {
  ClusterSpec c = resolve_cluster("h100-sxm");
  c.num_nodes = nodes;
  ModelSpec m = resolve_model(model);
  TrainingSpec t;
  t.seq_len = 8192;
  t.global_batch = 512;
  return Simulator(m, t, c);
}

// One candidate of Llama-3-70B (or 405B) on 4 nodes, as the search evaluates it (no reason text
// formatted); the plan cycles through every split and knob so no branch is always taken.
void BM_EvaluateCandidate(benchmark::State& state) {
  Simulator sim = make_sim(state.range(0) == 0 ? "llama3-70b" : "llama3-405b", 4);
  std::vector<Plan> plans;
  for_each_plan(sim.training(), sim.cluster().world(), SearchSpace{}, [&](const Plan& p) { plans.push_back(p); });
  size_t i = 0;
  for (auto _ : state) {
    Candidate c = sim.evaluate(plans[i], /*explain=*/false);
    benchmark::DoNotOptimize(c.prediction.time.step_s);
    if (++i == plans.size()) i = 0;
  }
  state.counters["evals_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EvaluateCandidate)->Arg(0)->Arg(1)->ArgName("405b");

// `planner plan`: every split and knob of Llama-3-70B on 4 nodes.
void BM_SearchPlans(benchmark::State& state) {
  Simulator sim = make_sim("llama3-70b", 4);
  int64_t evaluated = 0;
  for (auto _ : state) {
    PlanSearchResult r = search_plans(sim, SearchSpace{}, 10);
    evaluated = r.evaluated;
    benchmark::DoNotOptimize(r.ranked.data());
  }
  state.counters["candidates"] = static_cast<double>(evaluated);
  state.counters["evals_per_s"] =
      benchmark::Counter(static_cast<double>(evaluated * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SearchPlans)->Unit(benchmark::kMillisecond);

// `planner suggest` for Llama-3-405B on 8 to 16,384 H100s, every knob searched.
void BM_Suggest(benchmark::State& state) {
  ClusterSpec node = resolve_cluster("h100-sxm");
  ModelSpec m = resolve_model("llama3-405b");
  TrainingSpec t;
  t.seq_len = 8192;
  t.global_batch = 2048;
  SuggestGoal g;
  g.token_budget = 15.6e12;
  g.deadline_days = 60;
  g.price_per_gpu_hour = 2.5;
  g.min_gpus = 8;
  g.max_gpus = 16384;
  int64_t evaluated = 0;
  for (auto _ : state) {
    SuggestResult r = suggest_cluster(m, t, node, SearchSpace{}, g);
    evaluated = r.evaluated;
    benchmark::DoNotOptimize(r.sweep.data());
  }
  state.counters["candidates"] = static_cast<double>(evaluated);
  state.counters["evals_per_s"] =
      benchmark::Counter(static_cast<double>(evaluated * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Suggest)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace planner
