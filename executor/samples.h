// What the executor's measurements return (executor/measure.h), as plain values: the samples
// `planner calibrate` times on every rank, each the slowest rank's median in seconds, and the host
// they were taken on. No LibTorch here, so that validation/ fits them (validation/fit.h) in builds
// without it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace planner::executor {

struct GemmSample {
  int64_t m = 0, n = 0, k = 0;  // C[m,n] = A[m,k] B[k,n]
  int64_t batch = 1;            // batched (attention): batch independent products
  double seconds = 0;
  std::string what;  // "llama-tiny tp=2 wq fwd"
};

struct MemorySample {
  double bytes = 0;  // read + written
  double seconds = 0;
};

enum class FitCollective { all_gather, reduce_scatter, all_reduce };
inline std::string to_string(FitCollective k) {
  switch (k) {
    case FitCollective::all_gather: return "all_gather";
    case FitCollective::reduce_scatter: return "reduce_scatter";
    case FitCollective::all_reduce: return "all_reduce";
  }
  return "?";
}

struct CollectiveSample {
  FitCollective kind = FitCollective::all_reduce;
  int64_t group_size = 2;
  int64_t stride = 1;   // 1: consecutive ranks (TP groups); > 1: strided (DP groups)
  double bytes = 0;     // the logical buffer (executor/comm.h): all_gather output, reduce_scatter input
  double seconds = 0;
  int phase_gemms = 0;         // the compute phase every rank ran right before the call, in 256^3 GEMMs
  double after_compute_s = 0;  // that phase's measured time (the slowest rank's median)
};

// How much of an all-gather hides behind compute issued after it, as FSDP's prefetch does. Three
// timings of one group and size, each the slowest rank's median: compute_s, a compute phase alone;
// alone_s, the all-gather timed as in the table (after a compute phase); overlapped_s, the
// all-gather started, the same compute phase, then its wait (validation/fit.h: hidden_fraction).
struct OverlapSample {
  int64_t group_size = 2;
  int64_t stride = 1;
  double bytes = 0;  // the all-gather's output
  double compute_s = 0, alone_s = 0, overlapped_s = 0;
};

struct HostIdentity {
  std::string hostname;
  std::string cpu_model;
  int64_t cores = 0;
  std::string accelerator;  // "" on CPU hosts; the CUDA device name under NCCL
};

// One calibration's measurements: every point with the slowest rank's median (a step waits for
// its slowest rank). Before the run (executor::plan_measurement) the same points with seconds 0.
struct CalibrationSamples {
  HostIdentity host;         // cores: the CPUs the launcher could use (a rank may be bound to fewer)
  int threads_per_rank = 0;  // intra-op threads each rank ran with
  std::vector<GemmSample> gemms, attention;
  // The same GEMM shapes in bf16 (calibrate --precision bf16-mixed or bf16; else empty).
  std::vector<GemmSample> gemms_bf16;
  std::vector<MemorySample> memory;
  std::vector<CollectiveSample> collectives;
  std::vector<OverlapSample> overlaps;
  double eager_op_s = 0;  // the eager-op probe, seconds per kernel (0: not measured)
};

}  // namespace planner::executor
