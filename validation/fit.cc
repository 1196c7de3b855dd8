#include "validation/fit.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "simulator/collectives.h"

namespace planner::validation {

LinearFit fit_relative_least_squares(const std::vector<double>& X, const std::vector<double>& y, int cols) {
  const int rows = static_cast<int>(y.size());
  PLANNER_CHECK(cols >= 1 && rows >= cols && static_cast<int>(X.size()) == rows * cols,
                "rows=" << rows << " cols=" << cols << " X=" << X.size());
  for (double v : y) PLANNER_CHECK(v > 0, "measured value " << v << " must be > 0");
  // Row i divided by y_i: minimise |A b - 1|^2 with A_ij = X_ij / y_i.
  Eigen::MatrixXd A(rows, cols);
  Eigen::VectorXd ones = Eigen::VectorXd::Ones(rows);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) A(i, j) = X[static_cast<size_t>(i) * cols + j] / y[i];
  std::vector<bool> active(cols, true);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(cols);
  for (int iter = 0; iter <= cols; ++iter) {
    std::vector<int> idx;
    for (int j = 0; j < cols; ++j)
      if (active[j]) idx.push_back(j);
    b.setZero();
    if (idx.empty()) break;
    Eigen::MatrixXd As(rows, static_cast<int>(idx.size()));
    for (size_t j = 0; j < idx.size(); ++j) As.col(static_cast<int>(j)) = A.col(idx[j]);
    Eigen::VectorXd bs = As.colPivHouseholderQr().solve(ones);
    for (size_t j = 0; j < idx.size(); ++j) b(idx[j]) = bs(static_cast<int>(j));
    // Pin the most negative coefficient to zero and refit.
    int worst = -1;
    for (int j : idx)
      if (b(j) < 0 && (worst < 0 || b(j) < b(worst))) worst = j;
    if (worst < 0) break;
    active[worst] = false;
  }
  LinearFit f;
  f.coef.resize(cols);
  for (int j = 0; j < cols; ++j) f.coef[j] = std::max(0.0, b(j));
  double ss = 0;
  for (int i = 0; i < rows; ++i) {
    double p = 0;
    for (int j = 0; j < cols; ++j) p += X[static_cast<size_t>(i) * cols + j] * f.coef[j];
    f.predicted.push_back(p);
    const double r = (p - y[i]) / y[i];
    f.residual_rel.push_back(r);
    ss += r * r;
    f.max_abs_rel = std::max(f.max_abs_rel, std::fabs(r));
  }
  f.rms_rel = std::sqrt(ss / rows);
  return f;
}

// y = c0 + x * b: when noise pins b to 0, b is set from the best rate seen (b = min y/x) and c0
// refitted alone, so the profile stays usable and its residuals show the misfit.
static void refit_with_best_rate(LinearFit& f, const std::vector<double>& X, const std::vector<double>& y) {
  if (f.coef[1] > 0) return;
  double b = 0;
  for (size_t i = 0; i < y.size(); ++i)
    if (X[2 * i + 1] > 0) b = b == 0 ? y[i] / X[2 * i + 1] : std::min(b, y[i] / X[2 * i + 1]);
  PLANNER_CHECK(b > 0, "samples carry no work");
  std::vector<double> X1, y1;
  for (size_t i = 0; i < y.size(); ++i) {
    X1.push_back(1.0);
    y1.push_back(std::max(y[i] - X[2 * i + 1] * b, 0.1 * y[i]));
  }
  LinearFit f1 = fit_relative_least_squares(X1, y1, 1);
  f.coef = {f1.coef[0], b};
  double ss = 0;
  f.max_abs_rel = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    f.predicted[i] = f.coef[0] + X[2 * i + 1] * b;
    f.residual_rel[i] = (f.predicted[i] - y[i]) / y[i];
    ss += f.residual_rel[i] * f.residual_rel[i];
    f.max_abs_rel = std::max(f.max_abs_rel, std::fabs(f.residual_rel[i]));
  }
  f.rms_rel = std::sqrt(ss / static_cast<double>(y.size()));
}

static double gemm_flops(const GemmSample& s) {
  return 2.0 * static_cast<double>(s.batch) * static_cast<double>(s.m) * static_cast<double>(s.n) *
         static_cast<double>(s.k);
}

GemmFit fit_gemm(const std::vector<GemmSample>& samples, double peak_flops_per_s) {
  if (samples.size() < 2) throw InputError("calibration", "gemm", "needs at least 2 GEMM samples, got " + std::to_string(samples.size()));
  PLANNER_CHECK(peak_flops_per_s > 0, "peak " << peak_flops_per_s);
  std::vector<double> X, y;
  for (const auto& s : samples) {
    X.push_back(1.0);
    X.push_back(gemm_flops(s));
    y.push_back(s.seconds);
  }
  GemmFit g;
  g.fit = fit_relative_least_squares(X, y, 2);
  refit_with_best_rate(g.fit, X, y);
  g.overhead_s = g.fit.coef[0];
  g.rate_flops_per_s = 1.0 / g.fit.coef[1];
  g.efficiency = g.rate_flops_per_s / peak_flops_per_s;
  return g;
}

GemmFit fit_attention(const std::vector<GemmSample>& samples, double peak_flops_per_s) {
  if (samples.empty()) throw InputError("calibration", "attention", "needs at least 1 attention sample");
  std::vector<double> X, y;
  for (const auto& s : samples) {
    X.push_back(gemm_flops(s));
    y.push_back(s.seconds);
  }
  GemmFit g;
  g.fit = fit_relative_least_squares(X, y, 1);
  PLANNER_CHECK(g.fit.coef[0] > 0, "attention fit found no FLOP-proportional time");
  g.rate_flops_per_s = 1.0 / g.fit.coef[0];
  g.efficiency = g.rate_flops_per_s / peak_flops_per_s;
  return g;
}

MemoryFit fit_memory(const std::vector<MemorySample>& samples) {
  if (samples.size() < 2) throw InputError("calibration", "memory", "needs at least 2 memory-kernel samples");
  std::vector<double> X, y;
  for (const auto& s : samples) {
    X.push_back(1.0);
    X.push_back(s.bytes);
    y.push_back(s.seconds);
  }
  MemoryFit m;
  m.fit = fit_relative_least_squares(X, y, 2);
  refit_with_best_rate(m.fit, X, y);
  m.overhead_s = m.fit.coef[0];
  m.bw_Bps = 1.0 / m.fit.coef[1];
  return m;
}

double hidden_fraction(const OverlapSample& s) {
  if (s.alone_s <= 0) return 0.0;
  return std::clamp((s.compute_s + s.alone_s - s.overlapped_s) / s.alone_s, 0.0, 1.0);
}

CollectiveTerms collective_terms(const CollectiveSample& s, const std::string& backend, double mem_bw_Bps) {
  // The simulator's one table of collectives (simulator/collectives.h): the fit finds alpha and B
  // of the very formula the simulator prices with.
  const CollectiveKind kind = s.kind == FitCollective::all_gather       ? CollectiveKind::all_gather
                              : s.kind == FitCollective::reduce_scatter ? CollectiveKind::reduce_scatter
                                                                        : CollectiveKind::all_reduce;
  const CollectiveAlgorithm a = ring_algorithm(kind, s.group_size);
  CollectiveTerms t;
  t.steps = a.steps;
  t.bus_bytes = a.bus_factor * s.bytes;
  // Gloo: all_to_all then a local sum reading the input and writing 1/n of it.
  if (kind == CollectiveKind::reduce_scatter && backend == "gloo")
    t.extra_s = gloo_local_sum_bytes(s.group_size, s.bytes) / mem_bw_Bps;
  return t;
}

AlphaBetaFit fit_alpha_beta(const std::vector<CollectiveSample>& samples, const std::string& backend, double mem_bw_Bps) {
  if (samples.size() < 2) throw InputError("calibration", "collectives", "needs at least 2 collective samples");
  std::vector<double> X, y;
  std::vector<double> extra;
  for (const auto& s : samples) {
    CollectiveTerms t = collective_terms(s, backend, mem_bw_Bps);
    X.push_back(t.steps);
    X.push_back(t.bus_bytes);
    // The extra (local sum) is known: fit the rest. A sample faster than its extra alone is
    // floored at 10% of its time so the relative weighting stays defined.
    y.push_back(std::max(s.seconds - t.extra_s, 0.1 * s.seconds));
    extra.push_back(t.extra_s);
  }
  AlphaBetaFit a;
  a.fit = fit_relative_least_squares(X, y, 2);
  if (a.fit.coef[1] <= 0) {
    // Noise hid any growth with the size (a busy machine, small messages only): the bandwidth is
    // at least the best throughput seen; fix it there and refit the latency alone.
    double best_Bps = 0;
    for (size_t i = 0; i < samples.size(); ++i) best_Bps = std::max(best_Bps, X[2 * i + 1] / y[i]);
    PLANNER_CHECK(best_Bps > 0, "collective samples carry no bytes");
    std::vector<double> X1, y1;
    for (size_t i = 0; i < samples.size(); ++i) {
      X1.push_back(X[2 * i]);
      y1.push_back(std::max(y[i] - X[2 * i + 1] / best_Bps, 0.1 * y[i]));
    }
    LinearFit f1 = fit_relative_least_squares(X1, y1, 1);
    a.fit.coef = {f1.coef[0], 1.0 / best_Bps};
    for (size_t i = 0; i < samples.size(); ++i) a.fit.predicted[i] = X[2 * i] * f1.coef[0] + X[2 * i + 1] / best_Bps;
    a.bandwidth_from_best_sample = true;
  }
  a.latency_s = a.fit.coef[0];
  a.bw_Bps = 1.0 / a.fit.coef[1];
  // Report residuals of the whole formula (extra included) against the measured time.
  double ss = 0;
  a.fit.max_abs_rel = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    a.fit.predicted[i] += extra[i];
    const double r = (a.fit.predicted[i] - samples[i].seconds) / samples[i].seconds;
    a.fit.residual_rel[i] = r;
    ss += r * r;
    a.fit.max_abs_rel = std::max(a.fit.max_abs_rel, std::fabs(r));
  }
  a.fit.rms_rel = std::sqrt(ss / static_cast<double>(samples.size()));
  return a;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace planner::validation
