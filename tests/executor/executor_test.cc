// Executor tests: communication (fake and Gloo on loopback ranks), mesh, data sampler, numerical
// equivalence of every (dp, tp) split with the single-process reference, faults, checkpoints.
// Every multi-process test runs under launch_local_ranks with a run timeout (the launcher kills
// the ranks after it), so nothing here can hang.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <ATen/record_function.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <tuple>
#include <unistd.h>

#include "core/error.h"
#include "core/model_spec.h"
#include "executor/blas.h"
#include "executor/comm.h"
#include "executor/launcher.h"
#include "executor/data.h"
#include "executor/fsdp.h"
#include "executor/memory.h"
#include "executor/model.h"
#include "executor/parallelize.h"
#include "executor/trainer.h"

#include "support/run_binary.h"

using namespace planner;
using namespace planner::executor;

namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/planner_exec_" + std::to_string(::getpid()) + "_" + name;
}

// Runs `planner train ARGS --quiet --record FILE` and returns the run record; an empty object
// (and a failed expectation with the output) when it did not exit 0.
Json train_record(const std::string& args, const std::string& file) {
  const auto r = ::planner::testing::run_planner("train " + args + " --quiet --record " + file, 120);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? read_json_file(file) : Json::object();
}

std::string read_all(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs `body` with stderr (inherited by forked ranks) sent to a file; returns what was written.
std::string capture_stderr(const std::function<void()>& body) {
  const std::string path = temp_path("stderr.txt");
  std::fflush(stderr);
  int saved = ::dup(2);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fd, 2);
  ::close(fd);
  body();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  return read_all(path);
}

LaunchOptions quick(int nproc, double fault_timeout_s = 20, double run_timeout_s = 120) {
  LaunchOptions o;
  o.nproc = nproc;
  o.fault_timeout_s = fault_timeout_s;
  o.run_timeout_s = run_timeout_s;
  o.threads_per_rank = 1;
  return o;
}

}  // namespace

// ------------------------------------------------------------------------------------- mesh

TEST(CpuBind, BlocksWhenEnoughCpusRoundRobinWhenNot) {
  const std::vector<int> cpus{0, 1, 2, 3, 4, 5};
  // 6 CPUs, 2 ranks: 3 consecutive CPUs each.
  EXPECT_EQ(cpus_for_rank(cpus, 0, 2), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(cpus_for_rank(cpus, 1, 2), (std::vector<int>{3, 4, 5}));
  // 6 CPUs, 4 ranks: one each, CPUs 4 and 5 left over.
  EXPECT_EQ(cpus_for_rank(cpus, 3, 4), (std::vector<int>{3}));
  // 2 CPUs (as allowed by the process: 6 and 7), 4 ranks: round robin, ranks 0 and 2 share CPU 6.
  const std::vector<int> two{6, 7};
  EXPECT_EQ(cpus_for_rank(two, 0, 4), (std::vector<int>{6}));
  EXPECT_EQ(cpus_for_rank(two, 1, 4), (std::vector<int>{7}));
  EXPECT_EQ(cpus_for_rank(two, 2, 4), (std::vector<int>{6}));
  EXPECT_TRUE(cpus_for_rank({}, 0, 4).empty());
  EXPECT_THROW(check_cpu_bind("sockets", "--cpu-bind"), InputError);
  check_cpu_bind("auto", "--cpu-bind");
}

TEST(Mesh, TensorParallelGroupsAreConsecutiveRanks) {
  // dp=2, tp=2: TP groups {0,1} {2,3}; DP groups {0,2} {1,3}.
  Mesh m{2, 2, 3};
  EXPECT_EQ(m.dp_index(), 1);
  EXPECT_EQ(m.tp_index(), 1);
  EXPECT_EQ(m.tp_group_ranks(), (std::vector<int>{2, 3}));
  EXPECT_EQ(m.dp_group_ranks(), (std::vector<int>{1, 3}));
}

TEST(Mesh, RefusesAMismatchNamingEveryFactor) {
  try {
    check_mesh(2, 3, 4, "--dp/--tp");
    FAIL() << "no error";
  } catch (const InputError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("dp (2)"), std::string::npos) << m;
    EXPECT_NE(m.find("tp (3)"), std::string::npos) << m;
    EXPECT_NE(m.find("= 6"), std::string::npos) << m;
    EXPECT_NE(m.find("world size is 4"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(check_mesh(2, 2, 4, "x"));
}

// ------------------------------------------------------------------------------------- comm

// Rank r contributes [r*10 + 0, r*10 + 1, ...]; results below are worked out by hand.
static void check_collectives(Comm& c) {
  const int r = c.rank(), n = c.size();
  at::Tensor in = at::arange(0, 2, at::kFloat) + 10.0 * r;  // rank r: [10r, 10r+1]
  at::Tensor out = at::empty({2 * n});
  c.all_gather(in, out);
  for (int q = 0; q < n; ++q) {
    EXPECT_FLOAT_EQ(out[2 * q].item<float>(), 10.0f * q);
    EXPECT_FLOAT_EQ(out[2 * q + 1].item<float>(), 10.0f * q + 1);
  }
  // reduce_scatter: every rank sends [0, 1, ..., 2n-1] + r; rank r gets elements 2r, 2r+1 summed
  // over ranks: n*(2r) + (0+1+..+n-1), and / n for avg.
  at::Tensor rs_in = at::arange(0, 2 * n, at::kFloat) + static_cast<float>(r);
  at::Tensor rs_out = at::empty({2});
  c.reduce_scatter(rs_in, rs_out, ReduceKind::sum);
  const float tri = n * (n - 1) / 2.0f;
  EXPECT_FLOAT_EQ(rs_out[0].item<float>(), n * 2.0f * r + tri);
  EXPECT_FLOAT_EQ(rs_out[1].item<float>(), n * (2.0f * r + 1) + tri);
  c.reduce_scatter(rs_in, rs_out, ReduceKind::avg);
  EXPECT_FLOAT_EQ(rs_out[0].item<float>(), (n * 2.0f * r + tri) / n);
  at::Tensor t = at::full({3}, static_cast<float>(r + 1));
  c.all_reduce(t, ReduceKind::sum);  // 1 + 2 + ... + n
  EXPECT_FLOAT_EQ(t[0].item<float>(), n * (n + 1) / 2.0f);
  at::Tensor mx = at::full({1}, static_cast<float>(r));
  c.all_reduce(mx, ReduceKind::max);
  EXPECT_FLOAT_EQ(mx[0].item<float>(), n - 1.0f);
  at::Tensor b = at::full({2}, static_cast<float>(r));
  c.broadcast(b, n - 1);
  EXPECT_FLOAT_EQ(b[1].item<float>(), n - 1.0f);
  c.barrier();
  EXPECT_EQ(c.stats(CollectiveKind::all_gather).calls, 1);
  EXPECT_EQ(c.stats(CollectiveKind::all_gather).bytes, 2 * n * 4);      // gathered output, fp32
  EXPECT_EQ(c.stats(CollectiveKind::reduce_scatter).bytes, 2 * 2 * n * 4);  // two calls, input size
}

TEST(FakeComm, CollectivesOverThreads) {
  auto world = make_fake_world(3);
  std::vector<std::thread> ts;
  for (int r = 0; r < 3; ++r)
    ts.emplace_back([&, r] {
      auto c = make_fake_comm(world, r);
      check_collectives(*c);
    });
  for (auto& t : ts) t.join();
}

TEST(GlooComm, CollectivesOnLoopbackRanks) {
  int rc = launch_local_ranks(quick(3), [](RankContext& ctx) {
    auto c = make_gloo_comm(ctx.store, "world", "t/", ctx.rank, ctx.world, ctx.timeout, "127.0.0.1");
    check_collectives(*c);
    return ::testing::Test::HasFailure() ? 1 : 0;
  });
  EXPECT_EQ(rc, 0);
}

// Debian's Gloo has no bfloat16: bf16 tensors move as 16-bit raw data and are summed in fp32
// (executor/comm.h). Small integers are exact in bf16, so the fp32 checks apply unchanged; the
// sum 256 + 1 + 1 tells an fp32 accumulation (258, a bf16 number) from a bf16 one (256 + 1
// rounds to 256, twice).
TEST(GlooComm, Bfloat16MovesAsRawBytesAndSumsInFp32) {
  int rc = launch_local_ranks(quick(3), [](RankContext& ctx) {
    auto c = make_gloo_comm(ctx.store, "world", "t/", ctx.rank, ctx.world, ctx.timeout, "127.0.0.1");
    const int r = c->rank(), n = c->size();
    const auto bf16 = at::TensorOptions().dtype(at::kBFloat16);
    at::Tensor in = (at::arange(0, 2, at::kFloat) + 10.0 * r).to(at::kBFloat16);
    at::Tensor out = at::empty({2 * n}, bf16);
    c->all_gather(in, out);
    for (int q = 0; q < n; ++q) EXPECT_EQ(out[2 * q + 1].item<float>(), 10.0f * q + 1);
    at::Tensor rs_in = (at::arange(0, 2 * n, at::kFloat) + static_cast<float>(r)).to(at::kBFloat16);
    at::Tensor rs_out = at::empty({2}, bf16);
    c->reduce_scatter(rs_in, rs_out, ReduceKind::avg);  // (n * 2r + 0+1+2) / n = 2r + 1
    EXPECT_EQ(rs_out[0].item<float>(), 2.0f * r + 1);
    at::Tensor big = at::full({2 * n}, r == 0 ? 256.0f : 1.0f, bf16);
    c->reduce_scatter(big, rs_out, ReduceKind::sum);
    EXPECT_EQ(rs_out[1].item<float>(), 258.0f);
    at::Tensor t = at::full({3}, r == 0 ? 256.0f : 1.0f, bf16);
    c->all_reduce(t, ReduceKind::sum);
    EXPECT_EQ(t[2].item<float>(), 258.0f);
    EXPECT_EQ(t.scalar_type(), at::kBFloat16);
    at::Tensor b = at::full({2}, static_cast<float>(r), bf16);
    c->broadcast(b, n - 1);
    EXPECT_EQ(b[1].item<float>(), n - 1.0f);
    // Bytes: the gathered output at 2 bytes per element (2n x 2); the all-reduce ran on an fp32
    // copy (3 x 4).
    EXPECT_EQ(c->stats(CollectiveKind::all_gather).bytes, 2 * n * 2);
    EXPECT_EQ(c->stats(CollectiveKind::reduce_scatter).bytes, 2 * (2 * n * 2));
    EXPECT_EQ(c->stats(CollectiveKind::all_reduce).bytes, 3 * 4);
    return ::testing::Test::HasFailure() ? 1 : 0;
  });
  EXPECT_EQ(rc, 0);
}

// ------------------------------------------------------------------------------------- data

TEST(Data, SameBatchInATensorParallelGroupDistinctAcrossDataParallel) {
  ModelSpec m = resolve_model("llama-tiny");
  // Global batch 4, dp=2, micro_batch 1: dp rank 1's 2nd micro-batch is global sequence 3.
  Batch whole = make_batch(m, 16, 4, 1, 0, 4, 0, /*step=*/5, /*seed=*/7);
  Batch d1m1 = make_batch(m, 16, 4, 2, 1, 1, 1, 5, 7);
  Batch d0m0 = make_batch(m, 16, 4, 2, 0, 1, 0, 5, 7);
  EXPECT_TRUE(at::equal(d1m1.input[0], whole.input[3]));
  EXPECT_TRUE(at::equal(d0m0.input[0], whole.input[0]));
  EXPECT_FALSE(at::equal(d0m0.input[0], d1m1.input[0]));
  // The batch depends on (dp rank, micro-batch, step, seed) only, never on the TP rank, so every
  // rank of a TP group calls make_batch with the same arguments and gets the same tensor.
  EXPECT_TRUE(at::equal(make_batch(m, 16, 4, 2, 1, 1, 1, 5, 7).input, d1m1.input));
  // Targets are the inputs shifted by one token.
  EXPECT_TRUE(at::equal(whole.input[2].narrow(0, 1, 15), whole.target[2].narrow(0, 0, 15)));
  EXPECT_FALSE(at::equal(make_batch(m, 16, 4, 2, 1, 1, 1, 6, 7).input, d1m1.input));  // next step differs
}

// ------------------------------------------------------------------------------------- model ops

// Matrix products dispatched on this thread while the counter is alive (RecordFunction sees every
// ATen op, nested ones too: at::matmul reaches aten::mm or aten::bmm).
struct MatmulCounter {
  static inline thread_local int mm = 0, bmm = 0;
  at::CallbackHandle handle;
  MatmulCounter() {
    mm = bmm = 0;
    handle = at::addThreadLocalCallback(at::RecordFunctionCallback(
        [](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
          const std::string name = fn.name();
          if (name == "aten::mm") ++mm;
          if (name == "aten::bmm") ++bmm;
          return nullptr;
        }));
  }
  ~MatmulCounter() { at::removeCallback(handle); }
};

TEST(ModelOps, LlamaForwardRunsTheMatmulsTheSimulatorPrices) {
  // llama-tiny (4 layers) at dp=1 tp=1 on CPU: each block runs 7 Linears (wq, wk, wv, wo, w1, w2,
  // w3) and the attention's 2 batched products (q k^T and softmax(.) v, the 4 T S q FLOPs the
  // simulator prices); the output head is 1 more Linear: 4 x 7 + 1 = 29 mm, 4 x 2 = 8 bmm.
  // A third product per block fails here: from 456969e until this test, the CPU forward computed
  // the scores twice, once for nothing.
  ModelSpec m = resolve_model("llama-tiny");
  FakeMeshWorld w = make_fake_mesh_world(1, 1);
  Mesh mesh{1, 1, 0};
  Comms comms = make_fake_mesh_comms(w, mesh);
  ExecOptions opts;
  ShardedModel model(m, 1, 1, mesh, &comms, opts, /*seed=*/1);
  Batch b = make_batch(m, 16, 1, 1, 0, 1, 0, /*step=*/0, /*seed=*/1);
  MatmulCounter count;
  at::Tensor loss = model.forward_loss(b);
  EXPECT_EQ(MatmulCounter::mm, 29);
  EXPECT_EQ(MatmulCounter::bmm, 8);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
}

TEST(ModelOps, BlockWeightsAreBoundByNameFromTheBlockOpsTable) {
  // llama-tiny's block unit lists its parameters in parameter_tensors()' order; tensor i holds the
  // value i, so a field bound to the wrong parameter shows it.
  const ModelSpec m = resolve_model("llama-tiny");
  const std::vector<Unit> units = build_units(m, /*dp=*/2, /*tp=*/2);
  const std::vector<std::string> names = units[1].names_in_unit();
  EXPECT_EQ(names, (std::vector<std::string>{"attention_norm", "attention.wq", "attention.wk", "attention.wv",
                                             "attention.wo", "ffn_norm", "feed_forward.w1", "feed_forward.w2",
                                             "feed_forward.w3"}));
  std::vector<at::Tensor> ts;
  for (size_t i = 0; i < names.size(); ++i) ts.push_back(at::full({1}, static_cast<double>(i)));
  const BlockWeights w = BlockWeightIndex(block_ops(m), names).bind(ts);
  const std::vector<at::Tensor> fields{w.attention_norm, w.wq, w.wk, w.wv, w.wo, w.ffn_norm, w.w1, w.w2, w.w3};
  for (size_t i = 0; i < fields.size(); ++i) EXPECT_EQ(fields[i].item<double>(), static_cast<double>(i)) << names[i];
  // The same names in another order bind the same fields: w2 now comes first.
  const BlockWeights r = BlockWeightIndex(block_ops(m), std::vector<std::string>(names.rbegin(), names.rend()))
                             .bind(std::vector<at::Tensor>(ts.rbegin(), ts.rend()));
  EXPECT_EQ(r.w2.item<double>(), 7.0);
  EXPECT_EQ(r.attention_norm.item<double>(), 0.0);
  // A unit without one of block_ops()' weights, or with one it does not name, is a bug.
  EXPECT_THROW(BlockWeightIndex(block_ops(m), std::vector<std::string>(names.begin(), names.end() - 1)), InternalError);
  std::vector<std::string> extra = names;
  extra.push_back("feed_forward.w4");
  EXPECT_THROW(BlockWeightIndex(block_ops(m), extra), InternalError);
  // The FeedForward's unit: w1, w2, w3 under their own names.
  const ModelSpec ff = resolve_model("feedforward:64x256");
  const std::vector<std::string> ff_names = build_units(ff, 1, 1)[0].names_in_unit();
  EXPECT_EQ(ff_names, (std::vector<std::string>{"w1", "w2", "w3"}));
  const BlockWeights f = BlockWeightIndex(block_ops(ff), ff_names).bind({ts[0], ts[1], ts[2]});
  EXPECT_EQ(f.w3.item<double>(), 2.0);
  EXPECT_FALSE(f.wq.defined());
}

// ------------------------------------------------------------------------------------- memory, BLAS

TEST(Memory, CountingAllocatorTracksPeak) {
  install_counting_cpu_allocator();
  ASSERT_TRUE(counting_cpu_allocator_installed());
  reset_cpu_peak();
  const int64_t before = cpu_allocated_bytes();
  {
    at::Tensor t = at::empty({1 << 20}, at::kFloat);  // 4 MiB
    EXPECT_GE(cpu_allocated_bytes() - before, 4 << 20);
  }
  EXPECT_EQ(cpu_allocated_bytes(), before);
  EXPECT_GE(cpu_peak_allocated_bytes() - before, 4 << 20);
}

TEST(Blas, OpenBlasIsUsedAndFast) {
  BlasInfo b = blas_info();
  EXPECT_TRUE(b.openblas) << "sgemm_ comes from " << b.library << " -> " << b.resolved << ": " << blas_fix_hint();
  // 512^3 fp32 GEMM on one thread: 2*512^3 = 268 MFLOP; netlib reference BLAS does ~4 GFLOP/s,
  // OpenBLAS tens of GFLOP/s. Best of 5 against a 10 GFLOP/s bar.
  at::set_num_threads(1);
  at::Tensor a = at::randn({512, 512}), c = at::randn({512, 512});
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor d = at::mm(a, c);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  EXPECT_GT(2.0 * 512 * 512 * 512 / best, 10e9);
}

// ------------------------------------------------------------------------------------- equivalence

namespace {

struct RunOutput {
  std::vector<double> loss;
  std::map<std::string, at::Tensor> params;
};

TrainConfig small_config(const std::string& model, int64_t dp, int64_t tp, int64_t micro_batch) {
  TrainConfig c;
  c.model = resolve_model(model);
  c.training.seq_len = c.model.kind == ModelKind::feedforward ? 4 : 16;
  c.training.global_batch = 4;
  c.training.precision = Precision::fp32;
  c.plan.dp = dp;
  c.plan.tp = tp;
  c.plan.micro_batch = micro_batch;
  c.steps = 5;
  c.warmup_steps = 1;
  c.seed = 1234;
  c.adamw.lr = 1e-3;
  // AdamW turns a gradient element g into an update of about lr * g / (|g| + eps). With the usual
  // eps = 1e-8, an element whose gradient is fp32 rounding noise (|g| ~ 1e-9, its sign set by the
  // summation order, which TP and DP change) moves by up to ~lr either way: measured, 26-41 of
  // llama-tiny's 4.2M parameters then differ by 1e-5 to 3e-3 after 5 steps although every loss
  // matches. eps = 1e-6 keeps such noise from being amplified and leaves real gradients
  // (|g| >> 1e-6) as they were, so the parameters can be compared tightly.
  c.adamw.eps = 1e-6;
  c.progress = false;
  return c;
}

// Trains on dp*tp loopback Gloo ranks; rank 0 saves losses and the gathered parameters.
RunOutput run_split(const TrainConfig& c) {
  const std::string file = temp_path("equiv.pt");
  std::remove(file.c_str());
  int rc = launch_local_ranks(quick(static_cast<int>(c.plan.dp * c.plan.tp)), [&](RankContext& ctx) {
    Mesh mesh{c.plan.dp, c.plan.tp, ctx.rank};
    Comms comms = make_mesh_comms("gloo", ctx.store, mesh, ctx.timeout);
    RankResult r = train_rank(c, mesh, comms, true);
    if (ctx.rank == 0) {
      std::vector<at::Tensor> ts{at::tensor(r.loss, at::kDouble)};
      for (auto& [name, t] : r.full_params) ts.push_back(t);
      torch::save(ts, file);
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
  RunOutput out;
  std::vector<at::Tensor> ts;
  torch::load(ts, file);
  for (int64_t i = 0; i < ts[0].numel(); ++i) out.loss.push_back(ts[0][i].item<double>());
  // full_params is a std::map: names in sorted order.
  ShardedModel* none = nullptr;
  (void)none;
  std::vector<std::string> names;
  for (const auto& t : parameter_tensors(c.model)) {
    if (!t.per_layer || c.model.kind == ModelKind::feedforward) {
      names.push_back(t.module);
    } else {
      for (int64_t l = 0; l < c.model.n_layers; ++l) {
        std::string n = t.module;
        n.replace(n.find('*'), 1, std::to_string(l));
        names.push_back(n);
      }
    }
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names.size() + 1, ts.size());
  for (size_t i = 0; i < names.size() && i + 1 < ts.size(); ++i) out.params[names[i]] = ts[i + 1];
  return out;
}

void expect_equivalent(const RunOutput& ref, const RunOutput& got, const std::string& label) {
  ASSERT_EQ(ref.loss.size(), 5u);
  ASSERT_EQ(got.loss.size(), ref.loss.size()) << label;
  for (size_t i = 0; i < ref.loss.size(); ++i)
    EXPECT_NEAR(got.loss[i], ref.loss[i], 1e-5 * std::abs(ref.loss[i])) << label << " step " << i;
  // The loss must actually move, or the comparison proves little.
  EXPECT_LT(ref.loss.back(), ref.loss.front()) << label;
  ASSERT_EQ(got.params.size(), ref.params.size()) << label;
  // Parameters (AdamW eps = 1e-6, see small_config): every element within 1e-5, except at most
  // 1 in 10^5 elements, which must still agree within 1e-4 (measured: 2-3 of llama-tiny's
  // tok_embeddings elements, up to 5.2e-5; the single-process run with selective checkpointing
  // differs from the plain one the same way, so this is rounding, not sharding).
  int64_t total = 0, loose = 0;
  for (const auto& [name, t] : ref.params) {
    ASSERT_TRUE(got.params.count(name)) << label << " " << name;
    const at::Tensor& g = got.params.at(name);
    ASSERT_EQ(g.sizes(), t.sizes()) << label << " " << name;
    at::Tensor diff = (g - t).abs();
    total += diff.numel();
    loose += diff.gt(1e-5).sum().item<int64_t>();
    if (diff.gt(1e-5).sum().item<int64_t>() > 0)  // which tensors, for the log
      std::printf("  %s %s: %lld of %lld, max %.3g\n", label.c_str(), name.c_str(),
                  static_cast<long long>(diff.gt(1e-5).sum().item<int64_t>()), static_cast<long long>(diff.numel()),
                  diff.max().item<double>());
    EXPECT_LT(diff.max().item<double>(), 1e-4) << label << " " << name;
  }
  EXPECT_LE(loose * 100000, total) << label << ": " << loose << " of " << total << " elements differ by more than 1e-5";
  std::printf("%s: %lld of %lld parameter elements differ by more than 1e-5\n", label.c_str(), static_cast<long long>(loose),
              static_cast<long long>(total));
}

void equivalence_suite(const std::string& model) {
  // Global batch 4 in every split; micro_batch varies so gradient accumulation is exercised:
  // 1x1 mb=2 (2 micro-batches), 2x1 mb=1 (2 per dp rank), 1x2 mb=4 (1), 2x2 mb=2 (1).
  RunOutput ref = run_split(small_config(model, 1, 1, 2));
  expect_equivalent(ref, run_split(small_config(model, 2, 1, 1)), model + " dp=2 tp=1");
  expect_equivalent(ref, run_split(small_config(model, 1, 2, 4)), model + " dp=1 tp=2");
  expect_equivalent(ref, run_split(small_config(model, 2, 2, 2)), model + " dp=2 tp=2");
  // The knobs change memory and time, never the numbers.
  TrainConfig knobs = small_config(model, 2, 2, 1);
  knobs.plan.ac = ActivationCheckpointing::full;
  knobs.plan.grad_sync = GradSync::last_micro_batch;
  expect_equivalent(ref, run_split(knobs), model + " dp=2 tp=2 mb=1 ac=full grad_sync=last");
  TrainConfig keep = small_config(model, 2, 1, 1);
  keep.plan.reshard_after_forward = false;
  keep.prefetch = false;
  expect_equivalent(ref, run_split(keep), model + " dp=2 tp=1 reshard_after_forward=off prefetch=off");
  // Sequence parallel (seq_len 4 or 16, split 2 ways along the sequence) and selective checkpointing.
  TrainConfig sp12 = small_config(model, 1, 2, 4);
  sp12.plan.sequence_parallel = true;
  expect_equivalent(ref, run_split(sp12), model + " dp=1 tp=2 sp");
  TrainConfig sp22plain = small_config(model, 2, 2, 2);
  sp22plain.plan.sequence_parallel = true;
  expect_equivalent(ref, run_split(sp22plain), model + " dp=2 tp=2 sp");
  TrainConfig sel11 = small_config(model, 1, 1, 2);
  sel11.plan.ac = ActivationCheckpointing::selective;
  expect_equivalent(ref, run_split(sel11), model + " dp=1 tp=1 ac=selective");
  TrainConfig sel22 = small_config(model, 2, 2, 2);
  sel22.plan.ac = ActivationCheckpointing::selective;
  expect_equivalent(ref, run_split(sel22), model + " dp=2 tp=2 ac=selective");
  // Both together: selective recomputes the norm outputs and re-all-gathers them along the sequence.
  TrainConfig sp22 = small_config(model, 2, 2, 2);
  sp22.plan.sequence_parallel = true;
  sp22.plan.ac = ActivationCheckpointing::selective;
  expect_equivalent(ref, run_split(sp22), model + " dp=2 tp=2 sp ac=selective");
  // Full checkpointing re-runs the block's sequence-parallel collectives in backward.
  TrainConfig spfull = small_config(model, 2, 2, 2);
  spfull.plan.sequence_parallel = true;
  spfull.plan.ac = ActivationCheckpointing::full;
  expect_equivalent(ref, run_split(spfull), model + " dp=2 tp=2 sp ac=full");
}

}  // namespace

TEST(Equivalence, FeedForwardEverySplitMatchesTheSingleProcessReference) { equivalence_suite("feedforward:64x128"); }
TEST(Equivalence, LlamaTinyEverySplitMatchesTheSingleProcessReference) { equivalence_suite("llama-tiny"); }

// ------------------------------------------------------------------------------------- bf16

// bf16-mixed (FSDP2's MixedPrecisionPolicy: bf16 compute and all-gathers, fp32 master weights,
// AdamW states, reduce-scatter and loss) at every split of up to 4 ranks against the fp32 run and
// against the single-process bf16-mixed run, same seed, same global batch (docs/executor.md,
// "Precision"). bf16 keeps 8 significant bits (one ulp is 2^-8 = 3.9e-3 relative), so the losses
// are compared with a relative tolerance of 1e-3, a quarter of that ulp; measured (the largest over
// 5 steps, printed): llama-tiny 1.4e-4 against fp32 and 8.0e-5 between splits, feedforward:64x128
// 2.9e-6 and 1.5e-6. A difference of exactly 0 against fp32 would mean bf16 never ran.
namespace {

TrainConfig bf16_config(const std::string& model, int64_t dp, int64_t tp, int64_t micro_batch,
                        Precision precision = Precision::bf16_mixed) {
  TrainConfig c = small_config(model, dp, tp, micro_batch);
  c.training.precision = precision;
  return c;
}

// The largest |a - b| / |b| over the steps.
double max_rel_loss_diff(const RunOutput& a, const RunOutput& b) {
  EXPECT_EQ(a.loss.size(), b.loss.size());
  double m = 0;
  for (size_t i = 0; i < a.loss.size() && i < b.loss.size(); ++i) m = std::max(m, std::abs(a.loss[i] - b.loss[i]) / std::abs(b.loss[i]));
  return m;
}

// differs: the two runs compute in different dtypes, so some step's loss must differ.
void expect_losses_within(const RunOutput& ref, const RunOutput& got, double tol, const std::string& label,
                          bool differs = false) {
  ASSERT_EQ(got.loss.size(), ref.loss.size()) << label;
  const double d = max_rel_loss_diff(got, ref);
  std::printf("%s: largest relative loss difference %.3g (tolerance %.3g)\n", label.c_str(), d, tol);
  EXPECT_LE(d, tol) << label;
  if (differs) {
    EXPECT_GT(d, 0.0) << label << ": bitwise equal to fp32, so bf16 did not run";
  }
  EXPECT_LT(got.loss.back(), got.loss.front()) << label << ": the loss must move";
}

// vs_fp32: bf16-mixed against fp32; vs_1x1: a split against the single-process bf16-mixed run.
void bf16_suite(const std::string& model, double vs_fp32, double vs_1x1) {
  const RunOutput fp32 = run_split(small_config(model, 1, 1, 2));
  const RunOutput ref = run_split(bf16_config(model, 1, 1, 2));
  expect_losses_within(fp32, ref, vs_fp32, model + " bf16-mixed 1x1 vs fp32 1x1", true);
  // The fp32 master weights really are fp32: the bf16 run's parameters are not all bf16 numbers.
  int64_t off_grid = 0;
  for (const auto& [name, t] : ref.params) off_grid += t.ne(t.to(at::kBFloat16).to(at::kFloat)).sum().item<int64_t>();
  EXPECT_GT(off_grid, 0);
  for (const auto& [dp, tp, mb] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{2, 1, 1}, {1, 2, 4}, {2, 2, 2}}) {
    const std::string label = model + " bf16-mixed dp=" + std::to_string(dp) + " tp=" + std::to_string(tp);
    const RunOutput got = run_split(bf16_config(model, dp, tp, mb));
    expect_losses_within(ref, got, vs_1x1, label + " vs bf16-mixed 1x1");
    expect_losses_within(fp32, got, vs_fp32, label + " vs fp32 1x1", true);
  }
}

}  // namespace

TEST(Bf16, FeedForwardBf16MixedTracksFp32AtEverySplit) { bf16_suite("feedforward:64x128", 1e-3, 1e-3); }
TEST(Bf16, LlamaTinyBf16MixedTracksFp32AtEverySplit) { bf16_suite("llama-tiny", 1e-3, 1e-3); }

// The reduce dtype is FSDP2's option: bf16-mixed with bf16 gradient reduction, and pure bf16
// (parameters, gradients and AdamW states in bf16), at dp=2 tp=2 with sequence parallel and
// grad_sync=last (the unsharded gradients accumulate in the reduce dtype).
TEST(Bf16, ReduceDtypeAndPureBf16RunAtEverySplitKind) {
  const std::string model = "llama-tiny";
  const RunOutput fp32 = run_split(small_config(model, 1, 1, 2));
  TrainConfig rd = bf16_config(model, 2, 2, 1);
  rd.training.reduce_dtype = ReduceDtype::bf16;
  rd.plan.sequence_parallel = true;
  rd.plan.grad_sync = GradSync::last_micro_batch;
  // Measured: 8.4e-5 and 4.0e-5.
  expect_losses_within(fp32, run_split(rd), 1e-3, model + " bf16-mixed reduce bf16 dp=2 tp=2 sp grad_sync=last vs fp32", true);
  TrainConfig pure = bf16_config(model, 2, 2, 2, Precision::bf16);
  pure.plan.ac = ActivationCheckpointing::selective;
  expect_losses_within(fp32, run_split(pure), 1e-3, model + " bf16 dp=2 tp=2 ac=selective vs fp32", true);
}

TEST(Equivalence, FakeCommMatchesGlooForOneStep) {
  // The in-process fake runs the same training logic on threads (dp=2, tp=2).
  TrainConfig c = small_config("feedforward:64x128", 2, 2, 2);
  c.steps = 2;
  c.warmup_steps = 0;
  FakeMeshWorld w = make_fake_mesh_world(2, 2);
  std::vector<double> loss0;
  std::vector<std::thread> ts;
  std::mutex mu;
  for (int r = 0; r < 4; ++r)
    ts.emplace_back([&, r] {
      at::set_num_threads(1);
      Mesh mesh{2, 2, r};
      Comms comms = make_fake_mesh_comms(w, mesh);
      RankResult res = train_rank(c, mesh, comms, false);
      std::lock_guard<std::mutex> lk(mu);
      if (r == 0) loss0 = res.loss;
    });
  for (auto& t : ts) t.join();
  TrainConfig ref = small_config("feedforward:64x128", 1, 1, 4);
  ref.steps = 2;
  ref.warmup_steps = 0;
  FakeMeshWorld w1 = make_fake_mesh_world(1, 1);
  Mesh m1{1, 1, 0};
  Comms c1 = make_fake_mesh_comms(w1, m1);
  RankResult r1 = train_rank(ref, m1, c1, false);
  ASSERT_EQ(loss0.size(), 2u);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(loss0[i], r1.loss[i], 1e-5 * std::abs(r1.loss[i]));
}

// ------------------------------------------------------------------------------------- checkpoints

TEST(Checkpoint, ResumeContinuesTheSameLossCurve) {
  const std::string dir = temp_path("ckpt");
  auto run = [&](TrainConfig c) {
    const std::string file = temp_path("ckpt_loss.pt");
    int rc = launch_local_ranks(quick(2), [&](RankContext& ctx) {
      Mesh mesh{c.plan.dp, c.plan.tp, ctx.rank};
      Comms comms = make_mesh_comms("gloo", ctx.store, mesh, ctx.timeout);
      RankResult r = train_rank(c, mesh, comms, false);
      if (ctx.rank == 0) torch::save(std::vector<at::Tensor>{at::tensor(r.loss, at::kDouble)}, file);
      return 0;
    });
    EXPECT_EQ(rc, 0);
    std::vector<at::Tensor> ts;
    torch::load(ts, file);
    return ts[0];
  };
  TrainConfig straight = small_config("llama-tiny", 2, 1, 1);
  straight.steps = 6;
  at::Tensor all = run(straight);
  TrainConfig first = straight;
  first.steps = 3;
  first.checkpoint_dir = dir;
  at::Tensor a = run(first);
  TrainConfig second = straight;
  second.steps = 3;
  second.warmup_steps = 0;
  second.resume_dir = dir;
  at::Tensor b = run(second);
  for (int i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(a[i].item<double>(), all[i].item<double>());
    EXPECT_NEAR(b[i].item<double>(), all[3 + i].item<double>(), 1e-6 * std::abs(all[3 + i].item<double>())) << i;
  }
  // Resuming onto another split: the dp=2 tp=1 checkpoint continues at dp=1 tp=2 (parameters and
  // AdamW states resharded) on the same loss curve, within the 1e-5 that splits agree to.
  TrainConfig other = second;
  other.plan.dp = 1;
  other.plan.tp = 2;
  other.plan.micro_batch = 2;  // the same global batch of 4 in 2 micro-batches
  at::Tensor o = run(other);
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(o[i].item<double>(), all[3 + i].item<double>(), 1e-5 * std::abs(all[3 + i].item<double>())) << i;
  // A checkpoint with a rank's shards missing is refused, naming the file.
  std::remove((dir + "/step-00000003/rank-1.pt").c_str());
  std::string err = capture_stderr([&] {
    int rc = launch_local_ranks(quick(2), [&](RankContext& ctx) {
      Mesh mesh{other.plan.dp, other.plan.tp, ctx.rank};
      Comms comms = make_mesh_comms("gloo", ctx.store, mesh, ctx.timeout);
      train_rank(other, mesh, comms, false);
      return 0;
    });
    EXPECT_NE(rc, 0);
  });
  EXPECT_NE(err.find(dir + "/step-00000003/rank-1.pt: missing or unreadable"), std::string::npos) << err;
}

// ------------------------------------------------------------------------------------- faults

TEST(Faults, ARankThatThrowsStopsEveryRankNamingIt) {
  auto t0 = std::chrono::steady_clock::now();
  int rc = 0;
  std::string err = capture_stderr([&] {
    rc = launch_local_ranks(quick(3, 10, 60), [](RankContext& ctx) {
      auto c = make_gloo_comm(ctx.store, "world", "t/", ctx.rank, ctx.world, ctx.timeout, "127.0.0.1");
      c->barrier();
      if (ctx.rank == 1) throw std::runtime_error("injected fault");
      c->barrier();  // ranks 0 and 2 wait here for rank 1, which never comes
      return 0;
    });
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(rc, 0);
  EXPECT_LT(s, 30.0);
  EXPECT_NE(err.find("rank 0: stopping: rank 1 failed: injected fault"), std::string::npos) << err;
  EXPECT_NE(err.find("rank 2: stopping: rank 1 failed: injected fault"), std::string::npos) << err;
}

TEST(Faults, ARankThatDiesStopsEveryRankNamingIt) {
  auto t0 = std::chrono::steady_clock::now();
  int rc = 0;
  std::string err = capture_stderr([&] {
    rc = launch_local_ranks(quick(3, 10, 60), [](RankContext& ctx) {
      auto c = make_gloo_comm(ctx.store, "world", "t/", ctx.rank, ctx.world, ctx.timeout, "127.0.0.1");
      c->barrier();
      if (ctx.rank == 2) ::raise(SIGKILL);
      c->barrier();
      return 0;
    });
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc, 128 + SIGKILL);
  EXPECT_LT(s, 30.0);
  EXPECT_NE(err.find("rank 2 failed: it was killed by signal 9"), std::string::npos) << err;
  EXPECT_NE(err.find("rank 0: stopping: rank 2 failed"), std::string::npos) << err;
}

TEST(Faults, AHungRankIsBoundedByTheFaultTimeout) {
  // Rank 1 hangs outside any collective; rank 0's barrier times out after 3 s (the fault
  // timeout), rank 0 fails, and the launcher kills rank 1 3 s later.
  auto t0 = std::chrono::steady_clock::now();
  int rc = 0;
  capture_stderr([&] {
    rc = launch_local_ranks(quick(2, 3, 60), [](RankContext& ctx) {
      auto c = make_gloo_comm(ctx.store, "world", "t/", ctx.rank, ctx.world, ctx.timeout, "127.0.0.1");
      if (ctx.rank == 1) std::this_thread::sleep_for(std::chrono::hours(1));
      c->barrier();
      return 0;
    });
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(rc, 0);
  EXPECT_LT(s, 25.0);
}

TEST(Faults, InterruptStopsAllRanks) {
  auto t0 = std::chrono::steady_clock::now();
  std::thread ctrl_c([] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    ::kill(::getpid(), SIGINT);
  });
  int rc = 0;
  std::string err = capture_stderr([&] {
    rc = launch_local_ranks(quick(2, 30, 60), [](RankContext&) {
      std::this_thread::sleep_for(std::chrono::hours(1));
      return 0;
    });
  });
  ctrl_c.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc, 130);
  EXPECT_LT(s, 15.0);
  EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
}

TEST(Faults, RunTimeoutKillsEveryRank) {
  auto t0 = std::chrono::steady_clock::now();
  int rc = 0;
  capture_stderr([&] {
    rc = launch_local_ranks(quick(2, 30, 2), [](RankContext&) {
      std::this_thread::sleep_for(std::chrono::hours(1));
      return 0;
    });
  });
  EXPECT_EQ(rc, 124);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

TEST(Faults, ABusyPortIsReportedAndPortZeroUsesAFileStore) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(s, 1), 0);
  socklen_t len = sizeof(a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  LaunchOptions o = quick(1);
  o.master_port = ntohs(a.sin_port);
  try {
    launch_local_ranks(o, [](RankContext&) { return 0; });
    ADD_FAILURE() << "a busy port was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("busy"), std::string::npos) << e.what();
  }
  ::close(s);
  // Without a port: a file store, no port at all.
  o.master_port = 0;
  EXPECT_EQ(launch_local_ranks(o, [](RankContext& ctx) { return ctx.master_port == 0 && !ctx.store_path.empty() ? 0 : 1; }),
            0);
  // With a free port: a TCPStore on it.
  s = ::socket(AF_INET, SOCK_STREAM, 0);
  a.sin_port = 0;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  o.master_port = ntohs(a.sin_port);
  EXPECT_EQ(launch_local_ranks(o, [&](RankContext& ctx) { return ctx.master_port == o.master_port ? 0 : 1; }), 0);
}

// ------------------------------------------------------------------------------------- launchers

TEST(Launchers, ReadsTorchrunSlurmAndMpirunEnvironments) {
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                        "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NODELIST", "SLURM_NTASKS_PER_NODE", "OMPI_COMM_WORLD_RANK",
                        "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
                        "TORCHELASTIC_USE_AGENT_STORE", "SLURM_TASKS_PER_NODE"})
    ::unsetenv(v);
  EXPECT_FALSE(rank_env_from_environment().found);
  ::setenv("SLURM_PROCID", "5", 1);
  ::setenv("SLURM_NTASKS", "8", 1);
  ::setenv("SLURM_LOCALID", "1", 1);
  ::setenv("SLURM_NTASKS_PER_NODE", "4", 1);
  ::setenv("SLURM_NODELIST", "gpu[07-08]", 1);
  RankEnv s = rank_env_from_environment();
  EXPECT_EQ(s.launcher, "slurm");
  EXPECT_EQ(s.rank, 5);
  EXPECT_EQ(s.world, 8);
  EXPECT_EQ(s.local_rank, 1);
  EXPECT_EQ(s.local_world, 4);
  EXPECT_EQ(s.master_addr, "gpu07");
  ::setenv("RANK", "3", 1);  // torchrun's variables win over Slurm's
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("LOCAL_WORLD_SIZE", "2", 1);
  ::setenv("MASTER_ADDR", "node01", 1);
  ::setenv("MASTER_PORT", "29600", 1);
  RankEnv t = rank_env_from_environment();
  EXPECT_EQ(t.launcher, "torchrun");
  EXPECT_EQ(t.rank, 3);
  EXPECT_EQ(t.local_world, 2);
  EXPECT_EQ(t.master_addr, "node01");
  EXPECT_EQ(t.master_port, 29600);
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"}) ::unsetenv(v);
  ::setenv("OMPI_COMM_WORLD_RANK", "2", 1);
  ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  ::setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0", 1);
  ::setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  RankEnv m = rank_env_from_environment();
  EXPECT_EQ(m.launcher, "mpirun");
  EXPECT_EQ(m.rank, 2);
  EXPECT_EQ(m.master_addr, "node01");
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                        "OMPI_COMM_WORLD_LOCAL_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_LOCALID", "SLURM_NODELIST",
                        "SLURM_NTASKS_PER_NODE"})
    ::unsetenv(v);
  EXPECT_EQ(first_slurm_host("node[03-05,9],gpu1"), "node03");
  EXPECT_EQ(first_slurm_host("a1,a2"), "a1");
}

// ------------------------------------------------------------------------------------- CLI

TEST(TrainCommand, WritesARunRecord) {
  Json j = train_record("--model feedforward:64x128 --nproc 2 --dp 2 --tp 1 --micro-batch 1 --seq-len 8 "
                        "--global-batch 4 --steps 4", temp_path("run.json"));
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j["format"], "planner-run/1");
  EXPECT_EQ(j["steps"], 4);
  EXPECT_EQ(j["step_time_s"].size(), 4u);
  EXPECT_EQ(j["loss"].size(), 4u);
  EXPECT_EQ(j["plan"]["plan"]["dp"], 2);
  EXPECT_EQ(j["machine"]["backend"], "gloo");
  ASSERT_EQ(j["ranks"].size(), 2u);
  EXPECT_GT(j["ranks"][1]["peak_allocated_bytes"].get<int64_t>(), 0);
  // dp=2, one unit of 3 x 64 x 128 fp32 = 98304 B, 4 / (dp 2 x micro_batch 1) = 2 micro-batches
  // per step: each micro-batch all-gathers the unit twice (forward, and backward after the reshard)
  // and reduce-scatters it once; 2 measured steps (4 - 2 warm-up):
  // all_gather 2 x 2 x 2 x 98304 = 786432 B, reduce_scatter 2 x 2 x 98304 = 393216 B.
  EXPECT_EQ(j["ranks"][0]["collectives"]["all_gather"]["bytes"], 786432);
  EXPECT_EQ(j["ranks"][0]["collectives"]["all_gather"]["calls"], 8);
  EXPECT_EQ(j["ranks"][0]["collectives"]["reduce_scatter"]["bytes"], 393216);
  // bf16-mixed all-gathers bf16 (half the bytes) and reduce-scatters fp32 (the same); with
  // --reduce-dtype bf16 the reduce-scatter halves too.
  const std::string args = "--model feedforward:64x128 --nproc 2 --dp 2 --tp 1 --micro-batch 1 --seq-len 8 "
                           "--global-batch 4 --steps 4 --precision bf16-mixed";
  const Json b = train_record(args, temp_path("run-bf16.json"));
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b["plan"]["training"]["precision"], "bf16-mixed");
  EXPECT_EQ(b["ranks"][0]["collectives"]["all_gather"]["bytes"], 786432 / 2);
  EXPECT_EQ(b["ranks"][0]["collectives"]["reduce_scatter"]["bytes"], 393216);
  const Json r = train_record(args + " --reduce-dtype bf16", temp_path("run-bf16-rd.json"));
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r["ranks"][0]["collectives"]["reduce_scatter"]["bytes"], 393216 / 2);
}

// --phase-times: every rank records the median forward, backward and optimizer time after the
// warm-up; they are parts of the step, so together they cannot exceed the slowest rank's step.
// Without the flag the record has none.
TEST(TrainCommand, PhaseTimesArePartsOfTheStep) {
  Json j = train_record("--model llama-tiny --nproc 2 --dp 2 --tp 1 --seq-len 16 --global-batch 4 --steps 5 "
                        "--warmup-steps 2 --phase-times", temp_path("phases.json"));
  ASSERT_FALSE(j.empty());
  ASSERT_EQ(j["ranks"].size(), 2u);
  for (const auto& rank : j["ranks"]) {
    ASSERT_TRUE(rank.contains("phase_s_median")) << rank.dump();
    const Json& ph = rank["phase_s_median"];
    const double f = ph["forward"].get<double>(), b = ph["backward"].get<double>(), o = ph["optimizer"].get<double>();
    EXPECT_GT(f, 0);
    EXPECT_GT(b, 0);
    EXPECT_GT(o, 0);
    // The medians are taken apart, so their sum may pass one step's median a little.
    EXPECT_LT(f + b + o, 1.1 * j["step_time_s_median"].get<double>()) << ph.dump();
  }
  const Json plain = train_record("--model llama-tiny --nproc 2 --dp 2 --tp 1 --seq-len 16 --global-batch 4 --steps 2",
                                  temp_path("plain.json"));
  ASSERT_FALSE(plain.empty());
  EXPECT_FALSE(plain["ranks"][0].contains("phase_s_median"));
}

TEST(TrainCommand, SequenceParallelRecordsWhatRanAndItsCollectives) {
  Json j = train_record("--model feedforward:64x128 --nproc 2 --dp 1 --tp 2 --sp on --ac selective "
                        "--micro-batch 2 --seq-len 8 --global-batch 2 --steps 3", temp_path("run_sp.json"));
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j["executed"]["sequence_parallel"], true);
  EXPECT_EQ(j["executed"]["activation_checkpointing"], "selective");
  EXPECT_EQ(j["plan"]["plan"]["sequence_parallel"], true);
  // One measured step (3 - 2 warm-up), one micro-batch of 2 x 8 tokens x 64 fp32 = 4096 B when
  // gathered; each TP rank holds 4 of the 8 tokens. Forward: all-gather x before w1/w3, reduce-
  // scatter after w2; backward: the reduce-scatter's backward all-gathers the gradient; x is data
  // (no gradient), so its all-gather has no backward reduce-scatter. all_gather 2 calls x 4096 B
  // (gathered output), reduce_scatter 1 x 4096 B (unreduced input); the loss's sum is one
  // all-reduce of one fp32 (4 B). No all-reduce of activations: SP replaces them.
  const Json& c = j["ranks"][0]["collectives"];
  EXPECT_EQ(c["all_gather"]["calls"], 2);
  EXPECT_EQ(c["all_gather"]["bytes"], 8192);
  EXPECT_EQ(c["reduce_scatter"]["calls"], 1);
  EXPECT_EQ(c["reduce_scatter"]["bytes"], 4096);
  EXPECT_EQ(c["all_reduce"]["calls"], 1);
  EXPECT_EQ(c["all_reduce"]["bytes"], 4);
}

// The planner's recommended plan is bf16-mixed (the default precision); the executor trains it as
// written: `planner plan --write-plan` on this host's CPU cluster, then `planner train --plan`.
TEST(TrainCommand, TrainsThePlanThePlannerWrites) {
  const std::string plan = temp_path("best.plan.json"), rec = temp_path("best.run.json");
  std::remove(rec.c_str());
  auto p = ::planner::testing::run_planner("plan --model llama-tiny --cluster cpu-gloo --gpus 2 --seq-len 16 "
                                           "--global-batch 4 --write-plan " + plan);
  ASSERT_EQ(p.exit_code, 0) << p.output;
  const Json written = read_json_file(plan);
  EXPECT_EQ(written["training"]["precision"], "bf16-mixed") << written.dump();
  auto t = ::planner::testing::run_planner("train --plan " + plan + " --steps 2 --quiet --record " + rec, 180);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const Json j = read_json_file(rec);
  EXPECT_EQ(j["plan"]["training"]["precision"], "bf16-mixed");
  EXPECT_EQ(j["plan"]["plan"], written["plan"]);
  ASSERT_EQ(j["loss"].size(), 2u);
  EXPECT_TRUE(std::isfinite(j["loss"][1].get<double>()));
}

TEST(TrainCommand, RefusesWhatItUsedToClamp) {
  // --seq-len -5 ran at 64, --micro-batch 0 at 1, --master-port 70000 at 4464, --threads-per-rank
  // -4 at 2, and --fault-timeout 0 was blamed on the port: now each exits 2 naming the flag and
  // its range, before any rank starts.
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--seq-len -5", "--seq-len: value -5 is out of range; must be in [1, 16777216]"},
      {"--micro-batch 0", "--micro-batch: value 0 is out of range; must be in [1, 16777216]"},
      {"--master-port 70000", "--master-port: value 70000 is out of range; must be in [0, 65535]"},
      {"--threads-per-rank -4", "--threads-per-rank: value -4 is out of range; must be in [1, 4096]"},
      {"--fault-timeout 0", "--fault-timeout: value 0 is out of range; must be in (0, 604800]"},
      {"--fault-timeout nan", "--fault-timeout: 'nan' is not a finite number"},
      {"--lr inf", "--lr: 'inf' is not a finite number"},
      {"--tp 99999999999999999999", "--tp"},
  };
  for (const auto& [flag, message] : cases) {
    const auto r = ::planner::testing::run_planner("train --model llama-tiny --steps 1 " + flag, 30);
    EXPECT_EQ(r.exit_code, 2) << flag << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << flag << "\n" << r.output;
  }
}

TEST(TrainCommand, RefusesAnUnknownPrecisionAndANonIntegerAccumulation) {
  auto run = [](const std::string& args) {
    const auto r = ::planner::testing::run_planner("train " + args);
    return std::make_pair(r.exit_code, r.output);
  };
  auto [rc1, out1] = run("--model llama-tiny --precision fp16 --steps 1");
  EXPECT_EQ(rc1, 2);
  EXPECT_NE(out1.find("bf16-mixed"), std::string::npos) << out1;
  auto [rc2, out2] = run("--model llama-tiny --dp 2 --micro-batch 2 --global-batch 6 --steps 1");
  EXPECT_EQ(rc2, 2);
  EXPECT_NE(out2.find("not a multiple of dp (2) x micro_batch (2)"), std::string::npos) << out2;
  auto [rc3, out3] = run("--model llama-tiny --dp 3 --tp 1 --nproc 4 --steps 1");
  EXPECT_EQ(rc3, 2);
  EXPECT_NE(out3.find("world size is 4"), std::string::npos) << out3;
  auto [rc5, out5] = run("--model llama-tiny --dp 1 --tp 2 --sp on --seq-len 15 --steps 1");
  EXPECT_EQ(rc5, 2);
  EXPECT_NE(out5.find("seq_len (15) must be a multiple of tp (2)"), std::string::npos) << out5;
  // The host-speed probe times CPU kernels against a CPU calibration: Gloo only.
  auto [rc6, out6] = run("--model llama-tiny --backend nccl --speed-probe --steps 1");
  EXPECT_EQ(rc6, 2);
  EXPECT_NE(out6.find("--speed-probe: is implemented for --backend gloo (CPU) only, got --backend nccl"), std::string::npos)
      << out6;
  auto [rc4, out4] = run("--model llama-tiny --dp 2 --tp 2 --print-launch-lines --nnodes 2");
  EXPECT_EQ(rc4, 0) << out4;
  EXPECT_NE(out4.find("torchrun --nnodes=2 --nproc-per-node=2"), std::string::npos) << out4;
  EXPECT_NE(out4.find("srun --nodes=2 --ntasks-per-node=2"), std::string::npos) << out4;
}

TEST(TrainCommand, RunsAsOneRankPerProcessUnderTorchrunAndSlurmVariables) {
  // Two `planner train` processes with the variables torchrun (then srun) would set; rank 0 hosts
  // the store on a port found free just before.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(s);
  const std::string args = " train --model feedforward:64x128 --dp 2 --tp 1 --micro-batch 1 --seq-len 4 --global-batch 2 "
                           "--steps 2 --fault-timeout 20 --quiet";
  const std::string rec = temp_path("torchrun.json");
  auto env = [&](int r, bool slurm) {
    if (slurm)
      return "SLURM_PROCID=" + std::to_string(r) + " SLURM_NTASKS=2 SLURM_LOCALID=" + std::to_string(r) +
             " SLURM_NTASKS_PER_NODE=2 SLURM_NODELIST=localhost MASTER_PORT=" + std::to_string(port);
    return "RANK=" + std::to_string(r) + " WORLD_SIZE=2 LOCAL_RANK=" + std::to_string(r) +
           " LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
  };
  for (bool slurm : {false, true}) {
    std::remove(rec.c_str());
    const std::string cmd = "(env " + env(1, slurm) + " timeout 60 " + PLANNER_BINARY + args + " & env " + env(0, slurm) +
                            " timeout 60 " + PLANNER_BINARY + args + " --record " + rec + "; r0=$?; wait $!; r1=$?; " +
                            "echo rc=$r0,$r1) 2>&1";
    const std::string out = ::planner::testing::run_shell(cmd).output;
    EXPECT_NE(out.find("rc=0,0"), std::string::npos) << out;
    Json j = read_json_file(rec);
    EXPECT_EQ(j["machine"]["launcher"], slurm ? "slurm" : "torchrun");
    EXPECT_EQ(j["ranks"].size(), 2u);
  }
}
