// `planner calibrate`'s measurements, with the executor's own building blocks: the GEMMs of the
// models' Linear layers, a memory-bound kernel, the eager-op probe and the mesh's collectives
// through Comm, timed on every rank at once. It returns samples (executor/samples.h); the fits
// and the profile are validation/'s (validation/calibration.h). docs/calibration.md.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/model_spec.h"
#include "executor/samples.h"

namespace planner::executor {

class Comm;

// This machine: hostname, CPU model (/proc/cpuinfo), the cores this process may run on.
HostIdentity this_host();

struct MeasureOptions {
  int ranks = 2;
  std::string backend = "gloo";
  std::vector<std::string> models{"llama-tiny"};  // GEMM shapes of these models' Linear layers
  int64_t seq_len = 64;
  std::vector<int64_t> micro_batches{1};
  // What the profile will price (core/training_spec.h names): under bf16-mixed or bf16 the GEMMs
  // are also timed in bf16, which fits the device's bf16 peak (docs/calibration.md).
  std::string precision = "fp32";
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
  double run_timeout_s = 900;
  int threads_per_rank = 0;           // 0: as `planner train` (max(1, cores / ranks))
  std::string cpu_bind = "auto";      // as `planner train --cpu-bind`
  bool quiet = false;                 // no progress line
};

// The points run_measurement times, seconds 0: the GEMM and attention shapes of o.models at every
// tp dividing o.ranks, the memory-bound kernel's sizes, every collective kind over the mesh's
// groups (consecutive and strided) at every size and compute phase, the overlap samples.
// InputError on bad options or a bad model, before any rank starts.
CalibrationSamples plan_measurement(const MeasureOptions& o);

// Launches o.ranks local ranks and times every point of `work` on all of them at once. Rank 0
// gathers the slowest rank's median of each point, this host and the threads per rank, and hands
// them to on_samples in its own process (before any rank exits); what that returns is rank 0's
// exit code. Returns the launcher's exit code: 0 when every rank finished.
int run_measurement(const MeasureOptions& o, const CalibrationSamples& work,
                    const std::function<int(const CalibrationSamples&)>& on_samples);

// The GEMM shapes (m, n, k) the executor runs for a model at tp (forward, weight-grad, input-grad
// of each Linear, the output head included) and the attention score/context matmuls.
std::vector<GemmSample> model_gemm_shapes(const ModelSpec& m, int64_t tp, int64_t tokens);

// ---------------- The host's speed now ----------------
// Two of calibrate's own probes, timed the same way (every rank at once, cold operands, each sample
// at least min_time_s, the median of `repeats`): the eager-op probe and the given GEMM shapes.
// `planner train --speed-probe` runs it right before training and `planner validate` compares it
// with the calibration's samples of the same probes (validation/calibration.h,
// speed_vs_calibration): on a shared machine whose speed changes over minutes it says how fast the
// host ran during a split against during the calibration.
struct SpeedProbe {
  double eager_op_s = 0;           // per kernel
  std::vector<GemmSample> gemms;   // seconds per call
};
// Runs on every rank of `world` (this rank's medians; the run record keeps the slowest rank's).
SpeedProbe probe_host_speed(Comm& world, const std::vector<GemmSample>& shapes, const std::string& backend,
                            int local_rank, int repeats = 3, double min_time_s = 0.03);

}  // namespace planner::executor
