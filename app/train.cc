#include "app/train.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "app/common.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/plan_file.h"
#include "executor/checkpoint_io.h"
#include "executor/launcher.h"
#include "executor/trainer.h"
#include "simulator/simulator.h"

namespace planner::app {

namespace {

int64_t parse_degree(const std::string& v, const std::string& flag, int64_t auto_value) {
  if (v == "auto") return auto_value;
  try {
    size_t pos = 0;
    long long x = std::stoll(v, &pos);
    if (pos != v.size() || x < 1 || x > limits::kMaxWorld) throw std::invalid_argument("");
    return x;
  } catch (const std::exception&) {
    throw InputError(flag, "", "'" + quote_for_error(v) + "' is not 'auto' or an integer in [1, " +
                                   std::to_string(limits::kMaxWorld) + "]");
  }
}

// A word for a POSIX shell: as is when it holds only characters no shell treats specially, else
// in single quotes (a ' inside written '\'').
std::string shell_quote(const std::string& w) {
  bool plain = !w.empty();
  for (char ch : w)
    plain = plain && (std::isalnum(static_cast<unsigned char>(ch)) || std::string("_-./:=,+@%").find(ch) != std::string::npos);
  if (plain) return w;
  std::string q = "'";
  for (char ch : w) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// The shortest decimal that reads back as the same double (3e-4 -> "0.0003", 60 -> "60").
std::string exact_number(double v) {
  char buf[40];
  if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15)
    return std::to_string(static_cast<int64_t>(v));
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Every flag a rank needs to run what this command would run, for the torchrun/srun lines: the
// plan's effective values and each option given (launcher-only ones, --nproc and --master-port, left
// out), each word shell-quoted.
std::string launch_args(const TrainOptions& a, const executor::TrainConfig& c) {
  const Plan& p = c.plan;
  std::vector<std::string> w;
  auto add = [&w](const std::string& flag, const std::string& value) {
    w.push_back(flag);
    w.push_back(shell_quote(value));
  };
  if (!a.plan_file.empty()) add("--plan", a.plan_file);
  if (!a.model.empty()) add("--model", a.model);
  add("--dp", std::to_string(p.dp));
  add("--tp", std::to_string(p.tp));
  add("--micro-batch", std::to_string(p.micro_batch));
  add("--seq-len", std::to_string(c.training.seq_len));
  add("--global-batch", std::to_string(c.training.global_batch));
  add("--precision", to_string(c.training.precision));
  add("--ac", to_string(p.ac));
  add("--sp", p.sequence_parallel ? "on" : "off");
  if (!p.reshard_after_forward) w.push_back("--no-reshard-after-forward");
  if (!a.grad_sync.empty()) add("--grad-sync", a.grad_sync);
  add("--steps", std::to_string(c.steps));
  add("--warmup-steps", std::to_string(c.warmup_steps));
  add("--seed", std::to_string(c.seed));
  add("--lr", exact_number(c.adamw.lr));
  add("--weight-decay", exact_number(c.adamw.weight_decay));
  add("--backend", c.backend);
  if (a.threads > 0) add("--threads-per-rank", std::to_string(a.threads));
  add("--cpu-bind", a.cpu_bind);
  add("--fault-timeout", exact_number(a.fault_timeout_s));
  if (a.run_timeout_s > 0) add("--timeout", exact_number(a.run_timeout_s));
  if (!a.record.empty()) add("--record", a.record);
  if (!a.checkpoint_dir.empty()) add("--checkpoint-dir", a.checkpoint_dir);
  if (a.checkpoint_every > 0) add("--checkpoint-every", std::to_string(a.checkpoint_every));
  if (!a.resume.empty()) add("--resume", a.resume);
  if (a.no_prefetch) w.push_back("--no-prefetch");
  if (a.quiet) w.push_back("--quiet");
  if (a.phase_times) w.push_back("--phase-times");
  if (a.speed_probe) w.push_back("--speed-probe");
  if (a.force) w.push_back("--force");
  std::string out;
  for (const auto& x : w) out += (out.empty() ? "" : " ") + x;
  return out;
}

// A plan file with a cluster is re-priced at the plan this run trains (flags applied): a plan
// predicted not to fit its GPUs' memory is refused (exit 2) unless --force. Without a cluster, the
// file's own prediction (if any) is taken at its word.
void check_predicted_memory(const PlanFile& pf, const std::string& file, bool force) {
  std::string why;
  if (pf.cluster) {
    const Candidate cand = Simulator(pf.model, pf.training, *pf.cluster).evaluate(pf.plan);
    if (cand.limit == Limit::memory) why = cand.reason;
  } else if (pf.prediction.is_object() && pf.prediction.contains("memory") &&
             pf.prediction["memory"].value("fits", true) == false) {
    why = "the file's prediction says memory.fits = false";
  }
  if (why.empty()) return;
  if (!force)
    throw InputError(file, "plan",
                     "predicted not to fit in memory: " + why + "; change the plan (planner plan / suggest) or pass "
                     "--force to train it anyway");
  std::fprintf(stderr, "warning: %s: the plan is predicted not to fit in memory (%s); training anyway (--force)\n",
               file.c_str(), why.c_str());
}

}  // namespace

int run_train(const TrainOptions& a) {
  using namespace planner::executor;
  TrainConfig c;
  PlanFile pf;
  const bool have_file = !a.plan_file.empty();
  if (have_file) {
    pf = read_plan_file(a.plan_file);
  } else {
    if (a.model.empty()) throw InputError("--model", "", "required unless --plan FILE is given");
    pf.training.seq_len = 64;
    pf.training.precision = Precision::fp32;
    pf.training.global_batch = 0;  // set below
  }
  if (!a.model.empty()) pf.model = resolve_model(a.model, "--model");
  validate_model(pf.model, have_file ? a.plan_file : "--model");

  const RankEnv env = rank_env_from_environment();
  int world = 0, local_world = 0;
  if (env.found) {
    world = env.world;
    local_world = env.local_world;
    if (a.nproc > 0 && a.nproc != env.world)
      throw InputError("--nproc", "", std::to_string(a.nproc) + " conflicts with the " + env.launcher +
                                          " world size " + std::to_string(env.world) + " (leave --nproc out under a launcher)");
  } else if (a.nproc > 0) {
    world = local_world = a.nproc;
  }
  Plan& p = pf.plan;
  if (!a.tp.empty()) p.tp = parse_degree(a.tp, "--tp", local_world > 0 ? local_world : 1);
  if (!a.dp.empty()) p.dp = parse_degree(a.dp, "--dp", world > 0 ? std::max<int64_t>(1, world / p.tp) : 1);
  if (world == 0) world = local_world = static_cast<int>(p.dp * p.tp);
  if (a.micro_batch > 0) p.micro_batch = a.micro_batch;
  if (!a.ac.empty()) p.ac = ac_from_string(a.ac, "--ac", "");
  if (!a.grad_sync.empty()) p.grad_sync = grad_sync_from_string(a.grad_sync, "--grad-sync", "");
  if (a.sp_given) p.sequence_parallel = a.sp;
  if (a.no_reshard) p.reshard_after_forward = false;
  if (a.seq_len > 0) pf.training.seq_len = a.seq_len;
  if (a.global_batch > 0) pf.training.global_batch = a.global_batch;
  if (pf.training.global_batch == 0) pf.training.global_batch = p.dp * p.micro_batch;
  if (!a.precision.empty()) pf.training.precision = precision_from_string(a.precision, "--precision", "");
  if (!a.reduce_dtype.empty()) pf.training.reduce_dtype = reduce_dtype_from_string(a.reduce_dtype, "--reduce-dtype", "");

  if (have_file) check_predicted_memory(pf, a.plan_file, a.force);
  c.model = pf.model;
  c.training = pf.training;
  c.plan = p;
  c.steps = a.steps;
  c.warmup_steps = a.warmup >= 0 ? a.warmup : std::min<int64_t>(2, a.steps - 1);
  c.seed = a.seed;
  c.adamw.lr = a.lr;
  c.adamw.weight_decay = a.weight_decay;
  c.backend = a.backend;
  c.prefetch = !a.no_prefetch;
  c.speed_probe = a.speed_probe;
  c.phase_times = a.phase_times;
  if (c.speed_probe && c.backend != "gloo")
    throw InputError("--speed-probe", "", "is implemented for --backend gloo (CPU) only, got --backend " + c.backend);
  c.progress = !a.quiet;
  c.record_path = a.record;
  c.checkpoint_dir = a.checkpoint_dir;
  c.checkpoint_every = a.checkpoint_every;
  c.resume_dir = a.resume;
  pf.cluster.reset();
  pf.prediction = Json();
  c.plan_json = plan_file_to_json(pf);
  const std::string where = have_file ? a.plan_file : "planner train";
  validate_train_config(c, world, where);

  if (a.print_lines) {
    if (a.nnodes < 1 || world % a.nnodes != 0)
      throw InputError("--nnodes", "", std::to_string(a.nnodes) + " does not divide the world size " + std::to_string(world));
    const int64_t per_node = world / a.nnodes;
    const std::string args = launch_args(a, c);
    std::printf("# torchrun, on each of the %lld nodes (MASTER_ADDR = the first node):\n", static_cast<long long>(a.nnodes));
    std::printf("torchrun --nnodes=%lld --nproc-per-node=%lld --rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:29500 "
                "--no-python planner train %s\n", static_cast<long long>(a.nnodes), static_cast<long long>(per_node), args.c_str());
    std::printf("# Slurm:\n");
    std::printf("srun --nodes=%lld --ntasks-per-node=%lld planner train %s\n", static_cast<long long>(a.nnodes),
                static_cast<long long>(per_node), args.c_str());
    return 0;
  }

  // Before any rank starts: a checkpoint to resume from that this run can use, output paths it
  // can write, and the checkpoint folder's lock (held by this process, inherited by the ranks
  // it forks; under torchrun/srun by rank 0's process).
  if (!c.resume_dir.empty()) check_resume(c);
  check_output_paths(c);
  std::unique_ptr<CheckpointLock> lock;
  if (!c.checkpoint_dir.empty() && (!env.found || env.rank == 0)) lock = std::make_unique<CheckpointLock>(c.checkpoint_dir);

  LaunchOptions lo;
  lo.nproc = world;
  lo.fault_timeout_s = a.fault_timeout_s;
  lo.run_timeout_s = a.run_timeout_s;
  lo.threads_per_rank = a.threads;
  lo.master_port = a.master_port;
  lo.cpu_bind = a.cpu_bind;
  lo.backend = a.backend;
  check_cpu_bind(a.cpu_bind, "--cpu-bind");
  auto fn = [c](RankContext& ctx) { return train_main(c, ctx); };
  int rc = env.found ? run_as_rank(env, lo, fn) : launch_local_ranks(lo, fn);
  if (rc != 0) {
    // A failed run ends the process here with the launcher's code (no static destructors).
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(rc);
  }
  return 0;
}

CLI::App* add_train(CLI::App& cli, TrainOptions* a) {
  CLI::App* c = cli.add_subcommand("train", "Train a model with a plan for real (LibTorch, TP x FSDP) and measure it");
  c->add_option("--plan", a->plan_file, "Plan file (planner plan --write-plan); flags below override it");
  c->add_option("--model", a->model, "Model preset (llama-tiny, feedforward:DIMxHIDDEN, ...) or config.json");
  c->add_option("--dp", a->dp, "Data-parallel (FSDP) degree, or auto = world / tp");
  c->add_option("--tp", a->tp, "Tensor-parallel degree, or auto = ranks per node");
  // Every number is checked as it is parsed (exit 2 naming the flag and the range), none clamped.
  c->add_option("--micro-batch", a->micro_batch, "Sequences per dp rank per forward/backward")
      ->check(int_in(1, limits::kMaxBatch));
  c->add_option("--seq-len", a->seq_len, "Tokens per sequence (default 64 without a plan file)")
      ->check(int_in(1, limits::kMaxSeqLen));
  c->add_option("--global-batch", a->global_batch, "Sequences per optimizer step (default dp x micro_batch)")
      ->check(int_in(1, limits::kMaxBatch));
  c->add_option("--precision", a->precision,
                "bf16-mixed (FSDP2 MixedPrecisionPolicy: bf16 compute, fp32 master weights and AdamW states), bf16 "
                "(everything bf16) or fp32 (default without a plan file)")
      ->check(CLI::IsMember(precision_names()));
  c->add_option("--reduce-dtype", a->reduce_dtype,
                "Gradient reduce-scatter dtype (FSDP2 reduce_dtype): auto (the precision's: fp32 under bf16-mixed and "
                "fp32, bf16 under bf16), fp32, bf16")
      ->check(CLI::IsMember(reduce_dtype_names()));
  c->add_option("--ac", a->ac, "Activation checkpointing: none, selective (recompute norms, SiLU, SiLU*w3) or full (recompute each block)");
  c->add_option("--sp", a->sp, "Sequence parallel (on/off; tp > 1): norms and residual stream on seq_len/tp tokens, all-gather/reduce-scatter in place of all-reduces");
  c->add_flag("--no-reshard-after-forward", a->no_reshard, "Keep gathered parameters from forward to backward");
  c->add_option("--grad-sync", a->grad_sync, "Reduce-scatter gradients every micro-batch or only the last")
      ->check(CLI::IsMember({"every", "last"}));
  c->add_option("--steps", a->steps, "Optimizer steps")->check(int_in(1, 1000000000))->capture_default_str();
  c->add_option("--warmup-steps", a->warmup, "Steps excluded from the median step time (default min(2, steps-1))")
      ->check(int_in(0, 1000000000));
  c->add_option("--seed", a->seed, "Seed of the parameters and the synthetic data")->capture_default_str();
  c->add_option("--lr", a->lr, "AdamW learning rate")->check(finite_number(0, 1000))->capture_default_str();
  c->add_option("--weight-decay", a->weight_decay, "AdamW weight decay")->check(finite_number(0, 1000))->capture_default_str();
  c->add_option("--nproc", a->nproc, "Ranks to launch on this machine (default dp x tp)")->check(int_in(1, 4096));
  c->add_option("--backend", a->backend, "gloo (CPU) or nccl (CUDA LibTorch builds)")->capture_default_str();
  c->add_option("--threads-per-rank", a->threads, "Intra-op threads per rank (default max(1, cores / local ranks))")
      ->check(int_in(1, 4096));
  c->add_option("--cpu-bind", a->cpu_bind,
                 "Bind each local rank to its own CPUs: auto (cores for gloo, none for nccl; keeps a binding Slurm "
                 "or numactl already made), cores or none")
      ->capture_default_str();
  c->add_option("--fault-timeout", a->fault_timeout_s, "Seconds before a failed/hung peer stops every rank")
      ->check(finite_number(0, 604800, /*lo_open=*/true))
      ->capture_default_str();
  c->add_option("--timeout", a->run_timeout_s, "Kill every rank after this many seconds (0: no limit)")
      ->check(finite_number(0, 604800))
      ->capture_default_str();
  c->add_option("--master-port", a->master_port,
                 "Rendezvous TCP port for --nproc runs, listened to on every interface (LibTorch 1.13); 0: a private "
                 "file store, no socket")
      ->check(int_in(0, 65535))
      ->capture_default_str();
  c->add_option("--record", a->record, "Write the run record (planner-run/1 JSON) to this file");
  c->add_option("--checkpoint-dir", a->checkpoint_dir,
                 "Save checkpoints here (a step-N folder each, committed by one rename; the two newest kept) at "
                 "the end");
  c->add_option("--checkpoint-every", a->checkpoint_every, "Also save every N steps")->check(int_in(0, 1000000000));
  c->add_option("--resume", a->resume,
                "Resume from a checkpoint folder's newest committed step-N (or from one step-N folder); another dp "
                "x tp is resharded on load");
  c->add_flag("--force", a->force, "Train a plan file's plan although it is predicted not to fit in memory");
  c->add_flag("--no-prefetch", a->no_prefetch, "Do not all-gather the next FSDP unit ahead of time");
  c->add_flag("-q,--quiet", a->quiet, "No per-step progress line");
  c->add_flag("--phase-times", a->phase_times,
              "Time each step's forward, backward and optimizer apart (the device synchronized between them) into "
              "the run record's phase_s_median per rank, to compare with planner simulate's forward_s, backward_s "
              "and optimizer_s");
  c->add_flag("--speed-probe", a->speed_probe,
              "Before training, time calibrate's eager-op probe and the model's GEMMs on every rank into the run "
              "record's speed_probe (planner validate compares it with the calibration)");
  c->add_flag("--print-launch-lines", a->print_lines, "Print the torchrun and srun lines for this plan and exit");
  c->add_option("--nnodes", a->nnodes, "Nodes, for --print-launch-lines")->check(int_in(1, limits::kMaxWorld))->capture_default_str();
  c->callback([a, c] { a->sp_given = c->count("--sp") > 0; });
  return c;
}

}  // namespace planner::app
