// `planner calibrate`: measure this machine with the executor's own building blocks (the GEMMs of
// the models' Linear layers, a memory-bound kernel, the mesh's collectives through Comm) and fit
// the simulator's parameters by least squares (Eigen). docs/calibration.md.
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
#include <cstdint>
#include <string>
#include <vector>

#include "core/cluster_spec.h"
#include "core/json_io.h"
#include "core/model_spec.h"

namespace planner::executor {

class Comm;

// ---------------- Least squares ----------------
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

struct GemmSample {
  int64_t m = 0, n = 0, k = 0;  // C[m,n] = A[m,k] B[k,n]
  int64_t batch = 1;            // batched (attention): batch independent products
  double seconds = 0;
  std::string what;  // "llama-tiny tp=2 wq fwd"
};
struct GemmFit {
  double efficiency = 0;     // of peak_flops_per_s
  double overhead_s = 0;
  double rate_flops_per_s = 0;  // peak * efficiency
  LinearFit fit;
};
GemmFit fit_gemm(const std::vector<GemmSample>& samples, double peak_flops_per_s);
// Attention matmuls (batched, no per-call overhead in the simulator): t = flops / (peak * eff).
GemmFit fit_attention(const std::vector<GemmSample>& samples, double peak_flops_per_s);

struct MemorySample {
  double bytes = 0;  // read + written
  double seconds = 0;
};
struct MemoryFit {
  double bw_Bps = 0;
  double overhead_s = 0;
  LinearFit fit;
};
MemoryFit fit_memory(const std::vector<MemorySample>& samples);

enum class FitCollective { all_gather, reduce_scatter, all_reduce };
std::string to_string(FitCollective k);
struct CollectiveSample {
  FitCollective kind = FitCollective::all_reduce;
  int64_t group_size = 2;
  int64_t stride = 1;   // 1: consecutive ranks (TP groups); > 1: strided (DP groups)
  double bytes = 0;     // the logical buffer (executor/comm.h): all_gather output, reduce_scatter input
  double seconds = 0;
  int phase_gemms = 0;         // the compute phase every rank ran right before the call, in 256^3 GEMMs
  double after_compute_s = 0;  // that phase's measured time (the slowest rank's median)
};
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

// How much of an all-gather hides behind compute issued after it, as FSDP's prefetch does. Three
// timings of one group and size, each the slowest rank's median: compute_s, a compute phase alone;
// alone_s, the all-gather timed as in the table (after a compute phase); overlapped_s, the
// all-gather started, the same compute phase, then its wait. The simulator's model of the overlap
// (simulator.cc, "gather"): the part (1 - h) of the all-gather runs on the compute stream when it
// is issued, the whole of it on the comm stream, so overlapped = max(compute + (1 - h) alone,
// alone) and h = (compute + alone - overlapped) / alone, clamped to [0, 1].
struct OverlapSample {
  int64_t group_size = 2;
  int64_t stride = 1;
  double bytes = 0;  // the all-gather's output
  double compute_s = 0, alone_s = 0, overlapped_s = 0;
};
double hidden_fraction(const OverlapSample& s);

// ---------------- Host identity ----------------
struct HostIdentity {
  std::string hostname;
  std::string cpu_model;
  int64_t cores = 0;
  std::string accelerator;  // "" on CPU hosts; the CUDA device name under NCCL
};
HostIdentity this_host();
Json host_to_json(const HostIdentity& h);
HostIdentity host_from_json(const JsonReader& r);
// "" when same machine; otherwise which field differs, quoting both values.
std::string host_mismatch(const HostIdentity& profile, const HostIdentity& here);
// The side document next to a profile: "profile.json" -> "profile.calibration.json".
std::string calibration_doc_path(const std::string& profile_path);

// ---------------- The measurement ----------------
struct CalibrateOptions {
  int ranks = 2;
  std::string backend = "gloo";
  // The cluster the fits start from (its device peaks and inter-node link are kept): "" = this
  // host's CPU/Gloo profile; for GPUs a preset or `planner probe --as-cluster` file.
  std::string base_cluster;
  std::vector<std::string> models{"llama-tiny"};  // GEMM shapes of these models' Linear layers
  int64_t seq_len = 64;
  std::vector<int64_t> micro_batches{1};
  std::vector<double> message_bytes;  // collectives; empty: 4 KiB .. 16 MiB, x4
  int repeats = 9;                    // timed repetitions per point (median), after one warm-up
  int rounds = 3;                     // the repetitions split over this many passes over all points
  // The compute phases every rank runs before a collective sample, in 256^3 GEMMs: every kind,
  // group and size is timed after each. On a host with more ranks than cores the collective's
  // time grows with the compute before it (docs/calibration.md), so the profile carries one fit
  // per phase and the simulator interpolates at the compute before each of its collectives.
  std::vector<int> phase_gemms{0, 1, 2, 4};
  // A GEMM / kernel is repeated until a sample lasts this long. Long enough to span several
  // scheduler time slices (CFS gives each of 2 runnable tasks ~6 ms), so that on a host with more
  // ranks than cores the rate includes the time sharing that training's compute sees: with
  // 2 ms samples most ran unshared (GEMM residuals 27% rms), with 30 ms 6%.
  double min_time_s = 0.03;
  std::string out_path;               // the profile; the side document is calibration_doc_path(out)
  double run_timeout_s = 900;
  int threads_per_rank = 0;           // 0: as `planner train` (max(1, cores / ranks))
  std::string cpu_bind = "auto";      // as `planner train --cpu-bind`
  bool quiet = false;
  bool verbose = false;  // print every collective sample's residual (always in the document)
};
// The cluster the fits start from (vendor peaks for this host) and update.
ClusterSpec calibration_base_cluster(const CalibrateOptions& o);
// The fitted profile: base cluster with the fitted efficiency, memory bandwidth and intra-node link.
// eager_op_s > 0: the measured fixed cost of an eager op in training (efficiency.op_overhead_s);
// 0 keeps the GEMM fit's per-call overhead there.
struct CalibrationResult {
  ClusterSpec profile;
  Json document;  // "planner-calibration/1": host, raw samples, fits, residuals
};
CalibrationResult fit_calibration(const ClusterSpec& base, const HostIdentity& host,
                                  const std::vector<GemmSample>& gemms, const std::vector<GemmSample>& attention,
                                  const std::vector<MemorySample>& memory,
                                  const std::vector<CollectiveSample>& collectives, double eager_op_s = 0,
                                  const std::vector<OverlapSample>& overlaps = {});
// Launches o.ranks ranks, measures, fits, and writes the profile and its side document atomically
// (side document first; the profile's rename is the commit). Returns the launcher's exit code;
// nothing is written unless every rank finished.
int run_calibration(const CalibrateOptions& o);

// The GEMM shapes (m, n, k) the executor runs for a model at tp (forward, weight-grad, input-grad
// of each Linear, the output head included) and the attention score/context matmuls.
std::vector<GemmSample> model_gemm_shapes(const ModelSpec& m, int64_t tp, int64_t tokens);

// ---------------- The host's speed now ----------------
// Two of calibrate's own probes, timed the same way (every rank at once, cold operands, each sample
// at least min_time_s, the median of `repeats`): the eager-op probe and the given GEMM shapes.
// `planner train --speed-probe` runs it right before training and `planner validate` compares it
// with the calibration's samples of the same probes: on a shared machine whose speed changes over
// minutes it says how fast the host ran during a split against during the calibration.
struct SpeedProbe {
  double eager_op_s = 0;           // per kernel
  std::vector<GemmSample> gemms;   // seconds per call
};
// Runs on every rank of `world` (this rank's medians; the run record keeps the slowest rank's).
SpeedProbe probe_host_speed(Comm& world, const std::vector<GemmSample>& shapes, const std::string& backend,
                            int local_rank, int repeats = 3, double min_time_s = 0.03);
// Calibration time over probe time (> 1: the host ran faster than when calibrated), the geometric
// mean over the probes the calibration document also measured; 0 when it measured none of them.
double speed_vs_calibration(const Json& calibration_doc, const Json& probe);

}  // namespace planner::executor
