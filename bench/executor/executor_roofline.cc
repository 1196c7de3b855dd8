// executor_roofline: the executor's step time next to its roofline on this machine.
//
// Roofline (per optimizer step, per rank) = the step's matmuls timed as plain GEMMs (at::mm /
// at::bmm with the same shapes: forward, input-gradient and weight-gradient GEMM of every TP-local
// Linear, the attention score and value matmuls, a second forward under ac=full) + the step's
// collectives replayed as plain collectives (same group, kind, call count and mean size as the
// run recorded). Both are measured in the same processes right after training, with the same
// threads per rank, every rank doing the same at the same time. Compute and communication are
// added (no overlap on CPU/Gloo: the collectives share the cores). ratio = step time / roofline.
//
//   executor_roofline [--model feedforward:1024x4096] [--dp 2] [--tp 1] [--micro-batch 1]
//                     [--seq-len 256] [--global-batch 4] [--steps 6] [--warmup 2] [--out FILE]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/json_io.h"
#include "core/model_spec.h"
#include "core/parallel_plan.h"
#include "executor/comm.h"
#include "executor/launcher.h"
#include "executor/trainer.h"

using namespace planner;
using namespace planner::executor;

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double time_best_of(int reps, F&& f) {
  f();  // warm
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// Seconds of the GEMMs of one micro-batch (forward + backward) on this rank.
double gemm_seconds(const ModelSpec& m, const Plan& p, int64_t seq_len) {
  at::NoGradGuard ng;
  const int64_t T = p.micro_batch * seq_len;
  const auto plan = default_tp_plan(m.kind);
  double fwd = 0, bwd = 0;
  for (const auto& t : parameter_tensors(m)) {
    if (t.type != ModuleType::linear) continue;
    LocalShape s;
    std::string why;
    tp_local_shape(t, tp_style_for(plan, t.module), p.tp, &s, &why);
    at::Tensor x = at::randn({T, s.cols}), w = at::randn({s.rows, s.cols}), g = at::randn({T, s.rows});
    fwd += t.count * time_best_of(3, [&] { at::mm(x, w.t()); });
    bwd += t.count * time_best_of(3, [&] { at::mm(g, w); });
    bwd += t.count * time_best_of(3, [&] { at::mm(g.t(), x); });
  }
  if (m.kind == ModelKind::llama) {
    const int64_t bh = p.micro_batch * m.n_heads / p.tp, S = seq_len, hd = m.head_dim;
    at::Tensor q = at::randn({bh, S, hd}), k = at::randn({bh, S, hd}), a = at::randn({bh, S, S});
    const double qk = time_best_of(3, [&] { at::bmm(q, k.transpose(1, 2)); });  // (S,hd)x(hd,S)
    const double av = time_best_of(3, [&] { at::bmm(a, q); });                 // (S,S)x(S,hd)
    const double at_ = time_best_of(3, [&] { at::bmm(a.transpose(1, 2), q); });
    fwd += m.n_layers * (qk + av);
    bwd += m.n_layers * (2 * av + qk + at_);  // dQ, dK: (S,S)x(S,hd); dA: (S,hd)x(hd,S); dV: A^T dO
  }
  const double recompute = p.ac == ActivationCheckpointing::full ? fwd : 0;
  return fwd + bwd + recompute;
}

// Replays a group's recorded collectives (per step) and returns their seconds.
double replay(Comm& c, const std::map<CollectiveKind, CollectiveStats>& per_step) {
  double s = 0;
  const int n = c.size();
  for (const auto& [kind, st] : per_step) {
    if (st.calls == 0) continue;
    const int64_t mean_bytes = st.bytes / st.calls;
    const int64_t numel = std::max<int64_t>(1, mean_bytes / 4);
    auto t0 = Clock::now();
    for (int64_t i = 0; i < st.calls; ++i) {
      if (kind == CollectiveKind::all_gather) {
        at::Tensor out = at::empty({numel / n * n});
        at::Tensor in = at::ones({numel / n});
        c.all_gather(in, out);
      } else if (kind == CollectiveKind::reduce_scatter) {
        at::Tensor in = at::ones({numel / n * n}), out = at::empty({numel / n});
        c.reduce_scatter(in, out, ReduceKind::avg);
      } else if (kind == CollectiveKind::all_reduce) {
        at::Tensor t = at::ones({numel});
        c.all_reduce(t, ReduceKind::sum);
      } else if (kind == CollectiveKind::broadcast) {
        at::Tensor t = at::ones({numel});
        c.broadcast(t, 0);
      }
    }
    s += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"executor_roofline: executor step time vs GEMM + collective roofline"};
  std::string model = "feedforward:1024x4096", out;
  int64_t dp = 2, tp = 1, mb = 1, seq = 256, global = 4, steps = 6, warmup = 2;
  int threads = 0;
  app.add_option("--model", model);
  app.add_option("--dp", dp);
  app.add_option("--tp", tp);
  app.add_option("--micro-batch", mb);
  app.add_option("--seq-len", seq);
  app.add_option("--global-batch", global);
  app.add_option("--steps", steps);
  app.add_option("--warmup", warmup);
  app.add_option("--threads-per-rank", threads);
  app.add_option("--out", out, "Write the result as JSON");
  CLI11_PARSE(app, argc, argv);

  TrainConfig c;
  c.model = resolve_model(model);
  c.training.seq_len = seq;
  c.training.global_batch = global;
  c.training.precision = Precision::fp32;
  c.plan.dp = dp;
  c.plan.tp = tp;
  c.plan.micro_batch = mb;
  c.steps = steps;
  c.warmup_steps = warmup;
  c.progress = false;
  validate_train_config(c, dp * tp, "executor_roofline");
  LaunchOptions lo;
  lo.nproc = static_cast<int>(dp * tp);
  lo.threads_per_rank = threads;
  lo.run_timeout_s = 580;
  const std::string tmp = "/tmp/executor_roofline_" + std::to_string(::getpid()) + ".json";
  int rc = launch_local_ranks(lo, [&](RankContext& ctx) {
    Mesh mesh{dp, tp, ctx.rank};
    Comms comms = make_mesh_comms("gloo", ctx.store, mesh, ctx.timeout);
    RankResult r = train_rank(c, mesh, comms, false);
    const int64_t measured = steps - warmup;
    const int64_t accum = global / (dp * mb);
    auto per_step = [&](Comm& g) {
      std::map<CollectiveKind, CollectiveStats> m;
      for (auto k : {CollectiveKind::all_gather, CollectiveKind::reduce_scatter, CollectiveKind::all_reduce,
                     CollectiveKind::broadcast}) {
        CollectiveStats s = g.stats(k);
        m[k] = {s.seconds / measured, s.bytes / measured, s.calls / measured};
      }
      return m;
    };
    auto world_s = per_step(*comms.world), dp_s = per_step(*comms.dp), tp_s = per_step(*comms.tp);
    const double step_s = median(std::vector<double>(r.step_time_s.begin() + warmup, r.step_time_s.end()));
    comms.world->barrier();
    const double gemm_s = accum * gemm_seconds(c.model, c.plan, seq);
    comms.world->barrier();
    double coll_s = 0;
    for (int rep = 0; rep < 2; ++rep) {  // best of 2 replays
      double s = replay(*comms.world, world_s) + replay(*comms.dp, dp_s) + replay(*comms.tp, tp_s);
      coll_s = rep == 0 ? s : std::min(coll_s, s);
    }
    // Max over ranks (the step is as slow as the slowest rank).
    at::Tensor v = at::tensor({step_s, gemm_s, coll_s}, at::kDouble);
    comms.world->all_reduce(v, ReduceKind::max);
    if (ctx.rank == 0) {
      const double roof = v[1].item<double>() + v[2].item<double>();
      Json j = {{"model", c.model.name}, {"dp", dp}, {"tp", tp}, {"micro_batch", mb}, {"seq_len", seq},
                {"global_batch", global}, {"threads_per_rank", ctx.threads}, {"step_time_s", v[0].item<double>()},
                {"gemm_s", v[1].item<double>()}, {"collectives_s", v[2].item<double>()}, {"roofline_s", roof},
                {"ratio", v[0].item<double>() / roof}};
      write_file_atomic(tmp, j.dump(2) + "\n");
    }
    return 0;
  });
  if (rc != 0) return rc;
  Json j = read_json_file(tmp);
  std::remove(tmp.c_str());
  std::printf("%s dp=%lld tp=%lld mb=%lld seq=%lld global=%lld threads/rank=%d\n", c.model.name.c_str(),
              static_cast<long long>(dp), static_cast<long long>(tp), static_cast<long long>(mb),
              static_cast<long long>(seq), static_cast<long long>(global), j["threads_per_rank"].get<int>());
  std::printf("  step time (median after warm-up)  %.4f s\n", j["step_time_s"].get<double>());
  std::printf("  roofline = GEMMs %.4f s + collectives %.4f s = %.4f s\n", j["gemm_s"].get<double>(),
              j["collectives_s"].get<double>(), j["roofline_s"].get<double>());
  std::printf("  ratio step / roofline              %.3f (target <= 1.15)\n", j["ratio"].get<double>());
  if (!out.empty()) write_file_atomic(out, j.dump(2) + "\n");
  return 0;
}
