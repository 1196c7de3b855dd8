#include "executor/comm.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#ifdef PLANNER_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace planner::executor {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
int64_t nbytes(const at::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }
}  // namespace

std::string to_string(CollectiveKind k) {
  switch (k) {
    case CollectiveKind::all_gather: return "all_gather";
    case CollectiveKind::reduce_scatter: return "reduce_scatter";
    case CollectiveKind::all_reduce: return "all_reduce";
    case CollectiveKind::broadcast: return "broadcast";
    case CollectiveKind::alltoall: return "alltoall";
    case CollectiveKind::barrier: return "barrier";
  }
  return "?";
}

void Comm::reset_stats() {
  for (auto& s : stats_) s = CollectiveStats{};
}

void Comm::record(CollectiveKind k, double seconds, int64_t bytes, int64_t calls) {
  auto& s = stats_[static_cast<int>(k)];
  s.seconds += seconds;
  s.bytes += bytes;
  s.calls += calls;
}

// ------------------------------------------------------------------------------------------ Gloo
// Compiled when Gloo's headers are there (Debian's libgloo-dev; LibTorch from pytorch.org). A
// pip torch ships ProcessGroupGloo.hpp without them: NCCL alone then (executor/CMakeLists.txt).
#ifdef PLANNER_HAVE_GLOO

namespace {

class GlooComm;

class GlooHandle : public CommHandle {
 public:
  GlooHandle(GlooComm* comm, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> outs,
             std::vector<at::Tensor> ins, int64_t bytes)
      : comm_(comm), work_(std::move(work)), outs_(std::move(outs)), ins_(std::move(ins)), bytes_(bytes) {}
  void wait() override;

 private:
  GlooComm* comm_;
  c10::intrusive_ptr<c10d::Work> work_;
  std::vector<at::Tensor> outs_, ins_;  // kept alive while the work runs
  int64_t bytes_;
};

class GlooComm : public Comm {
 public:
  GlooComm(const StorePtr& store, const std::string& name, const std::string& tag, int rank, int size,
           std::chrono::milliseconds timeout, const std::string& hostname)
      : Comm(name), rank_(rank), size_(size) {
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // GLOO_SOCKET_IFNAME (as in PyTorch) picks the interface; else the address `hostname` resolves to.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    opts->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                              : c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
    opts->threads = 1;  // the ranks already use every core for compute
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>(tag, store);
    try {
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, size, opts);
    } catch (const std::exception& e) {
      throw CommError("creating the Gloo group '" + name + "' (" + tag + ", rank " + std::to_string(rank) +
                      " of " + std::to_string(size) + ") failed: " + e.what());
    }
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "gloo"; }

  void wait_work(const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
    try {
      w->wait();
    } catch (const std::exception& e) {
      throw CommError(std::string(what) + " on group '" + name_ + "' (rank " + std::to_string(rank_) + " of " +
                      std::to_string(size_) + ") failed: " + e.what());
    }
    // ProcessGroupGloo's worker thread still holds the finished work (and with it the collective's
    // tensors, e.g. all_to_all's receive buffer or all_gather's flat output) until it is next
    // scheduled. Wait for it to let go, so those tensors are freed here, when the caller drops the
    // work, and not at a moment that depends on thread timing: measured, the peak memory of
    // feedforward:512x1024 dp=4 was 30.25 or 36.25 MiB from run to run (one unit-sized buffer).
    // Bounded: after 50 ms the work is left to the worker.
    const auto until = Clock::now() + std::chrono::milliseconds(50);
    while (w.use_count() > 1 && Clock::now() < until) std::this_thread::yield();
  }

  static void check_dtype(const at::Tensor& t, const char* what) {
    const auto d = t.scalar_type();
    if (d != at::kFloat && d != at::kLong && d != at::kDouble && d != at::kBFloat16)
      throw CommError(std::string(what) + ": the executor's Gloo backend takes fp32/fp64/int64/bf16 tensors, got " +
                      std::string(c10::toString(d)));
  }

  // What goes on the wire for a collective that only moves data (all_gather, alltoall,
  // broadcast): Debian's Gloo has no bfloat16, so a bf16 tensor travels as 16-bit raw data (a
  // Half view of the same bytes; nothing is computed on it).
  static at::Tensor raw(const at::Tensor& t) { return t.scalar_type() == at::kBFloat16 ? t.view(at::kHalf) : t; }

  std::vector<at::Tensor> out_views(at::Tensor& out, int64_t n) {
    std::vector<at::Tensor> v;
    v.reserve(size_);
    for (int r = 0; r < size_; ++r) v.push_back(out.narrow(0, r * n, n));
    return v;
  }

  void all_gather(const at::Tensor& in, at::Tensor& out) override {
    if (size_ == 1) {
      out.copy_(in);
      return;
    }
    all_gather_async_impl(in, out)->wait();
  }

  std::unique_ptr<CommHandle> all_gather_async(const at::Tensor& in, at::Tensor& out) override {
    return all_gather_async_impl(in, out);
  }

  std::unique_ptr<CommHandle> all_gather_async_impl(const at::Tensor& in, at::Tensor& out) {
    auto t0 = Clock::now();
    check_dtype(in, "all_gather");
    const int64_t n = in.numel();
    PLANNER_CHECK(out.numel() == n * size_, "all_gather: out " << out.numel() << " != " << n << " x " << size_);
    PLANNER_CHECK(out.scalar_type() == in.scalar_type(), "all_gather: dtypes differ");
    at::Tensor out_raw = raw(out);
    std::vector<std::vector<at::Tensor>> outs{out_views(out_raw, n)};
    std::vector<at::Tensor> ins{raw(in)};
    c10::intrusive_ptr<c10d::Work> w;
    try {
      w = pg_->allgather(outs, ins);
    } catch (const std::exception& e) {
      throw CommError("all_gather on group '" + name_ + "' failed to start: " + e.what());
    }
    record(CollectiveKind::all_gather, since(t0), 0, 0);
    return std::make_unique<GlooHandle>(this, w, outs[0], ins, nbytes(out));
  }

  void reduce_scatter(const at::Tensor& in, at::Tensor& out, ReduceKind op) override {
    auto t0 = Clock::now();
    check_dtype(in, "reduce_scatter");
    const int64_t n = out.numel();
    PLANNER_CHECK(in.numel() == n * size_, "reduce_scatter: in " << in.numel() << " != " << n << " x " << size_);
    PLANNER_CHECK(op != ReduceKind::max, "reduce_scatter: max not supported");
    PLANNER_CHECK(out.scalar_type() == in.scalar_type(), "reduce_scatter: dtypes differ");
    const bool bf16 = in.scalar_type() == at::kBFloat16;
    if (size_ == 1) {
      out.copy_(in);
      if (op == ReduceKind::avg) out.div_(size_);
    } else {
      // alltoall with equal splits: chunk r of `in` goes to rank r; we receive every rank's chunk
      // for our slice, then sum locally. Same bytes on the wire as a ring reduce-scatter.
      at::Tensor input = raw(in.contiguous());
      at::Tensor recv = at::empty({size_ * n}, in.options());
      at::Tensor recv_raw = raw(recv);
      std::vector<int64_t> counts;  // empty = equal splits
      c10::intrusive_ptr<c10d::Work> w;
      try {
        w = pg_->alltoall_base(recv_raw, input, counts, counts);
      } catch (const std::exception& e) {
        throw CommError("reduce_scatter (alltoall) on group '" + name_ + "' failed to start: " + e.what());
      }
      wait_work(w, "reduce_scatter (alltoall)");
      if (!bf16) {
        at::sum_out(out, recv.view({size_, n}), {0});
        if (op == ReduceKind::avg) out.div_(size_);
      } else {
        // bf16 chunks are summed (and averaged) in an fp32 accumulator of n elements and rounded
        // once into `out`; each add_ makes an fp32 copy of its bf16 chunk (TensorIterator's
        // promotion on the CPU), priced in simulator/memory.cc.
        at::Tensor acc = recv.narrow(0, 0, n).to(at::kFloat);
        for (int r = 1; r < size_; ++r) acc.add_(recv.narrow(0, r * n, n));
        if (op == ReduceKind::avg) acc.div_(size_);
        out.copy_(acc);
      }
    }
    if (size_ > 1) record(CollectiveKind::reduce_scatter, since(t0), nbytes(in));
  }

  void all_reduce(at::Tensor& t, ReduceKind op) override {
    auto t0 = Clock::now();
    check_dtype(t, "all_reduce");
    if (size_ > 1 && t.scalar_type() == at::kBFloat16) {
      // Gloo cannot sum bf16: the tensor is all-reduced as an fp32 copy and rounded back once
      // (the bytes moved, and recorded, are the fp32 copy's; docs/cost-model.md prices it so).
      at::Tensor f = t.to(at::kFloat);
      all_reduce(f, op);
      t.copy_(f);
      return;
    }
    if (size_ > 1) {
      std::vector<at::Tensor> ts{t};
      c10d::AllreduceOptions o;
      o.reduceOp = op == ReduceKind::max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
      c10::intrusive_ptr<c10d::Work> w;
      try {
        w = pg_->allreduce(ts, o);
      } catch (const std::exception& e) {
        throw CommError("all_reduce on group '" + name_ + "' failed to start: " + e.what());
      }
      wait_work(w, "all_reduce");
      if (op == ReduceKind::avg) t.div_(size_);
      record(CollectiveKind::all_reduce, since(t0), nbytes(t));
    }
  }

  void broadcast(at::Tensor& t, int root) override {
    auto t0 = Clock::now();
    check_dtype(t, "broadcast");
    if (size_ > 1) {
      std::vector<at::Tensor> ts{raw(t)};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      c10::intrusive_ptr<c10d::Work> w;
      try {
        w = pg_->broadcast(ts, o);
      } catch (const std::exception& e) {
        throw CommError("broadcast on group '" + name_ + "' failed to start: " + e.what());
      }
      wait_work(w, "broadcast");
      record(CollectiveKind::broadcast, since(t0), nbytes(t));
    }
  }

  void barrier() override {
    auto t0 = Clock::now();
    if (size_ > 1) {
      c10::intrusive_ptr<c10d::Work> w;
      try {
        w = pg_->barrier();
      } catch (const std::exception& e) {
        throw CommError("barrier on group '" + name_ + "' failed to start: " + e.what());
      }
      wait_work(w, "barrier");
      record(CollectiveKind::barrier, since(t0), 0);
    }
  }

 private:
  int rank_, size_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
};

void GlooHandle::wait() {
  auto t0 = Clock::now();
  comm_->wait_work(work_, "all_gather");
  comm_->record(CollectiveKind::all_gather, since(t0), bytes_, 1);
  outs_.clear();
  ins_.clear();
}

}  // namespace

std::unique_ptr<Comm> make_gloo_comm(const StorePtr& store, const std::string& name, const std::string& group_tag,
                                     int rank, int size, std::chrono::milliseconds timeout,
                                     const std::string& hostname) {
  return std::make_unique<GlooComm>(store, name, group_tag, rank, size, timeout, hostname);
}

#else

std::unique_ptr<Comm> make_gloo_comm(const StorePtr&, const std::string&, const std::string&, int, int,
                                     std::chrono::milliseconds, const std::string&) {
  throw InputError("--backend", "", "'gloo' is not available in this build: Gloo's headers were not found when it was "
                                    "compiled (a pip torch ships none); allowed: nccl");
}

#endif  // PLANNER_HAVE_GLOO

bool nccl_compiled() {
#ifdef PLANNER_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Comm> make_comm(const std::string& backend, const StorePtr& store, const std::string& name,
                                const std::string& group_tag, int rank, int size,
                                std::chrono::milliseconds timeout, const std::string& hostname) {
  if (backend == "gloo") return make_gloo_comm(store, name, group_tag, rank, size, timeout, hostname);
#ifdef PLANNER_HAVE_NCCL
  if (backend == "nccl") return make_nccl_comm(store, name, group_tag, rank, size, timeout);
#endif
  throw InputError("--backend", "", "'" + backend + "' is not available in this build; allowed: gloo" +
                                        std::string(nccl_compiled() ? ", nccl" : " (nccl needs a CUDA LibTorch)"));
}

// ------------------------------------------------------------------------------------------ Fake

class FakeWorld {
 public:
  explicit FakeWorld(int size) : size_(size), slots_(size) {}
  int size() const { return size_; }

  // Every rank deposits `t`; `fn` runs on each rank with all deposits visible; then all leave.
  void exchange(int rank, const at::Tensor& t, const std::function<void(const std::vector<at::Tensor>&)>& fn) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      // Wait until the previous exchange has fully drained.
      cv_.wait(lk, [&] { return leaving_ == 0; });
      slots_[rank] = t;
      const uint64_t gen = gen_;
      if (++arrived_ == size_) {
        arrived_ = 0;
        leaving_ = size_;
        ++gen_;
        cv_.notify_all();
      } else {
        cv_.wait(lk, [&] { return gen_ != gen; });
      }
    }
    fn(slots_);
    // Nobody leaves before everyone has read the deposits (they may be written right after).
    std::unique_lock<std::mutex> lk(mu_);
    const uint64_t lg = leave_gen_;
    if (--leaving_ == 0) {
      for (auto& s : slots_) s = at::Tensor();
      ++leave_gen_;
      cv_.notify_all();
    } else {
      cv_.wait(lk, [&] { return leave_gen_ != lg; });
    }
  }

 private:
  int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<at::Tensor> slots_;
  int arrived_ = 0;
  int leaving_ = 0;
  uint64_t gen_ = 0;
  uint64_t leave_gen_ = 0;
};

std::shared_ptr<FakeWorld> make_fake_world(int size) { return std::make_shared<FakeWorld>(size); }

namespace {

class DoneHandle : public CommHandle {
 public:
  void wait() override {}
};

class FakeComm : public Comm {
 public:
  FakeComm(std::shared_ptr<FakeWorld> w, int rank, const std::string& name)
      : Comm(name), w_(std::move(w)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return w_->size(); }
  std::string backend() const override { return "fake"; }

  void all_gather(const at::Tensor& in, at::Tensor& out) override {
    auto t0 = Clock::now();
    const int64_t n = in.numel();
    w_->exchange(rank_, in, [&](const std::vector<at::Tensor>& all) {
      for (int r = 0; r < size(); ++r) out.narrow(0, r * n, n).copy_(all[r].reshape({n}));
    });
    if (size() > 1) record(CollectiveKind::all_gather, since(t0), nbytes(out));
  }
  std::unique_ptr<CommHandle> all_gather_async(const at::Tensor& in, at::Tensor& out) override {
    all_gather(in, out);
    return std::make_unique<DoneHandle>();
  }
  void reduce_scatter(const at::Tensor& in, at::Tensor& out, ReduceKind op) override {
    auto t0 = Clock::now();
    const int64_t n = out.numel();
    w_->exchange(rank_, in, [&](const std::vector<at::Tensor>& all) {
      at::Tensor acc = all[0].reshape({-1}).narrow(0, rank_ * n, n).clone();
      for (int r = 1; r < size(); ++r) acc.add_(all[r].reshape({-1}).narrow(0, rank_ * n, n));
      out.copy_(acc);
    });
    if (op == ReduceKind::avg) out.div_(size());
    if (size() > 1) record(CollectiveKind::reduce_scatter, since(t0), nbytes(in));
  }
  void all_reduce(at::Tensor& t, ReduceKind op) override {
    auto t0 = Clock::now();
    at::Tensor result;
    w_->exchange(rank_, t, [&](const std::vector<at::Tensor>& all) {
      result = all[0].clone();
      for (int r = 1; r < size(); ++r) {
        if (op == ReduceKind::max)
          result = at::maximum(result, all[r]);
        else
          result.add_(all[r]);
      }
    });
    if (op == ReduceKind::avg) result.div_(size());
    t.copy_(result);
    if (size() > 1) record(CollectiveKind::all_reduce, since(t0), nbytes(t));
  }
  void broadcast(at::Tensor& t, int root) override {
    auto t0 = Clock::now();
    at::Tensor result;
    w_->exchange(rank_, t, [&](const std::vector<at::Tensor>& all) { result = all[root].clone(); });
    t.copy_(result);
    if (size() > 1) record(CollectiveKind::broadcast, since(t0), nbytes(t));
  }
  void barrier() override {
    auto t0 = Clock::now();
    w_->exchange(rank_, at::Tensor(), [](const std::vector<at::Tensor>&) {});
    if (size() > 1) record(CollectiveKind::barrier, since(t0), 0);
  }

 private:
  std::shared_ptr<FakeWorld> w_;
  int rank_;
};

}  // namespace

std::unique_ptr<Comm> make_fake_comm(const std::shared_ptr<FakeWorld>& world, int rank, const std::string& name) {
  return std::make_unique<FakeComm>(world, rank, name);
}

// ------------------------------------------------------------------------------------------ Mesh

std::vector<int> Mesh::tp_group_ranks() const {
  std::vector<int> v;
  for (int64_t t = 0; t < tp; ++t) v.push_back(static_cast<int>(dp_index() * tp + t));
  return v;
}

std::vector<int> Mesh::dp_group_ranks() const {
  std::vector<int> v;
  for (int64_t d = 0; d < dp; ++d) v.push_back(static_cast<int>(d * tp + tp_index()));
  return v;
}

void check_mesh(int64_t dp, int64_t tp, int64_t world, const std::string& where) {
  if (dp < 1 || tp < 1)
    throw InputError(where, "", "dp and tp must be >= 1, got dp=" + std::to_string(dp) + " tp=" + std::to_string(tp));
  if (dp * tp != world)
    throw InputError(where, "", "the mesh does not match the world: dp (" + std::to_string(dp) + ") x tp (" +
                                    std::to_string(tp) + ") = " + std::to_string(dp * tp) + " but world size is " +
                                    std::to_string(world) + " ranks");
}

CollectiveStats Comms::total(CollectiveKind k) const {
  CollectiveStats t;
  for (const Comm* c : {world.get(), dp.get(), tp.get()}) {
    if (!c) continue;
    const auto& s = c->stats(k);
    t.seconds += s.seconds;
    t.bytes += s.bytes;
    t.calls += s.calls;
  }
  return t;
}

Comms make_mesh_comms(const std::string& backend, const StorePtr& store, const Mesh& mesh,
                      std::chrono::milliseconds timeout, const std::string& hostname) {
  Comms c;
  const int world = static_cast<int>(mesh.dp * mesh.tp);
  c.world = make_comm(backend, store, "world", "pg/world/", mesh.rank, world, timeout, hostname);
  c.tp = make_comm(backend, store, "tensor_parallel", "pg/tp" + std::to_string(mesh.dp_index()) + "/",
                   mesh.tp_index(), static_cast<int>(mesh.tp), timeout, hostname);
  c.dp = make_comm(backend, store, "data_parallel", "pg/dp" + std::to_string(mesh.tp_index()) + "/",
                   mesh.dp_index(), static_cast<int>(mesh.dp), timeout, hostname);
  return c;
}

FakeMeshWorld make_fake_mesh_world(int64_t dp, int64_t tp) {
  FakeMeshWorld w;
  w.world = make_fake_world(static_cast<int>(dp * tp));
  for (int64_t t = 0; t < tp; ++t) w.dp_groups.push_back(make_fake_world(static_cast<int>(dp)));
  for (int64_t d = 0; d < dp; ++d) w.tp_groups.push_back(make_fake_world(static_cast<int>(tp)));
  return w;
}

Comms make_fake_mesh_comms(const FakeMeshWorld& w, const Mesh& mesh) {
  Comms c;
  c.world = make_fake_comm(w.world, mesh.rank, "world");
  c.tp = make_fake_comm(w.tp_groups[mesh.dp_index()], mesh.tp_index(), "tensor_parallel");
  c.dp = make_fake_comm(w.dp_groups[mesh.tp_index()], mesh.dp_index(), "data_parallel");
  return c;
}

}  // namespace planner::executor
