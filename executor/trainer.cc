#include "executor/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unistd.h>

#ifdef PLANNER_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "core/error.h"
#include "executor/blas.h"
#include "executor/checkpoint_io.h"
#include "executor/data.h"
#include "executor/measure.h"
#include "executor/memory.h"
#include "executor/parallelize.h"

namespace planner::executor {

namespace {
using Clock = std::chrono::steady_clock;

std::string host_name() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof(buf) - 1);
  return buf;
}
}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void validate_train_config(const TrainConfig& c, int64_t world, const std::string& where) {
  const Plan& p = c.plan;
  check_mesh(p.dp, p.tp, world, where);
  check_tp_divides(c.model, p.tp, where);
  if (c.backend != "gloo" && c.backend != "nccl")
    throw InputError(where, "backend", "'" + c.backend + "'; allowed: gloo (CPU tensors), nccl (CUDA tensors)");
  if (c.backend == "nccl" && !nccl_compiled())
    throw InputError(where, "backend",
                     "'nccl' needs a planner built with a CUDA LibTorch (LibTorch 2.x from pytorch.org or a pip "
                     "torch: scripts/gpu-check.sh shows the build); this one has a CPU-only LibTorch, allowed: gloo");
  // The executor's TP plan is torchtitan's: vocab-sharded embedding, vocab-parallel loss.
  if (!c.training.tp_plan.loss_parallel)
    throw InputError(where, "training.loss_parallel",
                     "false: the executor keeps the logits vocab-sharded (loss parallel) only; allowed: true");
  if (c.training.loss_dtype != LossDtype::fp32)
    throw InputError(where, "training.loss_dtype",
                     "'" + to_string(c.training.loss_dtype) + "': the executor computes the loss on fp32 logits only; "
                     "allowed: fp32");
  if (c.training.selective_ac != SelectiveAc::keep_matmuls && p.ac == ActivationCheckpointing::selective)
    throw InputError(where, "training.selective_ac",
                     "'" + to_string(c.training.selective_ac) +
                         "': the executor's selective checkpointing keeps every matmul output; allowed: keep-matmuls");
  if (c.training.tp_plan.gather_per_linear)
    throw InputError(where, "training.tp_input_gather",
                     "'per-linear': the executor gathers a sub-layer's input once for its colwise Linears; "
                     "allowed: shared");
  if (!c.training.tp_plan.shard_embedding)
    throw InputError(where, "training.shard_embedding",
                     "false: the executor shards the embedding by vocabulary rows only; allowed: true");
  if (p.micro_batch < 1) throw InputError(where, "micro_batch", "must be >= 1, got " + std::to_string(p.micro_batch));
  if (c.training.global_batch % (p.dp * p.micro_batch) != 0)
    throw InputError(where, "global_batch",
                     std::to_string(c.training.global_batch) + " is not a multiple of dp (" + std::to_string(p.dp) +
                         ") x micro_batch (" + std::to_string(p.micro_batch) + ") = " +
                         std::to_string(p.dp * p.micro_batch) + ": gradient accumulation must be a whole number");
  if (p.sequence_parallel && p.tp > 1 && c.training.seq_len % p.tp != 0)
    throw InputError(where, "sequence_parallel",
                     "seq_len (" + std::to_string(c.training.seq_len) + ") must be a multiple of tp (" +
                         std::to_string(p.tp) + ") under sequence parallel (each TP rank holds seq_len/tp tokens); "
                         "change --seq-len or use --sp off");
  if (c.steps < 1) throw InputError(where, "steps", "must be >= 1, got " + std::to_string(c.steps));
  if (c.warmup_steps < 0 || c.warmup_steps >= c.steps)
    throw InputError(where, "warmup_steps", "must be in [0, steps), got " + std::to_string(c.warmup_steps) +
                                                " with steps=" + std::to_string(c.steps));
  if (c.training.seq_len < 1) throw InputError(where, "seq_len", "must be >= 1");
}

namespace {

void device_synchronize(const at::Device& device) {
#ifdef PLANNER_HAVE_NCCL
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
#else
  (void)device;
#endif
}

}  // namespace

RankResult train_rank(const TrainConfig& c, const Mesh& mesh, Comms& comms, bool want_full_params, at::Device device) {
  const Plan& p = c.plan;
  ExecOptions eo;
  eo.reshard_after_forward = p.reshard_after_forward;
  eo.ac = p.ac;
  eo.grad_sync = p.grad_sync;
  eo.prefetch = c.prefetch;
  eo.sequence_parallel = p.sequence_parallel;
  eo.device = device;
  eo.precision = c.training.precision;
  eo.reduce_dtype = c.training.reduce_dtype;
  ShardedModel m(c.model, p.dp, p.tp, mesh, &comms, eo, c.seed);
  RankResult res;
  if (!c.resume_dir.empty()) res.first_step = load_checkpoint(c, mesh, m);
  const int64_t accum = c.training.global_batch / (p.dp * p.micro_batch);
  const double tokens_per_step = static_cast<double>(c.training.global_batch * c.training.seq_len);
  comms.world->barrier();
  for (int64_t i = 0; i < c.steps; ++i) {
    const int64_t step = res.first_step + i;
    test_hook_maybe_hang(mesh.rank, step);  // PLANNER_TEST_HANG (tests only; executor/launcher.h)
    if (i == c.warmup_steps) {
      comms.world->reset_stats();
      comms.dp->reset_stats();
      comms.tp->reset_stats();
    }
    auto t0 = Clock::now();
    double loss_sum = 0;
    // The synthetic batch is drawn on the CPU (the same numbers on every device): for a wide
    // FeedForward that is 2 x micro_batch x seq_len x dim normal samples a step (134M for
    // 8192 x 28672 at micro-batch 4 and seq_len 2048). Training takes its batches from a data
    // loader that prepared them ahead and copies them to the GPU while the previous step runs, so
    // the time drawing them and copying them to the device is left out of the step and recorded
    // apart (batch_draw_s). The copy matters for that FeedForward only: its 537 MB batch from
    // pageable memory, where a Llama's batch is token ids (docs/calibration.md, "Phase times").
    Clock::duration data_time{0}, fwd_time{0}, bwd_time{0};
    for (int64_t mi = 0; mi < accum; ++mi) {
      const auto d0 = Clock::now();
      Batch b = make_batch(c.model, c.training.seq_len, c.training.global_batch, p.dp, mesh.dp_index(), p.micro_batch, mi,
                           step, c.seed);
      if (!device.is_cpu()) {
        b = {b.input.to(device), b.target.to(device)};
        device_synchronize(device);
      }
      data_time += Clock::now() - d0;
      m.set_last_micro_batch(mi == accum - 1);
      const auto f0 = Clock::now();
      at::Tensor loss = m.forward_loss(b);
      if (c.phase_times) device_synchronize(device);
      const auto f1 = Clock::now();
      (loss / static_cast<double>(accum)).backward();
      if (c.phase_times) device_synchronize(device);
      fwd_time += f1 - f0;
      bwd_time += Clock::now() - f1;
      loss_sum += loss.item<double>() / static_cast<double>(accum);
    }
    const auto o0 = Clock::now();
    m.reshard_all();
    for (auto& u : m.units()) adamw_step(u, c.adamw, step + 1);
    if (c.phase_times) {
      device_synchronize(device);
      res.forward_s.push_back(std::chrono::duration<double>(fwd_time).count());
      res.backward_s.push_back(std::chrono::duration<double>(bwd_time).count());
      res.optimizer_s.push_back(std::chrono::duration<double>(Clock::now() - o0).count());
    }
    at::Tensor l = at::full({1}, loss_sum, at::TensorOptions().dtype(at::kDouble).device(device));
    comms.dp->all_reduce(l, ReduceKind::avg);
    device_synchronize(device);  // the step ends when the GPU has finished it
    const double dt = std::chrono::duration<double>(Clock::now() - t0 - data_time).count();
    res.loss.push_back(l.item<double>());
    res.step_time_s.push_back(dt);
    res.batch_draw_s.push_back(std::chrono::duration<double>(data_time).count());
    if (c.progress && mesh.rank == 0) {
      std::printf("step %lld/%lld  loss %.6f  step_time %.4f s  tokens/s %.0f\n", static_cast<long long>(step + 1),
                  static_cast<long long>(res.first_step + c.steps), res.loss.back(), dt, tokens_per_step / dt);
      std::fflush(stdout);
    }
    if (!c.checkpoint_dir.empty() && c.checkpoint_every > 0 && (step + 1) % c.checkpoint_every == 0 && i + 1 < c.steps)
      save_checkpoint(c, mesh, comms, m, step + 1);
  }
  if (!c.checkpoint_dir.empty()) save_checkpoint(c, mesh, comms, m, res.first_step + c.steps);
  for (int k = 0; k < kNumCollectiveKinds; ++k) {
    auto kind = static_cast<CollectiveKind>(k);
    if (kind == CollectiveKind::barrier) continue;
    res.collectives[to_string(kind)] = comms.total(kind);
  }
  if (device.is_cpu()) {
    res.peak_allocated_bytes = cpu_peak_allocated_bytes();
  } else {
    res.peak_allocated_bytes = cuda_peak_allocated_bytes(device.index());
    res.peak_reserved_bytes = cuda_peak_reserved_bytes(device.index());
  }
  if (want_full_params) res.full_params = m.full_parameters();
  return res;
}

Json rank_result_json(int rank, const RankResult& r, int64_t warmup_steps) {
  Json j;
  j["rank"] = rank;
  j["peak_allocated_bytes"] = r.peak_allocated_bytes;
  if (r.peak_reserved_bytes >= 0) j["peak_reserved_bytes"] = r.peak_reserved_bytes;
  Json cs = Json::object();
  for (const auto& [k, s] : r.collectives) cs[k] = {{"seconds", s.seconds}, {"bytes", s.bytes}, {"calls", s.calls}};
  j["collectives"] = cs;
  j["step_time_s"] = r.step_time_s;
  j["batch_draw_s_median"] = median(r.batch_draw_s);
  if (!r.forward_s.empty()) {
    // After the warm-up steps, as the step time (run_record_json).
    const size_t skip = std::min(r.forward_s.size() - 1, static_cast<size_t>(std::max<int64_t>(0, warmup_steps)));
    auto after = [skip](const std::vector<double>& v) { return median(std::vector<double>(v.begin() + skip, v.end())); };
    j["phase_s_median"] = {{"forward", after(r.forward_s)}, {"backward", after(r.backward_s)},
                           {"optimizer", after(r.optimizer_s)}};
  }
  j["loss"] = r.loss;
  return j;
}

Json run_record_json(const TrainConfig& c, const std::vector<Json>& ranks, const std::vector<double>& loss,
                     const RankContext& ctx) {
  Json j;
  j["format"] = "planner-run/1";
  j["plan"] = c.plan_json;
  j["machine"] = {{"hostname", host_name()},
                  {"cores", ctx.machine_cpus},
                  {"threads_per_rank", ctx.threads},
                  {"cpus_of_rank0", ctx.cpus},
                  {"backend", c.backend},
                  {"device", c.backend == "nccl" ? "cuda" : "cpu"},
                  {"launcher", ctx.launcher},
                  {"world", ctx.world}};
  // What the executor ran (the plan above is what was asked): SP only has an effect at tp > 1.
  const bool sp_ran = c.plan.sequence_parallel && c.plan.tp > 1;
  std::string fwd = "none", bwd = "none";
  if (c.plan.tp > 1) {
    fwd = sp_ran ? "2 all_gather + 2 reduce_scatter (sequence dim)" : "2 all_reduce";
    bwd = sp_ran ? "2 reduce_scatter + 2 all_gather (sequence dim)" : "2 all_reduce";
    if (c.plan.ac == ActivationCheckpointing::full) bwd += " + the forward's again (block recomputed)";
    if (c.plan.ac == ActivationCheckpointing::selective && sp_ran) bwd += " + 2 all_gather (norm outputs re-gathered)";
  }
  j["executed"] = {{"sequence_parallel", sp_ran},
                   {"activation_checkpointing", to_string(c.plan.ac)},
                   {"tp_collectives_per_block", {{"forward", fwd}, {"backward", bwd}}}};
  j["steps"] = c.steps;
  j["warmup_steps"] = c.warmup_steps;
  std::vector<double> step_max(c.steps, 0.0);
  for (const auto& r : ranks) {
    const auto& st = r.at("step_time_s");
    for (int64_t i = 0; i < c.steps && i < static_cast<int64_t>(st.size()); ++i)
      step_max[i] = std::max(step_max[i], st[i].get<double>());
  }
  j["step_time_s"] = step_max;
  j["step_time_s_median"] = median(std::vector<double>(step_max.begin() + c.warmup_steps, step_max.end()));
  j["loss"] = loss;
  Json rs = Json::array();
  for (auto r : ranks) {
    r.erase("loss");
    r.erase("step_time_s");
    rs.push_back(r);
  }
  j["ranks"] = rs;
  return j;
}

int train_main(const TrainConfig& c, RankContext& ctx) {
  install_counting_cpu_allocator();
  Mesh mesh{c.plan.dp, c.plan.tp, ctx.rank};
  check_mesh(c.plan.dp, c.plan.tp, ctx.world, "--dp/--tp");
  if (ctx.rank == 0) {
    BlasInfo b = blas_info();
    // Debian's netlib reference BLAS (the alternative's default) is the slow case; a LibTorch with
    // MKL or OpenBLAS linked in (pip, pytorch.org) resolves sgemm_ elsewhere or not at all.
    if (!b.openblas && b.resolved.find("/blas/libblas") != std::string::npos)
      std::fprintf(stderr, "warning: %s\n", blas_fix_hint().c_str());
  }
  // Gloo binds to this rank's own address: loopback for single-host runs, else the host name.
  const bool single_host = ctx.master_addr == "127.0.0.1" || ctx.master_addr == "localhost" || ctx.local_world == ctx.world;
  at::Device device = at::kCPU;
  if (c.backend == "nccl") {
    device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(ctx.local_rank));
#ifdef PLANNER_HAVE_NCCL
    if (ctx.local_rank >= static_cast<int>(torch::cuda::device_count()))
      throw InputError("--nproc", "", "local rank " + std::to_string(ctx.local_rank) + " has no GPU: this machine has " +
                                          std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
    c10::cuda::set_device(device.index());
#endif
  }
  Comms comms = make_mesh_comms(c.backend, ctx.store, mesh, ctx.timeout, single_host ? "127.0.0.1" : host_name());
  Json probe_json;
  if (c.speed_probe) {
    std::vector<GemmSample> shapes;  // up to 6 distinct shapes of this run's GEMMs
    for (const auto& g : model_gemm_shapes(c.model, c.plan.tp, c.plan.micro_batch * c.training.seq_len)) {
      bool seen = false;
      for (const auto& h : shapes) seen = seen || (h.m == g.m && h.n == g.n && h.k == g.k);
      if (!seen && shapes.size() < 6) shapes.push_back(g);
    }
    const SpeedProbe probe = probe_host_speed(*comms.world, shapes, c.backend, ctx.local_rank);
    probe_json["eager_op_s"] = probe.eager_op_s;
    probe_json["gemms"] = Json::array();
    for (const auto& g : probe.gemms)
      probe_json["gemms"].push_back({{"m", g.m}, {"n", g.n}, {"k", g.k}, {"seconds", g.seconds}});
    // The probe's operand pool (128 MiB) is freed: the run's peak memory starts after it.
    reset_cpu_peak();
  }
  RankResult res = train_rank(c, mesh, comms, false, device);
  Json mine_json = rank_result_json(ctx.rank, res, c.warmup_steps);
  if (c.speed_probe) mine_json["speed_probe"] = probe_json;
  const std::string mine = mine_json.dump();
  ctx.store->set("planner/result/" + std::to_string(ctx.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
  if (ctx.rank == 0) {
    std::vector<Json> ranks;
    for (int r = 0; r < ctx.world; ++r) {
      auto v = ctx.store->get("planner/result/" + std::to_string(r));
      ranks.push_back(parse_json_text(std::string(v.begin(), v.end()), "rank " + std::to_string(r) + " result"));
    }
    Json rec = run_record_json(c, ranks, res.loss, ctx);
    if (c.speed_probe) {
      // The slowest rank's time of each probe, as calibrate takes it.
      Json p = ranks[0].at("speed_probe");
      for (const auto& r : ranks) {
        const Json& q = r.at("speed_probe");
        p["eager_op_s"] = std::max(p["eager_op_s"].get<double>(), q.at("eager_op_s").get<double>());
        for (size_t i = 0; i < p["gemms"].size(); ++i)
          p["gemms"][i]["seconds"] =
              std::max(p["gemms"][i]["seconds"].get<double>(), q.at("gemms").at(i).at("seconds").get<double>());
      }
      p["what"] = "calibrate's eager-op probe (seconds per kernel) and GEMMs, timed on every rank at once right before "
                  "training; the slowest rank's median";
      rec["speed_probe"] = p;
      for (auto& r : rec["ranks"]) r.erase("speed_probe");
    }
    if (!c.record_path.empty()) write_file_atomic(c.record_path, rec.dump(2) + "\n");
    std::printf("done: %lld steps, median step time %.4f s (after %lld warm-up), final loss %.6f%s%s\n",
                static_cast<long long>(c.steps), rec["step_time_s_median"].get<double>(),
                static_cast<long long>(c.warmup_steps), res.loss.back(), c.record_path.empty() ? "" : ", record: ",
                c.record_path.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace planner::executor
