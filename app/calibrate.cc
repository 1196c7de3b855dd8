#include "app/calibrate.h"
#include "app/common.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "validation/calibration.h"
#include "core/training_spec.h"
#include "core/limits.h"

namespace planner::app {

int run_calibrate(const CalibrateOptions& a) {
  validation::CalibrateOptions o = a.o;
  if (!a.models.empty()) o.measure.models = a.models;
  if (!a.micro_batches.empty()) o.measure.micro_batches = a.micro_batches;
  if (a.quick) {
    // Tests: 3 message sizes, 3 repetitions.
    o.measure.message_bytes = {4096, 65536, 1048576};
    o.measure.repeats = 3;
    o.measure.min_time_s = 0.0005;
  }
  double load[1] = {0};
  if (::getloadavg(load, 1) == 1) {
    const std::string w = validation::busy_host_warning(load[0], std::thread::hardware_concurrency());
    if (!w.empty()) std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  const int rc = validation::run_calibration(o);
  if (rc != 0) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: calibration %s (exit %d); nothing was written to %s\n",
                 rc == 130 ? "interrupted" : rc == 124 ? "timed out" : "failed", rc, o.out_path.c_str());
    std::fflush(stderr);
    std::_Exit(rc);
  }
  return 0;
}

CLI::App* add_calibrate(CLI::App& cli, CalibrateOptions* a) {
  CLI::App* c = cli.add_subcommand("calibrate",
                                    "Measure this machine (GEMMs, memory bandwidth, collectives on the mesh) and fit the "
                                    "simulator's hardware profile (docs/calibration.md)");
  c->add_option("--ranks", a->o.measure.ranks, "Ranks (processes) to run, as `planner train --nproc` would")
      ->check(int_in(1, 4096))
      ->capture_default_str();
  add_output_option(c, &a->o.out_path, "Profile to write (planner-cluster/1); measurements go to NAME.calibration.json")
      ->required();
  c->add_option("--model", a->models, "Models whose GEMM shapes to measure (repeatable; default llama-tiny)");
  c->add_option("--precision", a->o.measure.precision,
                "What the profile will price: fp32, or bf16-mixed / bf16 (the GEMMs are also timed in bf16, which "
                "sets the bf16 peak)")
      ->check(CLI::IsMember(precision_names()))
      ->capture_default_str();
  c->add_option("--seq-len", a->o.measure.seq_len, "Tokens per sequence of those GEMMs")
      ->check(int_in(1, limits::kMaxSeqLen))
      ->capture_default_str();
  c->add_option("--micro-batch", a->micro_batches, "Micro-batch sizes of those GEMMs (repeatable; default 1)");
  c->add_option("--backend", a->o.measure.backend, "gloo (CPU) or nccl (CUDA LibTorch builds)")->capture_default_str();
  c->add_option("--base", a->o.base_cluster,
                "Cluster whose peaks the fits scale (default: this host's cpu-gloo profile; required for nccl)");
  c->add_option("--repeats", a->o.measure.repeats, "Timed repetitions per point (median)")
      ->check(int_in(1, 100000))
      ->capture_default_str();
  c->add_option("--phase-gemms", a->o.measure.phase_gemms,
                 "Compute phases before the collective samples, in 256^3 GEMMs on every rank: every collective "
                 "is timed after each (comma-separated or repeated)")
      ->delimiter(',')
      ->capture_default_str();
  c->add_option("--rounds", a->o.measure.rounds,
                "Passes over all points, the repetitions split among them (a point's value: the median of its passes)")
      ->capture_default_str();
  c->add_option("--min-time", a->o.measure.min_time_s,
                 "Seconds each GEMM / kernel sample lasts at least (the kernel is repeated inside it)")
      ->check(finite_number(0, 3600))
      ->capture_default_str();
  c->add_option("--threads-per-rank", a->o.measure.threads_per_rank, "Intra-op threads per rank (default as planner train)")
      ->check(int_in(1, 4096));
  c->add_option("--cpu-bind", a->o.measure.cpu_bind, "CPU binding of the ranks, as planner train (auto, cores, none)")
      ->capture_default_str();
  c->add_option("--timeout", a->o.measure.run_timeout_s, "Stop every rank after this many seconds")
      ->check(finite_number(0, 604800, /*lo_open=*/true))
      ->capture_default_str();
  c->add_flag("--quick", a->quick, "Fewer message sizes and repetitions (tests)");
  c->add_flag("-q,--quiet", a->o.measure.quiet, "No progress line");
  c->add_flag("--verbose", a->o.verbose,
              "Also print every collective sample with its fitted value and residual (always in NAME.calibration.json)");
  return c;
}

}  // namespace planner::app
