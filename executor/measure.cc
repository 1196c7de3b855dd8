#include "executor/measure.h"
#include "executor/cold_operands.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <unistd.h>

#include "core/error.h"
#include "core/parallel_plan.h"
#include "core/progress.h"
#include "core/units.h"
#include "executor/launcher.h"
#include "executor/trainer.h"

namespace planner::executor {

// ---------------- Host identity ----------------

HostIdentity this_host() {
  HostIdentity h;
  char buf[256] = {0};
  ::gethostname(buf, sizeof(buf) - 1);
  h.hostname = buf;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) {
        h.cpu_model = line.substr(p + 1);
        h.cpu_model.erase(0, h.cpu_model.find_first_not_of(" \t"));
      }
      break;
    }
  }
  h.cores = cpu_cores();
  return h;
}

// ---------------- Shapes ----------------

std::vector<GemmSample> model_gemm_shapes(const ModelSpec& m, int64_t tp, int64_t tokens) {
  std::vector<GemmSample> out;
  const auto plan = default_tp_plan(m.kind);
  for (const auto& t : parameter_tensors(m)) {
    if (t.type != ModuleType::linear) continue;
    LocalShape ls;
    if (!tp_local_shape(t, tp_style_for(plan, t.module), tp, &ls, nullptr)) continue;
    const int64_t o = ls.rows, i = ls.cols;
    std::string mod = t.module;
    const std::string pre = "layers.*.";
    if (mod.rfind(pre, 0) == 0) mod = mod.substr(pre.size());
    const std::string tag = m.name + " tp=" + std::to_string(tp) + " T=" + std::to_string(tokens) + " " + mod;
    out.push_back({tokens, o, i, 1, 0, tag + " fwd"});     // y = x W^T
    out.push_back({o, i, tokens, 1, 0, tag + " wgrad"});   // dW = dy^T x
    out.push_back({tokens, i, o, 1, 0, tag + " dgrad"});   // dx = dy W
  }
  return out;
}

static std::vector<GemmSample> attention_shapes(const ModelSpec& m, int64_t tp, int64_t micro_batch, int64_t s) {
  std::vector<GemmSample> out;
  if (m.kind != ModelKind::llama || m.n_heads % tp != 0) return out;
  const int64_t heads = micro_batch * m.n_heads / tp;
  // scores = q k^T: per head (s x hd) @ (hd x s); context = p v: (s x s) @ (s x hd).
  const std::string tag = m.name + " tp=" + std::to_string(tp) + " B*heads=" + std::to_string(heads);
  out.push_back({s, s, m.head_dim, heads, 0, tag + " scores"});
  out.push_back({s, m.head_dim, s, heads, 0, tag + " context"});
  return out;
}

// ---------------- Timing on one rank ----------------

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Median over `repeats` samples of fn's time; fn is repeated inside a sample until it lasts
// min_time_s (per-call time = sample / calls). fn(i) gets a running call index (for operands
// that rotate, ColdOperands). Every sample starts at a barrier of all ranks (untimed): without
// it a rank that got ahead finished its samples and left the others to run theirs alone, so with
// more ranks than cores some medians were unshared rates (the eager-op probe gave 3.2 us in one
// calibration of seven and 6.1-6.9 us in the others, all on this host).
template <class F>
double time_kernel(F&& fn, int repeats, double min_time_s, Comm& world, const at::TensorOptions& opts) {
  int64_t i = 0;
  world.barrier();
  fn(i++);  // warm-up (allocations, BLAS threads)
  auto t0 = Clock::now();
  fn(i++);
  const double one = std::max(1e-7, seconds_since(t0));
  // Every rank runs the same number of calls: the largest any rank asks for.
  at::Tensor n = at::full({1}, static_cast<double>(std::max(1, std::min(1000, static_cast<int>(min_time_s / one)))),
                          opts.dtype(at::kFloat));
  world.all_reduce(n, ReduceKind::max);
  const int calls = static_cast<int>(n.item<float>());
  std::vector<double> v;
  for (int r = 0; r < repeats; ++r) {
    world.barrier();
    auto t = Clock::now();
    for (int c = 0; c < calls; ++c) fn(i++);
    v.push_back(seconds_since(t) / calls);
  }
  return median(v);
}

struct RankMeasurements {
  std::vector<double> gemm_s, gemm_bf16_s, attention_s, memory_s, collective_s, phase_s;
  std::vector<double> overlap_compute_s, overlap_alone_s, overlap_overlapped_s;
  double eager_op_s = 0;
};

// The eager-op probe: a chain of kEagerOps multiplications of a tiny tensor (256 floats: the
// bytes cost nothing) recorded by autograd, a sum, and its backward (one kernel per
// multiplication, an expand for the sum): 2 * (kEagerOps + 1) kernels, each paying the fixed
// cost of an op in a training step.
constexpr int kEagerOps = 16;
constexpr double kEagerKernels = 2.0 * (kEagerOps + 1);
// The overlap samples' compute phase: 16 GEMMs of 256 x 256 x 256, longer than the all-gathers
// measured (at most ~6 ms here), so that the all-gather can hide entirely if it would.
constexpr int kOverlapGemms = 16;

void device_sync(const std::string& backend);
at::TensorOptions tensor_options(const std::string& backend, int local_rank);

// The seconds of one call of C = A B at g's shape, operands cold (calibrate's GEMM probe).
double time_gemm(const GemmSample& g, ColdOperands& pool, int repeats, double min_time_s, Comm& world,
                 const at::TensorOptions& opts, const std::string& backend) {
  at::NoGradGuard ng;
  const int64_t na = g.m * g.k, nb = g.k * g.n;
  return time_kernel(
      [&](int64_t c) {
        at::Tensor y = at::mm(pool.take(c, na + nb, 0, {g.m, g.k}), pool.take(c, na + nb, na, {g.k, g.n}));
        device_sync(backend);
      },
      repeats, min_time_s, world, opts);
}

// The eager-op probe's seconds per kernel.
double time_eager_op(int repeats, double min_time_s, Comm& world, const at::TensorOptions& opts,
                     const std::string& backend) {
  at::Tensor x = at::randn({256}, opts).requires_grad_(true);
  const double t = time_kernel(
      [&](int64_t) {
        at::Tensor y = x;
        for (int q = 0; q < kEagerOps; ++q) y = y * 1.0001;
        y.sum().backward();
        device_sync(backend);
      },
      repeats, min_time_s, world, opts);
  return t / kEagerKernels;
}

}  // namespace

SpeedProbe probe_host_speed(Comm& world, const std::vector<GemmSample>& shapes, const std::string& backend,
                            int local_rank, int repeats, double min_time_s) {
  const at::TensorOptions opts = tensor_options(backend, local_rank);
  SpeedProbe p;
  p.eager_op_s = time_eager_op(repeats, min_time_s, world, opts, backend);
  ColdOperands pool(opts);
  for (GemmSample g : shapes) {
    g.seconds = time_gemm(g, pool, repeats, min_time_s, world, opts, backend);
    p.gemms.push_back(g);
  }
  return p;
}

// ---------------- The run ----------------

namespace {

std::vector<int64_t> divisors(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t d = 1; d <= n; ++d)
    if (n % d == 0) v.push_back(d);
  return v;
}

CalibrationSamples plan_work(const MeasureOptions& o) {
  CalibrationSamples w;
  std::set<std::tuple<int64_t, int64_t, int64_t>> seen;
  std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>> seen_att;
  for (const auto& name : o.models) {
    ModelSpec m = resolve_model(name, "--model");
    validate_model(m, "--model");
    for (int64_t tp : divisors(o.ranks)) {
      if (m.kind == ModelKind::llama && (m.n_heads % tp != 0 || m.n_kv_heads % tp != 0)) continue;
      for (int64_t mb : o.micro_batches) {
        for (auto& g : model_gemm_shapes(m, tp, mb * o.seq_len))
          if (seen.insert({g.m, g.n, g.k}).second) w.gemms.push_back(g);
        for (auto& a : attention_shapes(m, tp, mb, o.seq_len))
          if (seen_att.insert({a.batch, a.m, a.n, a.k}).second) w.attention.push_back(a);
      }
    }
  }
  if (precision_bytes(precision_from_string(o.precision, "--precision", "")).compute == 2) w.gemms_bf16 = w.gemms;
  // Memory-bound kernel (c = a + b): 12 bytes per element, 16 KiB .. 16 MiB per operand.
  for (double b = 16384; b <= 16.0 * 1024 * 1024; b *= 4) w.memory.push_back({3.0 * b, 0});
  std::vector<double> sizes = o.message_bytes;
  if (sizes.empty())
    for (double b = 4096; b <= 16.0 * 1024 * 1024; b *= 4) sizes.push_back(b);
  // Sizes divisible by the group (4-byte elements).
  auto group_bytes = [](double b, int64_t g) {
    return 4.0 * std::max<double>(static_cast<double>(g), std::round(b / 4.0 / g) * g);
  };
  for (int64_t g : divisors(o.ranks)) {
    if (g < 2) continue;
    std::vector<int64_t> strides{1};
    if (g < o.ranks) strides.push_back(o.ranks / g);  // DP-style groups
    for (int64_t stride : strides) {
      for (auto k : {FitCollective::all_gather, FitCollective::reduce_scatter, FitCollective::all_reduce})
        for (int phase : o.phase_gemms)
          for (double b : sizes) w.collectives.push_back({k, g, stride, group_bytes(b, g), 0, phase, 0});
      // Overlap of an all-gather with compute, at FSDP-unit sizes.
      for (double b : {1024.0 * 1024.0, 4.0 * 1024.0 * 1024.0}) {
        OverlapSample os;
        os.group_size = g;
        os.stride = stride;
        os.bytes = group_bytes(b, g);
        w.overlaps.push_back(os);
      }
    }
  }
  return w;
}

at::TensorOptions tensor_options(const std::string& backend, int local_rank) {
  at::TensorOptions t = at::TensorOptions().dtype(at::kFloat);
  if (backend == "nccl") t = t.device(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank)));
  return t;
}

void device_sync(const std::string& backend) {
#ifdef PLANNER_HAVE_NCCL
  if (backend == "nccl") torch::cuda::synchronize();
#else
  (void)backend;
#endif
}

int measure_rank(const MeasureOptions& o, const CalibrationSamples& work,
                 const std::function<int(const CalibrationSamples&)>& on_samples, RankContext& ctx) {
  CalibrationSamples w = work;
  const auto opts = tensor_options(o.backend, ctx.local_rank);
  const bool talk = ctx.rank == 0 && !o.quiet;
  // Every rank times the same kernel at the same time (as in training, the ranks share the cores).
  std::unique_ptr<Comm> world = make_comm(o.backend, ctx.store, "world", "cal/world/", ctx.rank, ctx.world, ctx.timeout,
                                          ctx.master_addr);
  RankMeasurements mine;
  // Rounds: every sample is timed once per round (o.repeats split over the rounds) and its value
  // is the median of its rounds, so that a phase in which a shared machine runs slow (minutes on
  // the development VM) moves one round of every sample rather than every repetition of some.
  const int rounds = std::max(1, o.rounds);
  const int per_round = std::max(1, (o.repeats + rounds - 1) / rounds);
  std::vector<std::vector<double>> gemm_r(w.gemms.size()), gemm16_r(w.gemms_bf16.size()), att_r(w.attention.size()),
      mem_r(w.memory.size()),
      coll_r(w.collectives.size()), phase_r(w.collectives.size());
  std::vector<double> eager_r;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Comm>> groups;
  ProgressLine progress(stderr, ::isatty(::fileno(stderr)) == 1,
                        static_cast<size_t>(rounds) * (w.gemms.size() + w.gemms_bf16.size() + 2 + w.collectives.size()) +
                            w.overlaps.size(),
                        "calibrate", !talk);
  for (int round = 0; round < rounds; ++round) {
  {
    at::NoGradGuard ng;
    int i = 0;
    ColdOperands pool(opts);
    for (size_t gi = 0; gi < w.gemms.size(); ++gi) {
      gemm_r[gi].push_back(time_gemm(w.gemms[gi], pool, per_round, o.min_time_s, *world, opts, o.backend));
      progress.step("round " + std::to_string(round + 1) + "/" + std::to_string(rounds) + ", GEMM " +
                    std::to_string(++i) + "/" + std::to_string(w.gemms.size()));
    }
    if (!w.gemms_bf16.empty()) {
      const auto bf16 = opts.dtype(at::kBFloat16);
      ColdOperands pool16(bf16);
      for (size_t gi = 0; gi < w.gemms_bf16.size(); ++gi) {
        gemm16_r[gi].push_back(time_gemm(w.gemms_bf16[gi], pool16, per_round, o.min_time_s, *world, bf16, o.backend));
        progress.step("round " + std::to_string(round + 1) + "/" + std::to_string(rounds) + ", bf16 GEMM " +
                      std::to_string(gi + 1) + "/" + std::to_string(w.gemms_bf16.size()));
      }
    }
    for (size_t ai = 0; ai < w.attention.size(); ++ai) {
      const auto& g = w.attention[ai];
      const int64_t na = g.batch * g.m * g.k, nb = g.batch * g.k * g.n;
      att_r[ai].push_back(time_kernel(
          [&](int64_t c) {
            at::Tensor y = at::bmm(pool.take(c, na + nb, 0, {g.batch, g.m, g.k}),
                                   pool.take(c, na + nb, na, {g.batch, g.k, g.n}));
            device_sync(o.backend);
          },
          per_round, o.min_time_s, *world, opts));
    }
    progress.step("round " + std::to_string(round + 1) + "/" + std::to_string(rounds) + ", memory-bound kernel");
    for (size_t mi = 0; mi < w.memory.size(); ++mi) {
      const int64_t n = static_cast<int64_t>(w.memory[mi].bytes / 12.0);
      mem_r[mi].push_back(time_kernel(
          [&](int64_t c) {
            at::Tensor y = pool.take(c, 2 * n, 0, {n}) + pool.take(c, 2 * n, n, {n});
            device_sync(o.backend);
          },
          per_round, o.min_time_s, *world, opts));
    }
  }
  {
    progress.step("round " + std::to_string(round + 1) + "/" + std::to_string(rounds) + ", eager op overhead");
    eager_r.push_back(time_eager_op(per_round, o.min_time_s, *world, opts, o.backend));
  }
  // Collectives over the mesh's groups: for size g, consecutive groups (TP) and strided (DP).
  int ci = 0;
  for (size_t si = 0; si < w.collectives.size(); ++si) {
    const auto& s = w.collectives[si];
    auto key = std::make_pair(s.group_size, s.stride);
    if (!groups.count(key)) {
      // Mesh with tp = g (stride 1) or dp = g (stride = ranks / g).
      const int64_t g = s.group_size;
      const int64_t tp = s.stride == 1 ? g : ctx.world / g;
      const int64_t dp = ctx.world / tp;
      Mesh mesh{dp, tp, ctx.rank};
      const bool consecutive = s.stride == 1;
      const int idx = consecutive ? mesh.dp_index() : mesh.tp_index();
      const int grank = consecutive ? mesh.tp_index() : mesh.dp_index();
      const std::string tag = "cal/g" + std::to_string(g) + "s" + std::to_string(s.stride) + "/" + std::to_string(idx) + "/";
      groups[key] = make_comm(o.backend, ctx.store, consecutive ? "tensor_parallel" : "data_parallel", tag, grank,
                              static_cast<int>(g), ctx.timeout, ctx.master_addr);
    }
    Comm& c = *groups[key];
    const int64_t n = static_cast<int64_t>(s.bytes / 4.0);
    at::Tensor in, out;
    std::function<void()> fn;
    switch (s.kind) {
      case FitCollective::all_gather:
        in = at::randn({n / s.group_size}, opts);
        out = at::empty({n}, opts);
        fn = [&] { c.all_gather(in, out); device_sync(o.backend); };
        break;
      case FitCollective::reduce_scatter:
        in = at::randn({n}, opts);
        out = at::empty({n / s.group_size}, opts);
        fn = [&] { c.reduce_scatter(in, out, ReduceKind::sum); device_sync(o.backend); };
        break;
      case FitCollective::all_reduce:
        in = at::randn({n}, opts);
        fn = [&] { c.all_reduce(in, ReduceKind::sum); device_sync(o.backend); };
        break;
    }
    // Every group runs at once, as the mesh's groups do in training, and each call follows a
    // compute phase on every rank (the point's phase_gemms GEMMs of 256 x 256 x 256, from
    // --phase-gemms, default 0, 1, 2 and 4: up to a few ms on a CPU core), as a training step's
    // collectives follow its layers: on a host with more ranks than cores the time a collective
    // waits for its last member to be scheduled is then part of the sample, as it is in training,
    // and it grows with the compute before the call (docs/calibration.md). The phase's own time is
    // recorded: the simulator interpolates between the phases at the compute it predicts before
    // each collective. A burst of back-to-back calls times something training never does (a
    // 4-rank all_reduce of 4 KiB took 5.4 ms a call that way).
    fn();
    std::vector<double>& v = coll_r[si];
    at::Tensor ga = at::randn({256, 256}, opts), gb = at::randn({256, 256}, opts);
    for (int r = 0; r < per_round; ++r) {
      world->barrier();
      auto t_phase = Clock::now();
      {
        at::NoGradGuard ng;
        for (int q = 0; q < s.phase_gemms; ++q) at::Tensor gc = at::mm(ga, gb);
        device_sync(o.backend);
      }
      phase_r[si].push_back(seconds_since(t_phase));
      auto t0 = Clock::now();
      fn();
      v.push_back(seconds_since(t0));
    }
    progress.step("round " + std::to_string(round + 1) + "/" + std::to_string(rounds) + ", collective " +
                  std::to_string(++ci) + "/" + std::to_string(w.collectives.size()));
  }
  }  // rounds
  for (auto& r : gemm_r) mine.gemm_s.push_back(median(r));
  for (auto& r : gemm16_r) mine.gemm_bf16_s.push_back(median(r));
  for (auto& r : att_r) mine.attention_s.push_back(median(r));
  for (auto& r : mem_r) mine.memory_s.push_back(median(r));
  for (auto& r : coll_r) mine.collective_s.push_back(median(r));
  for (auto& r : phase_r) mine.phase_s.push_back(median(r));
  mine.eager_op_s = median(eager_r);
  // Overlap: the same compute phase as above, alone; the all-gather after it, as in the table;
  // and the all-gather started before it and waited for after it (FSDP's prefetch). The three
  // take turns within each repetition, so that a drifting machine affects them alike.
  int oi = 0;
  const int max_phase = *std::max_element(o.phase_gemms.begin(), o.phase_gemms.end());
  for (auto& s : w.overlaps) {
    Comm& c = *groups.at({s.group_size, s.stride});  // the all_gather samples made it
    const int64_t n = static_cast<int64_t>(s.bytes / 4.0);
    at::Tensor in = at::randn({n / s.group_size}, opts), out = at::empty({n}, opts);
    at::Tensor ga = at::randn({256, 256}, opts), gb = at::randn({256, 256}, opts);
    auto phase = [&](int gemms) {
      at::NoGradGuard ng;
      for (int q = 0; q < gemms; ++q) at::Tensor gc = at::mm(ga, gb);
      device_sync(o.backend);
    };
    c.all_gather(in, out);
    std::vector<double> vc, va, vo;
    for (int r = 0; r < o.repeats; ++r) {
      world->barrier();
      auto t0 = Clock::now();
      phase(kOverlapGemms);
      vc.push_back(seconds_since(t0));
      world->barrier();
      phase(max_phase);
      t0 = Clock::now();
      c.all_gather(in, out);
      device_sync(o.backend);
      va.push_back(seconds_since(t0));
      world->barrier();
      t0 = Clock::now();
      {
        std::unique_ptr<CommHandle> h = c.all_gather_async(in, out);
        phase(kOverlapGemms);
        h->wait();
      }
      device_sync(o.backend);
      vo.push_back(seconds_since(t0));
    }
    mine.overlap_compute_s.push_back(median(vc));
    mine.overlap_alone_s.push_back(median(va));
    mine.overlap_overlapped_s.push_back(median(vo));
    progress.step("overlap " + std::to_string(++oi) + "/" + std::to_string(w.overlaps.size()));
  }
  progress.finish();
  Json j = {{"gemm", mine.gemm_s}, {"gemm_bf16", mine.gemm_bf16_s}, {"attention", mine.attention_s}, {"memory", mine.memory_s},
            {"collectives", mine.collective_s}, {"phase", mine.phase_s}, {"eager_op", mine.eager_op_s},
            {"overlap_compute", mine.overlap_compute_s}, {"overlap_alone", mine.overlap_alone_s},
            {"overlap_overlapped", mine.overlap_overlapped_s}};
  const std::string text = j.dump();
  ctx.store->set("planner/calibration/" + std::to_string(ctx.rank), std::vector<uint8_t>(text.begin(), text.end()));
  world->barrier();
  if (ctx.rank != 0) return 0;

  // Rank 0: the slowest rank's median is the sample (a step waits for its slowest rank).
  std::vector<Json> all;
  for (int r = 0; r < ctx.world; ++r) {
    auto v = ctx.store->get("planner/calibration/" + std::to_string(r));
    all.push_back(parse_json_text(std::string(v.begin(), v.end()), "rank " + std::to_string(r) + " calibration"));
  }
  auto take_max = [&](const char* key, size_t i) {
    double m = 0;
    for (const auto& a : all) m = std::max(m, a.at(key).at(i).get<double>());
    return m;
  };
  for (size_t i = 0; i < w.gemms.size(); ++i) w.gemms[i].seconds = take_max("gemm", i);
  for (size_t i = 0; i < w.gemms_bf16.size(); ++i) w.gemms_bf16[i].seconds = take_max("gemm_bf16", i);
  for (size_t i = 0; i < w.attention.size(); ++i) w.attention[i].seconds = take_max("attention", i);
  for (size_t i = 0; i < w.memory.size(); ++i) w.memory[i].seconds = take_max("memory", i);
  w.eager_op_s = 0;
  for (const auto& a : all) w.eager_op_s = std::max(w.eager_op_s, a.at("eager_op").get<double>());
  for (size_t i = 0; i < w.collectives.size(); ++i) {
    w.collectives[i].seconds = take_max("collectives", i);
    w.collectives[i].after_compute_s = take_max("phase", i);
  }
  for (size_t i = 0; i < w.overlaps.size(); ++i) {
    w.overlaps[i].compute_s = take_max("overlap_compute", i);
    w.overlaps[i].alone_s = take_max("overlap_alone", i);
    w.overlaps[i].overlapped_s = take_max("overlap_overlapped", i);
  }
  w.host = this_host();
  w.host.cores = ctx.machine_cpus;  // this rank may be bound to fewer
  w.threads_per_rank = ctx.threads;
  return on_samples(w);
}

}  // namespace

CalibrationSamples plan_measurement(const MeasureOptions& o) {
  if (o.ranks < 1) throw InputError("--ranks", "", "must be >= 1, got " + std::to_string(o.ranks));
  if (o.ranks == 1 && o.backend == "gloo")
    throw InputError("--ranks", "", "1 with --backend gloo: a CPU profile is per rank count and needs a group to time the "
                                    "collectives (use the rank count you will train with, >= 2)");
  if (o.repeats < 1) throw InputError("--repeats", "", "must be >= 1");
  if (o.phase_gemms.empty()) throw InputError("--phase-gemms", "", "needs at least one phase (e.g. 0,1,2,4)");
  for (size_t i = 0; i < o.phase_gemms.size(); ++i) {
    if (o.phase_gemms[i] < 0)
      throw InputError("--phase-gemms", "", "must be >= 0, got " + std::to_string(o.phase_gemms[i]));
    for (size_t j = 0; j < i; ++j)
      if (o.phase_gemms[j] == o.phase_gemms[i])
        throw InputError("--phase-gemms", "", "lists " + std::to_string(o.phase_gemms[i]) + " twice");
  }
  if (o.rounds < 1 || o.rounds > o.repeats)
    throw InputError("--rounds", "", "must be in [1, --repeats (" + std::to_string(o.repeats) + ")], got " + std::to_string(o.rounds));
  check_cpu_bind(o.cpu_bind, "--cpu-bind");
  if (o.backend != "gloo" && o.backend != "nccl")
    throw InputError("--backend", "", "'" + o.backend + "'; allowed: gloo, nccl");
  if (o.backend == "nccl" && !nccl_compiled())
    throw InputError("--backend", "", "'nccl' needs a CUDA LibTorch build; this planner was built with a CPU-only LibTorch");
  return plan_work(o);  // InputError on a bad model before any rank starts
}

int run_measurement(const MeasureOptions& o, const CalibrationSamples& work,
                    const std::function<int(const CalibrationSamples&)>& on_samples) {
  LaunchOptions lo;
  lo.nproc = o.ranks;
  lo.run_timeout_s = o.run_timeout_s;
  lo.threads_per_rank = o.threads_per_rank;
  lo.backend = o.backend;
  lo.cpu_bind = o.cpu_bind;
  lo.fault_timeout_s = 60;
  return launch_local_ranks(lo, [&o, &work, &on_samples](RankContext& ctx) { return measure_rank(o, work, on_samples, ctx); });
}

}  // namespace planner::executor
