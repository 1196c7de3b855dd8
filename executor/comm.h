// The executor's only view of communication: one small interface per process group, with a Gloo
// implementation (CPU, Debian's LibTorch), an NCCL one (compiled with a CUDA LibTorch) and an
// in-process fake (threads) for logic tests. Every collective error is fatal for the run
// (CommError): a rank that carried on after one would desynchronise the group.
//
// Tensors passed in are flat (1-D) and contiguous unless said otherwise. Semantics:
//   all_gather(in, out):       out (size()*n) = concat over ranks r of in_r (n)
//   reduce_scatter(in, out):   out (n) = op over ranks r of in_r[rank()*n : (rank()+1)*n]
//   all_reduce(t, op):         t = op over ranks of t_r (in place)
//   broadcast(t, root):        t = t_root
// Statistics per kind: calls, bytes and seconds. bytes = the logical buffer a rank sends or
// receives per call (all_gather: the gathered output; reduce_scatter: the unreduced input;
// all_reduce, broadcast: the tensor; alltoall: the input), the quantity the simulator prices.
// seconds = wall time the calling thread spent blocked in the call and in wait(). Calls on a
// group of one rank move nothing and are not counted.
#pragma once
#include <ATen/ATen.h>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/Store.hpp>

namespace planner::executor {

using StorePtr = c10::intrusive_ptr<c10d::Store>;

class CommError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ReduceKind { sum, avg, max };

enum class CollectiveKind { all_gather, reduce_scatter, all_reduce, broadcast, alltoall, barrier };
std::string to_string(CollectiveKind k);
constexpr int kNumCollectiveKinds = 6;

struct CollectiveStats {
  double seconds = 0;
  int64_t bytes = 0;
  int64_t calls = 0;
};

// A started collective; wait() blocks until it is done (throws CommError on failure).
class CommHandle {
 public:
  virtual ~CommHandle() = default;
  virtual void wait() = 0;
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "data_parallel", "tensor_parallel" or "world": named in errors.
  const std::string& name() const { return name_; }
  virtual std::string backend() const = 0;

  virtual void all_gather(const at::Tensor& in, at::Tensor& out) = 0;
  // Asynchronous all-gather (FSDP prefetch); `in` and `out` must stay alive until wait().
  virtual std::unique_ptr<CommHandle> all_gather_async(const at::Tensor& in, at::Tensor& out) = 0;
  virtual void reduce_scatter(const at::Tensor& in, at::Tensor& out, ReduceKind op) = 0;
  virtual void all_reduce(at::Tensor& t, ReduceKind op) = 0;
  virtual void broadcast(at::Tensor& t, int root) = 0;
  virtual void barrier() = 0;

  const CollectiveStats& stats(CollectiveKind k) const { return stats_[static_cast<int>(k)]; }
  void reset_stats();
  // Adds seconds/bytes/calls to a kind (used by the implementations and by async handles).
  void record(CollectiveKind k, double seconds, int64_t bytes, int64_t calls = 1);

 protected:
  explicit Comm(std::string name) : name_(std::move(name)) {}
  std::string name_;
  CollectiveStats stats_[kNumCollectiveKinds];
};

// Gloo over a store (PrefixStore'd by a group tag). timeout applies to every collective.
// hostname: this rank's own address to bind (GLOO_SOCKET_IFNAME, when set, picks an interface).
// Debian's Gloo has no reduce_scatter, _allgather_base, AVG or bfloat16: reduce_scatter is
// alltoall_base + a local sum (a ring reduce-scatter's traffic), all_gather writes into narrow()
// views of the output, AVG is SUM then a local divide. bf16 tensors move as 16-bit raw data
// (all_gather, the reduce-scatter's alltoall, broadcast); the reduce-scatter sums bf16 chunks in
// fp32 and rounds once; an all_reduce of a bf16 tensor runs on an fp32 copy (recorded as such).
std::unique_ptr<Comm> make_gloo_comm(const StorePtr& store, const std::string& name,
                                     const std::string& group_tag, int rank, int size,
                                     std::chrono::milliseconds timeout, const std::string& hostname);

#ifdef PLANNER_HAVE_NCCL
// NCCL (CUDA LibTorch only): _allgather_base / _reduce_scatter_base, AVG natively, bf16 allowed.
std::unique_ptr<Comm> make_nccl_comm(const StorePtr& store, const std::string& name,
                                     const std::string& group_tag, int rank, int size,
                                     std::chrono::milliseconds timeout);
#endif

// Backend-neutral factory: backend "gloo" or "nccl" (InputError if not compiled in).
std::unique_ptr<Comm> make_comm(const std::string& backend, const StorePtr& store,
                                const std::string& name, const std::string& group_tag, int rank,
                                int size, std::chrono::milliseconds timeout,
                                const std::string& hostname = "127.0.0.1");
bool nccl_compiled();

// In-process fake for logic tests: `size` threads share one FakeWorld; each thread makes its
// Comm with make_fake_comm(world, rank). Collectives are exact (sum in rank order).
class FakeWorld;
std::shared_ptr<FakeWorld> make_fake_world(int size);
std::unique_ptr<Comm> make_fake_comm(const std::shared_ptr<FakeWorld>& world, int rank,
                                     const std::string& name = "fake");

// The (dp, tp) mesh of one rank: TP groups are consecutive ranks (rank = dp_index * tp + tp_index).
struct Mesh {
  int64_t dp = 1;
  int64_t tp = 1;
  int rank = 0;
  int dp_index() const { return static_cast<int>(rank / tp); }
  int tp_index() const { return static_cast<int>(rank % tp); }
  // Ranks of this rank's groups, in group-rank order.
  std::vector<int> tp_group_ranks() const;
  std::vector<int> dp_group_ranks() const;
};
// Refuses dp * tp != world naming every factor (InputError).
void check_mesh(int64_t dp, int64_t tp, int64_t world, const std::string& where);

// The communicators of one rank.
struct Comms {
  std::unique_ptr<Comm> world;
  std::unique_ptr<Comm> dp;  // "data_parallel"
  std::unique_ptr<Comm> tp;  // "tensor_parallel"
  CollectiveStats total(CollectiveKind k) const;
};
Comms make_mesh_comms(const std::string& backend, const StorePtr& store,
                      const Mesh& mesh, std::chrono::milliseconds timeout,
                      const std::string& hostname = "127.0.0.1");
// The same over a fake world (world size dp*tp) for in-process tests: every rank's thread calls it.
struct FakeMeshWorld {
  std::shared_ptr<FakeWorld> world;
  std::vector<std::shared_ptr<FakeWorld>> dp_groups;  // indexed by tp_index
  std::vector<std::shared_ptr<FakeWorld>> tp_groups;  // indexed by dp_index
};
FakeMeshWorld make_fake_mesh_world(int64_t dp, int64_t tp);
Comms make_fake_mesh_comms(const FakeMeshWorld& w, const Mesh& mesh);

}  // namespace planner::executor
