// Starting ranks and stopping them all when one fails.
//
//  - launch_local_ranks(): forks N ranks on this machine, hosts the rendezvous store itself (a
//    c10d::FileStore in a private 0700 folder; a TCPStore only when a master_port is given), and
//    watches them: when one exits non-zero or dies, every other rank is told (abort key in the
//    store) and exits non-zero naming the failed rank; ranks still alive 2 s later (at most
//    fault_timeout_s) are killed. Ctrl-C (SIGINT/SIGTERM) stops all ranks. run_timeout_s bounds the
//    whole run (tests use it so nothing can hang).
//  - rank_env_from_environment() + run_as_rank(): one rank started by torchrun, Slurm or mpirun.
//
// Inside each rank a watchdog thread beats a heartbeat into the store every 0.5 s, exits the rank
// (code 3) as soon as the abort key appears, and flags its ring neighbour (rank+1) when its
// heartbeat stops for fault_timeout_s. A rank whose function throws publishes "rank R failed: ..."
// before exiting; a collective error (CommError) first waits up to 2 s for another rank's abort
// message, since a peer's failure usually shows up as a broken connection.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "executor/comm.h"

namespace planner::executor {

struct RankContext {
  int rank = 0;
  int world = 1;
  int local_rank = 0;
  int local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;       // 0 with a file store
  std::string store_path;    // the local launcher's FileStore ("" for a TCPStore)
  StorePtr store;  // a client of the rendezvous store
  std::chrono::milliseconds timeout{60000};  // collectives and store operations
  int threads = 1;  // intra-op threads of this rank (at::set_num_threads already called)
  bool bind_cpus = false;  // pin this rank's threads to cpus_for_rank() before any thread starts
  std::vector<int> cpus;   // the CPUs it was bound to (empty: not bound)
  int machine_cpus = 1;    // CPUs the launcher could use (before binding)
  std::string launcher = "local";  // local, torchrun, slurm, mpirun
};

// The per-rank body; its return value is the rank's exit code.
using RankFn = std::function<int(RankContext&)>;

struct LaunchOptions {
  int nproc = 1;
  double fault_timeout_s = 60;  // collectives, store, heartbeat; ranks killed this long after a failure
  double run_timeout_s = 0;     // 0: unbounded; else every rank is killed after this (exit 124)
  int threads_per_rank = 0;     // 0: max(1, cores / local ranks)
  // 0: a FileStore in a private folder (no socket); else a TCPStore on this port, which LibTorch
  // 1.13 listens to on every interface.
  int master_port = 0;
  std::string master_addr = "127.0.0.1";
  // CPU binding, like Slurm's --cpu-bind=cores or torchrun's --numa-binding: "cores" pins each
  // local rank (all its threads: intra-op, Gloo's workers, the watchdog) to its own CPUs;
  // "none" leaves placement to the kernel; "auto" is "cores" for the Gloo backend (CPU ranks)
  // and "none" for NCCL (GPU ranks want the CPUs near their GPU, which Slurm/numactl know).
  std::string cpu_bind = "auto";
  std::string backend = "gloo";  // only for cpu_bind "auto"
};
// "auto", "cores" or "none"; InputError naming `field` otherwise.
void check_cpu_bind(const std::string& value, const std::string& field);

// The CPUs local rank `local_rank` of `local_world` is bound to, out of the CPUs this process may
// use (`allowed`, in order): with at least as many CPUs as ranks, a block of
// allowed.size() / local_world consecutive CPUs each (left-over CPUs unused); with more ranks than
// CPUs, CPU allowed[local_rank % allowed.size()] (round robin: ranks local_rank and
// local_rank + allowed.size() share one). docs/executor.md says why binding matters here.
std::vector<int> cpus_for_rank(const std::vector<int>& allowed, int local_rank, int local_world);

// Returns 0 when every rank returned 0; 130 on Ctrl-C; 124 on run timeout; else the failed
// rank's exit code (128 + signal when it was killed). InputError when the port is busy.
int launch_local_ranks(const LaunchOptions& opts, const RankFn& fn);

struct RankEnv {
  bool found = false;
  std::string launcher;  // torchrun, slurm, mpirun
  int rank = 0, world = 1, local_rank = 0, local_world = 1;
  std::string master_addr;
  int master_port = 29500;
  bool store_hosted_by_agent = false;  // torchrun with TORCHELASTIC_USE_AGENT_STORE=True
};
// Reads RANK/WORLD_SIZE/LOCAL_RANK/LOCAL_WORLD_SIZE/MASTER_ADDR/MASTER_PORT (torchrun),
// SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID/SLURM_NODELIST (srun) or OMPI_COMM_WORLD_* (mpirun).
RankEnv rank_env_from_environment();
// First host of a Slurm node list: "node[03-05,9],gpu1" -> "node03".
std::string first_slurm_host(const std::string& nodelist);
// Runs fn as one rank of an externally launched job (rank 0 hosts the store unless the agent
// does); returns the exit code. Never returns while other ranks may still need the store.
int run_as_rank(const RankEnv& env, const LaunchOptions& opts, const RankFn& fn);

int cpu_cores();  // cores this process may run on (sched_getaffinity)

// TEST-ONLY fault injection (tests/executor, docs/executor.md "Faults"): when the environment has
// PLANNER_TEST_HANG=RANK:STEP[:stop], rank RANK hangs at the start of step STEP (0-based): its
// main thread sleeps for an hour (the watchdog thread keeps beating), or with ":stop" the whole
// process stops itself (SIGSTOP: no heartbeat either). No effect when the variable is unset.
void test_hook_maybe_hang(int rank, int64_t step);

}  // namespace planner::executor
