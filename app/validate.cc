#include "app/validate.h"
#include "app/common.h"

#include "core/error.h"
#include "core/training_spec.h"
#include "core/limits.h"
#include "validation/rescore.h"

namespace planner::app {

int run_validate(const ValidateOptions& a) {
  if (!a.rescore.empty()) return validation::run_rescore({a.rescore, a.o.cluster, a.o.out});
#ifdef PLANNER_HAVE_TORCH
  return validation::run_validation(a.o);
#else
  throw InputError("--rescore", "",
                   "this planner was built without LibTorch: validate can only rescore a stored validation "
                   "(--rescore FILE); training the splits needs a build with -DPLANNER_WITH_TORCH=ON");
#endif
}

CLI::App* add_validate(CLI::App& cli, ValidateOptions* a) {
  CLI::App* c = cli.add_subcommand("validate",
                                    "Simulate every feasible (dp, tp) on this machine, train each for a few steps, and "
                                    "compare predicted with measured peak memory and step time (docs/calibration.md)");
  c->add_option("--model", a->o.model, "Model preset (llama-tiny, feedforward:DIMxHIDDEN, ...) or config.json");
  c->add_option("--ranks", a->o.ranks, "World size (local ranks)")->check(int_in(1, 4096))->capture_default_str();
  c->add_option("--cluster", a->o.cluster, "Profile from `planner calibrate` (or cpu-gloo: the uncalibrated preset)")
      ->capture_default_str();
  c->add_option("--seq-len", a->o.seq_len, "Tokens per sequence")->check(int_in(1, limits::kMaxSeqLen))->capture_default_str();
  c->add_option("--global-batch", a->o.global_batch, "Sequences per step (default ranks x micro_batch)")
      ->check(int_in(1, limits::kMaxBatch));
  c->add_option("--micro-batch", a->o.micro_batch, "Sequences per dp rank per forward/backward")
      ->check(int_in(1, limits::kMaxBatch))
      ->capture_default_str();
  c->add_option("--precision", a->o.precision,
                "What the splits train in: fp32, bf16-mixed (FSDP2 MixedPrecisionPolicy: bf16 compute, fp32 master "
                "weights and AdamW states) or bf16")
      ->check(CLI::IsMember(precision_names()))
      ->capture_default_str();
  c->add_option("--reduce-dtype", a->o.reduce_dtype, "Gradient reduce-scatter dtype (FSDP2 reduce_dtype): auto, fp32, bf16")
      ->check(CLI::IsMember(reduce_dtype_names()))
      ->capture_default_str();
  c->add_option("--ac", a->o.ac, "Activation checkpointing: none, selective or full")->check(CLI::IsMember({"none", "selective", "full"}))
      ->capture_default_str();
  c->add_flag("--no-reshard-after-forward", a->o.no_reshard, "Keep gathered parameters from forward to backward");
  c->add_option("--steps", a->o.steps, "Training steps per split")->check(int_in(1, 1000000000))->capture_default_str();
  c->add_option("--warmup-steps", a->o.warmup, "Steps excluded from the median")->check(int_in(0, 1000000000))->capture_default_str();
  c->add_option("--rounds", a->o.rounds,
                "Times each split is trained, the splits taking turns; the measured step is the median round")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100}));
  c->add_option("--threads-per-rank", a->o.threads, "Intra-op threads per rank (default as planner train)")
      ->check(int_in(1, 4096));
  c->add_option("--cpu-bind", a->o.cpu_bind, "CPU binding of the ranks, as planner train (auto, cores, none)")
      ->capture_default_str();
  c->add_option("--run-timeout", a->o.run_timeout_s, "Seconds before one split's training is stopped")
      ->check(finite_number(0, 604800, /*lo_open=*/true))
      ->capture_default_str();
  add_output_option(c, &a->o.out, "The planner-validate/1 JSON to write (default validate.json; with --rescore FILE.rescored.json)");
  c->add_option("--rescore", a->rescore,
                "Re-predict a stored planner-validate/1 with this build's simulator and --cluster; trains nothing");
  c->add_option("--runs-dir", a->o.runs_dir, "Where run records and logs go (default: --out's folder)");
  c->add_option("--max-memory-error", a->o.max_memory_error, "Fail above this |predicted - measured| / measured peak memory")
      ->check(finite_number(0, 1e6))
      ->capture_default_str();
  c->add_option("--max-step-time-error", a->o.max_step_time_error, "Fail above this relative step-time error")
      ->check(finite_number(0, 1e6))
      ->capture_default_str();
  c->add_option("--max-ranking-gap", a->o.max_ranking_gap,
                "Fail when the predicted best split is this much slower (measured) than the measured best")
      ->check(finite_number(0, 1e6))
      ->capture_default_str();
  c->add_flag("--force", a->o.force, "Also run splits the simulator says will not fit in memory");
  c->add_flag("--allow-other-host", a->o.allow_other_host, "Use a profile calibrated on another machine (warns)");
  return c;
}

}  // namespace planner::app
