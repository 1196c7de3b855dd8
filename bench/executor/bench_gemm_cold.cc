// The GEMMs `planner calibrate` times, on one thread, with operands hot (the same two tensors
// every call, so they stay in cache) and cold (each call the next slot of ColdOperands' 128 MiB
// pool, as calibrate now times them). The ratio is how much a cache-hot calibration
// under-prices a training step's GEMMs, whose weights and saved activations come from memory.
//   bench_gemm_cold [--model llama-tiny] [--tokens 64] [Google Benchmark flags]
// Run it pinned to one core (taskset -c 0) with nothing else running.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/model_spec.h"
#include "executor/blas.h"
#include "executor/measure.h"
#include "executor/cold_operands.h"

namespace {

using planner::executor::ColdOperands;
using planner::executor::GemmSample;

void gemm(benchmark::State& state, GemmSample g, bool cold) {
  at::NoGradGuard ng;
  const int64_t na = g.m * g.k, nb = g.k * g.n;
  ColdOperands pool(at::TensorOptions().dtype(at::kFloat));
  int64_t i = 0;
  for (auto _ : state) {
    const int64_t slot = cold ? i++ : 0;
    at::Tensor c = at::mm(pool.take(slot, na + nb, 0, {g.m, g.k}), pool.take(slot, na + nb, na, {g.k, g.n}));
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * g.m * g.n * g.k * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "llama-tiny";
  int64_t tokens = 64;
  std::vector<char*> rest{argv[0]};
  for (int a = 1; a < argc; ++a) {
    if (!std::strcmp(argv[a], "--model") && a + 1 < argc) {
      model = argv[++a];
    } else if (!std::strcmp(argv[a], "--tokens") && a + 1 < argc) {
      tokens = std::stoll(argv[++a]);
    } else {
      rest.push_back(argv[a]);
    }
  }
  at::set_num_threads(1);
  planner::executor::set_blas_threads(1);  // OpenBLAS's own pool, which at::set_num_threads misses
  try {
    const planner::ModelSpec m = planner::resolve_model(model, "--model");
    std::vector<std::string> seen;
    for (const auto& g : planner::executor::model_gemm_shapes(m, 1, tokens)) {
      const std::string name = std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k);
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;  // wq and wo share a shape
      seen.push_back(name);
      benchmark::RegisterBenchmark(("gemm/" + name + "/hot").c_str(), gemm, g, false)->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("gemm/" + name + "/cold").c_str(), gemm, g, true)->Unit(benchmark::kMicrosecond);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
