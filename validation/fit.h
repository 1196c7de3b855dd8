// The least-squares fits of `planner calibrate` (Eigen): the simulator's parameters from the
// executor's samples (executor/samples.h). docs/calibration.md.
//
// The fits (pure functions, unit-tested on synthetic data) minimise the sum of squared *relative*
// residuals ((model - measured) / measured), so a 4 KiB all_reduce counts as much as a 4 MiB one:
//   GEMM:        t = overhead_s + 2mnk / (peak_flops * gemm)               -> gemm, gemm_overhead_s
//   attention:   t = flops / (peak_flops * attention)                      -> attention
//   memory:      t = c0 + bytes / bw                                       -> memory (bw / mem_bw_Bps)
//   collectives: t - extra = steps(kind, n) * alpha + busfactor(kind, n) * bytes / B
//                (the simulator's ring formulas, simulator/collectives.h; extra = Gloo's local sum
//                after its all_to_all reduce_scatter, priced at the fitted memory bandwidth)
// A coefficient the data drive negative is pinned to 0 and the rest refitted (non-negative fit).
#pragma once
#include <string>
#include <vector>

#include "executor/samples.h"

namespace planner::validation {

using executor::CollectiveSample;
using executor::FitCollective;
using executor::GemmSample;
using executor::MemorySample;
using executor::OverlapSample;

struct LinearFit {
  std::vector<double> coef;          // one per column; >= 0
  std::vector<double> predicted;     // per sample
  std::vector<double> residual_rel;  // (predicted - measured) / measured, per sample
  double rms_rel = 0;                // sqrt(mean(residual_rel^2))
  double max_abs_rel = 0;
};
// Minimises sum_i ((X_i . b - y_i) / y_i)^2 subject to b >= 0 (active set on the few columns).
// X is row-major, rows = y.size(), cols = X.size() / rows. Every y_i must be > 0.
LinearFit fit_relative_least_squares(const std::vector<double>& X, const std::vector<double>& y, int cols);

struct GemmFit {
  double efficiency = 0;     // of peak_flops_per_s
  double overhead_s = 0;
  double rate_flops_per_s = 0;  // peak * efficiency
  LinearFit fit;
};
GemmFit fit_gemm(const std::vector<GemmSample>& samples, double peak_flops_per_s);
// Attention matmuls (batched, no per-call overhead in the simulator): t = flops / (peak * eff).
GemmFit fit_attention(const std::vector<GemmSample>& samples, double peak_flops_per_s);

struct MemoryFit {
  double bw_Bps = 0;
  double overhead_s = 0;
  LinearFit fit;
};
MemoryFit fit_memory(const std::vector<MemorySample>& samples);

// The simulator's formula terms for one sample: t = steps * alpha + bus_bytes / B + extra_s.
struct CollectiveTerms {
  double steps = 0, bus_bytes = 0, extra_s = 0;
};
CollectiveTerms collective_terms(const CollectiveSample& s, const std::string& backend, double mem_bw_Bps);
struct AlphaBetaFit {
  double latency_s = 0;  // alpha, per ring step
  double bw_Bps = 0;     // B
  bool bandwidth_from_best_sample = false;  // the fit found no growth with size: B = best throughput
  LinearFit fit;
};
// Fits alpha and B over the samples given (one kind, or all of them for the link).
AlphaBetaFit fit_alpha_beta(const std::vector<CollectiveSample>& samples, const std::string& backend, double mem_bw_Bps);

// The part of an all-gather hidden behind compute issued after it (executor/samples.h,
// OverlapSample). The simulator's model of the overlap (simulator.cc, "gather"): the part (1 - h)
// of the all-gather runs on the compute stream when it is issued, the whole of it on the comm
// stream, so overlapped = max(compute + (1 - h) alone, alone) and
// h = (compute + alone - overlapped) / alone, clamped to [0, 1].
double hidden_fraction(const OverlapSample& s);

// The median of v (the mean of the middle two for an even count; 0 when empty).
double median(std::vector<double> v);

}  // namespace planner::validation
