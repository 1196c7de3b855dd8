// NCCL implementation of Comm, compiled only when the LibTorch found is a CUDA build
// (executor/CMakeLists.txt). Tensors must be CUDA tensors. wait() blocks the CPU until the
// collective is done (TORCH_NCCL_BLOCKING_WAIT=1 is set unless the user set it), so timing and
// error reporting work as with Gloo: every error or timeout surfaces as a CommError.
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <chrono>
#include <cstdlib>

#include "core/error.h"
#include "executor/comm.h"

namespace planner::executor {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
int64_t nbytes(const at::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }

class NcclComm;

class NcclHandle : public CommHandle {
 public:
  NcclHandle(NcclComm* comm, c10::intrusive_ptr<c10d::Work> work, at::Tensor out, at::Tensor in, int64_t bytes)
      : comm_(comm), work_(std::move(work)), out_(std::move(out)), in_(std::move(in)), bytes_(bytes) {}
  void wait() override;

 private:
  NcclComm* comm_;
  c10::intrusive_ptr<c10d::Work> work_;
  at::Tensor out_, in_;
  int64_t bytes_;
};

class NcclComm : public Comm {
 public:
  NcclComm(const StorePtr& store, const std::string& name, const std::string& tag, int rank, int size,
           std::chrono::milliseconds timeout)
      : Comm(name), rank_(rank), size_(size) {
    ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
    ::setenv("NCCL_BLOCKING_WAIT", "1", 0);  // name used before LibTorch 2.2
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>(tag, store);
    try {
      pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, size, opts);
    } catch (const std::exception& e) {
      throw CommError("creating the NCCL group '" + name + "' (" + tag + ") failed: " + e.what());
    }
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  void wait_work(const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
    try {
      w->wait();
    } catch (const std::exception& e) {
      throw CommError(std::string(what) + " on group '" + name_ + "' (rank " + std::to_string(rank_) + " of " +
                      std::to_string(size_) + ") failed: " + e.what());
    }
  }

  template <typename F>
  c10::intrusive_ptr<c10d::Work> start(const char* what, F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      throw CommError(std::string(what) + " on group '" + name_ + "' failed to start: " + e.what());
    }
  }

  void all_gather(const at::Tensor& in, at::Tensor& out) override { all_gather_async(in, out)->wait(); }

  std::unique_ptr<CommHandle> all_gather_async(const at::Tensor& in, at::Tensor& out) override {
    auto t0 = Clock::now();
    PLANNER_CHECK(out.numel() == in.numel() * size_, "all_gather sizes");
    at::Tensor input = in.contiguous();
    auto w = start("all_gather", [&] { return pg_->_allgather_base(out, input); });
    record(CollectiveKind::all_gather, since(t0), 0, 0);
    return std::make_unique<NcclHandle>(this, w, out, input, nbytes(out));
  }

  void reduce_scatter(const at::Tensor& in, at::Tensor& out, ReduceKind op) override {
    auto t0 = Clock::now();
    PLANNER_CHECK(in.numel() == out.numel() * size_, "reduce_scatter sizes");
    PLANNER_CHECK(op != ReduceKind::max, "reduce_scatter: max not supported");
    at::Tensor input = in.contiguous();
    c10d::ReduceScatterOptions o;
    o.reduceOp = op == ReduceKind::avg ? c10d::ReduceOp::AVG : c10d::ReduceOp::SUM;
    wait_work(start("reduce_scatter", [&] { return pg_->_reduce_scatter_base(out, input, o); }), "reduce_scatter");
    if (size_ > 1) record(CollectiveKind::reduce_scatter, since(t0), nbytes(in));
  }

  void all_reduce(at::Tensor& t, ReduceKind op) override {
    auto t0 = Clock::now();
    std::vector<at::Tensor> ts{t};
    c10d::AllreduceOptions o;
    o.reduceOp = op == ReduceKind::max ? c10d::ReduceOp::MAX : op == ReduceKind::avg ? c10d::ReduceOp::AVG : c10d::ReduceOp::SUM;
    wait_work(start("all_reduce", [&] { return pg_->allreduce(ts, o); }), "all_reduce");
    if (size_ > 1) record(CollectiveKind::all_reduce, since(t0), nbytes(t));
  }

  void broadcast(at::Tensor& t, int root) override {
    auto t0 = Clock::now();
    std::vector<at::Tensor> ts{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    wait_work(start("broadcast", [&] { return pg_->broadcast(ts, o); }), "broadcast");
    if (size_ > 1) record(CollectiveKind::broadcast, since(t0), nbytes(t));
  }

  void barrier() override {
    auto t0 = Clock::now();
    wait_work(start("barrier", [&] { return pg_->barrier(); }), "barrier");
    if (size_ > 1) record(CollectiveKind::barrier, since(t0), 0);
  }

 private:
  int rank_, size_;
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> pg_;
};

void NcclHandle::wait() {
  auto t0 = Clock::now();
  comm_->wait_work(work_, "all_gather");
  comm_->record(CollectiveKind::all_gather, since(t0), bytes_, 1);
  out_ = at::Tensor();
  in_ = at::Tensor();
}

}  // namespace

std::unique_ptr<Comm> make_nccl_comm(const StorePtr& store, const std::string& name, const std::string& group_tag,
                                     int rank, int size, std::chrono::milliseconds timeout) {
  return std::make_unique<NcclComm>(store, name, group_tag, rank, size, timeout);
}

}  // namespace planner::executor
