#include "executor/launcher.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <csignal>
#include <limits>
#include <malloc.h>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "core/error.h"
#include "executor/blas.h"

namespace planner::executor {

namespace {

using Clock = std::chrono::steady_clock;
const std::string kAbortKey = "planner/abort";
const std::string kHeartbeatPrefix = "planner/hb/";
const std::string kDonePrefix = "planner/done/";
const std::string kFinishedKey = "planner/finished";
// After a failure is published, how long the launcher lets the other ranks exit on their own
// (their watchdogs poll the abort key every 0.5 s) before it kills them.
constexpr double kStopGraceS = 2.0;
// Set once this rank's function has returned: from then on the store may go away (rank 0 hosts
// it under torchrun without an agent store) and the watchdog must not call that a failure.
std::atomic<bool> g_finishing{false};

std::string store_get_string(c10d::Store& s, const std::string& key) {
  auto v = s.get(key);
  return std::string(v.begin(), v.end());
}
void store_set_string(c10d::Store& s, const std::string& key, const std::string& value) {
  s.set(key, std::vector<uint8_t>(value.begin(), value.end()));
}

StorePtr connect_store(const std::string& host, int port, bool server, int world, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(port);
  o.isServer = server;
  o.numWorkers = c10::nullopt;
  o.waitWorkers = false;
  o.timeout = timeout;
  (void)world;
  return c10::make_intrusive<c10d::TCPStore>(host, o);
}

// The local launcher's store: a c10d::FileStore in a folder only this user can enter (mkdtemp
// makes it 0700). Nothing listens on a socket, so no other host or user can reach it.
StorePtr open_file_store(const std::string& path, std::chrono::milliseconds timeout) {
  auto s = c10::make_intrusive<c10d::FileStore>(path, -1);  // -1: the launcher deletes the folder
  s->setTimeout(timeout);
  return s;
}

// Another client of the rank's store (the watchdog's own connection).
StorePtr open_client_store(const RankContext& ctx) {
  if (!ctx.store_path.empty()) return open_file_store(ctx.store_path, ctx.timeout);
  return connect_store(ctx.master_addr, ctx.master_port, false, ctx.world, ctx.timeout);
}

// A counter's value without writing (Store::add(key, 0) appends to a FileStore); 0 when unset.
int64_t read_counter(c10d::Store& s, const std::string& key) {
  if (!s.check({key})) return 0;
  const std::string v = store_get_string(s, key);
  return v.empty() ? 0 : std::stoll(v);
}

[[noreturn]] void rank_exit(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(code);
}

// Publishes the first failure (later ones keep the first message).
void publish_abort(c10d::Store& s, const std::string& msg) {
  try {
    if (!s.check({kAbortKey})) store_set_string(s, kAbortKey, msg);
  } catch (const std::exception&) {
  }
}

struct Watchdog {
  RankContext ctx;
  std::string store_desc;
  double fault_timeout_s;
  std::thread thread;

  void start() {
    thread = std::thread([this] { loop(); });
    thread.detach();
  }

  void loop() {
    StorePtr s;
    try {
      s = open_client_store(ctx);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rank %d: watchdog cannot reach the rendezvous store at %s: %s\n", ctx.rank,
                   store_desc.c_str(), e.what());
      rank_exit(3);
    }
    const int neighbour = (ctx.rank + 1) % ctx.world;
    int64_t last_seen = -1;
    auto last_change = Clock::now();
    const std::string my_key = kHeartbeatPrefix + std::to_string(ctx.rank);
    const std::string nb_key = kHeartbeatPrefix + std::to_string(neighbour);
    while (true) {
      if (g_finishing.load()) return;
      try {
        s->add(my_key, 1);
        if (s->check({kAbortKey})) {
          std::string msg = store_get_string(*s, kAbortKey);
          std::fprintf(stderr, "rank %d: stopping: %s\n", ctx.rank, msg.c_str());
          rank_exit(3);
        }
        if (ctx.world > 1) {
          int64_t v = read_counter(*s, nb_key);
          if (v != last_seen) {
            last_seen = v;
            last_change = Clock::now();
          } else if (std::chrono::duration<double>(Clock::now() - last_change).count() > fault_timeout_s &&
                     !s->check({kDonePrefix + std::to_string(neighbour)})) {
            std::string msg = "rank " + std::to_string(neighbour) + " failed: no heartbeat for " +
                              std::to_string(static_cast<int>(fault_timeout_s)) + " s (process hung or gone)";
            publish_abort(*s, msg);
            std::fprintf(stderr, "rank %d: stopping: %s\n", ctx.rank, msg.c_str());
            rank_exit(3);
          }
        }
      } catch (const std::exception& e) {
        if (g_finishing.load()) return;
        std::fprintf(stderr,
                     "rank %d: stopping: lost the rendezvous store at %s (the process hosting it has exited "
                     "or failed): %s\n",
                     ctx.rank, store_desc.c_str(), e.what());
        rank_exit(3);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
};

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

// Pins the calling thread, and so every thread it starts later, to the rank's CPUs. Called before
// LibTorch, Gloo or the watchdog start a thread. A failure is reported and the rank runs unbound.
void bind_this_process(RankContext& ctx) {
  const std::vector<int> cpus = cpus_for_rank(allowed_cpus(), ctx.local_rank, ctx.local_world);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  if (cpus.empty() || sched_setaffinity(0, sizeof(set), &set) != 0) {
    std::fprintf(stderr, "rank %d: warning: could not bind to CPUs (%s); running unbound\n", ctx.rank,
                 std::strerror(errno));
    return;
  }
  ctx.cpus = cpus;
}

// Body shared by locally forked and externally launched ranks. Never returns.
[[noreturn]] void rank_main(RankContext ctx, const std::string& store_desc, double fault_timeout_s,
                            const RankFn& fn) {
  // glibc hands every block above 32 MiB back to the kernel (mmap/munmap), so each large
  // temporary (gathered units, gradients) page-faults on first touch: 22% of a
  // feedforward:1024x4096 step under perf. Keep freed memory in the heap for reuse instead.
  ::mallopt(M_MMAP_MAX, 0);
  ::mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  if (ctx.bind_cpus) bind_this_process(ctx);
  at::set_num_threads(ctx.threads);
  set_blas_threads(ctx.threads);
  auto* wd = new Watchdog{ctx, store_desc, fault_timeout_s, {}};  // lives until _exit
  wd->start();
  int rc = 0;
  auto fail = [&](const std::string& what, int code, bool maybe_consequence) {
    if (maybe_consequence) {
      // A broken connection is usually a peer's failure: prefer that rank's own message.
      auto until = Clock::now() + std::chrono::seconds(2);
      while (Clock::now() < until) {
        try {
          if (ctx.store->check({kAbortKey})) {
            std::fprintf(stderr, "rank %d: stopping: %s\n", ctx.rank, store_get_string(*ctx.store, kAbortKey).c_str());
            rank_exit(3);
          }
        } catch (const std::exception&) {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    std::string msg = "rank " + std::to_string(ctx.rank) + " failed: " + what;
    std::fprintf(stderr, "rank %d: error: %s\n", ctx.rank, what.c_str());
    publish_abort(*ctx.store, msg);
    rank_exit(code);
  };
  try {
    rc = fn(ctx);
  } catch (const CommError& e) {
    fail(e.what(), 1, true);
  } catch (const InputError& e) {
    fail(e.what(), 2, false);
  } catch (const std::exception& e) {
    fail(e.what(), 1, false);
  }
  if (rc != 0) fail("exited with code " + std::to_string(rc), rc, false);
  // Done: tell the watchdogs, then wait for every rank so the store outlives its users.
  g_finishing.store(true);
  try {
    ctx.store->add(kDonePrefix + std::to_string(ctx.rank), 1);
    ctx.store->add(kFinishedKey, 1);
    auto until = Clock::now() + ctx.timeout;
    while (read_counter(*ctx.store, kFinishedKey) < ctx.world && Clock::now() < until) {
      if (ctx.store->check({kAbortKey})) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const std::exception&) {
  }
  rank_exit(0);
}

volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int sig) { g_interrupted = sig; }

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "stopped";
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int env_int(const char* name, const char* launcher) {
  const char* v = std::getenv(name);
  if (!v) throw InputError(std::string("environment variable ") + name, "",
                           std::string("not set, but other ") + launcher + " variables are");
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || x < 0)
    throw InputError(std::string("environment variable ") + name, "", std::string("'") + v + "' is not a non-negative integer");
  return static_cast<int>(x);
}

// External launchers (Slurm's --cpu-bind, numactl) may have bound the rank already: "auto" then
// keeps their binding, i.e. binds only when this process may still run on every online CPU.
bool bind_for(const LaunchOptions& o, bool external) {
  if (o.cpu_bind == "cores") return true;
  if (o.cpu_bind != "auto" || o.backend != "gloo") return false;
  return !external || static_cast<long>(allowed_cpus().size()) == ::sysconf(_SC_NPROCESSORS_ONLN);
}

int threads_for(int requested, int local_world) {
  if (requested > 0) return requested;
  return std::max(1, cpu_cores() / std::max(1, local_world));
}

}  // namespace

void check_cpu_bind(const std::string& value, const std::string& field) {
  if (value != "auto" && value != "cores" && value != "none")
    throw InputError(field, "", "must be auto, cores or none, got \"" + value + "\"");
}

std::vector<int> cpus_for_rank(const std::vector<int>& allowed, int local_rank, int local_world) {
  const int n = static_cast<int>(allowed.size());
  if (n == 0 || local_world < 1 || local_rank < 0) return {};
  if (local_world > n) return {allowed[local_rank % n]};
  const int block = n / local_world;
  if (local_rank >= local_world) return {};
  return std::vector<int>(allowed.begin() + local_rank * block, allowed.begin() + (local_rank + 1) * block);
}

int cpu_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int launch_local_ranks(const LaunchOptions& opts, const RankFn& fn) {
  PLANNER_CHECK(opts.nproc >= 1, "nproc=" << opts.nproc);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.fault_timeout_s * 1000));
  // The rendezvous store. By default a FileStore in a private folder: LibTorch 1.13's TCPStore
  // server listens on every interface (its listen() takes a port, no address), unauthenticated.
  // A TCPStore only with an explicit --master-port, for tools that want to reach the store.
  StorePtr server;
  int port = 0;
  std::string store_path, desc;
  if (opts.master_port == 0) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/planner-store-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr)
      throw InputError(templ, "", std::string("cannot create the rendezvous store's folder: ") + std::strerror(errno));
    store_path = templ + "/store";
    server = open_file_store(store_path, timeout);
    desc = store_path + " (a file store of the launcher)";
  } else {
    try {
      server = connect_store(opts.master_addr, opts.master_port, true, opts.nproc, timeout);
    } catch (const std::exception& e) {
      throw InputError("--master-port", "",
                       "cannot host the rendezvous store on " + opts.master_addr + ":" + std::to_string(opts.master_port) +
                           " (" + e.what() + "); the port is probably busy: pick another, or leave --master-port out (0) "
                           "to use a private file store");
    }
    port = opts.master_port;
    desc = opts.master_addr + ":" + std::to_string(port) + " (hosted by the launcher, listening on every interface)";
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  std::vector<pid_t> pids(opts.nproc, -1);
  for (int r = 0; r < opts.nproc; ++r) {
    pid_t pid = ::fork();
    if (pid < 0) {
      for (int q = 0; q < r; ++q) ::kill(pids[q], SIGKILL);
      for (int q = 0; q < r; ++q) ::waitpid(pids[q], nullptr, 0);
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) rank_exit(1);
      std::signal(SIGINT, SIG_DFL);
      std::signal(SIGTERM, SIG_DFL);
      RankContext ctx;
      ctx.rank = r;
      ctx.world = opts.nproc;
      ctx.local_rank = r;
      ctx.local_world = opts.nproc;
      ctx.master_addr = opts.master_addr;
      ctx.master_port = port;
      ctx.store_path = store_path;
      ctx.timeout = timeout;
      ctx.threads = threads_for(opts.threads_per_rank, opts.nproc);
      ctx.bind_cpus = bind_for(opts, false);
      ctx.machine_cpus = cpu_cores();
      ctx.launcher = "local";
      try {
        ctx.store = open_client_store(ctx);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: cannot reach the rendezvous store at %s: %s\n", r, desc.c_str(), e.what());
        rank_exit(3);
      }
      rank_main(ctx, desc, opts.fault_timeout_s, fn);
    }
    pids[r] = pid;
  }

  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  g_interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  const auto start = Clock::now();
  std::vector<bool> alive(opts.nproc, true);
  int n_alive = opts.nproc;
  int result = 0;
  bool stopping = false;
  Clock::time_point kill_at{};
  auto signal_all = [&](int sig) {
    for (int r = 0; r < opts.nproc; ++r)
      if (alive[r]) ::kill(pids[r], sig);
  };
  while (n_alive > 0) {
    for (int r = 0; r < opts.nproc; ++r) {
      if (!alive[r]) continue;
      int status = 0;
      pid_t got = ::waitpid(pids[r], &status, WNOHANG);
      if (got != pids[r]) continue;
      alive[r] = false;
      --n_alive;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && !stopping) {
        stopping = true;
        result = status_code(status);
        std::string cause;
        try {
          if (server->check({kAbortKey})) cause = store_get_string(*server, kAbortKey);
        } catch (const std::exception&) {
        }
        if (cause.empty()) {
          cause = "rank " + std::to_string(r) + " failed: it " + describe_status(status);
          publish_abort(*server, cause);
        }
        // Every live rank's watchdog sees the abort key within its 0.5 s beat and exits; a rank
        // still there after the grace is stopped or hung beyond its watchdog: killed.
        const double grace_s = std::min(opts.fault_timeout_s, kStopGraceS);
        std::fprintf(stderr, "launcher: %s; stopping the other ranks (killed if still running in %.0f s)\n",
                     cause.c_str(), grace_s);
        kill_at = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
      }
    }
    if (n_alive == 0) break;
    if (g_interrupted && result != 130) {
      std::fprintf(stderr, "launcher: interrupted (signal %d); stopping all %d ranks\n", static_cast<int>(g_interrupted),
                   opts.nproc);
      publish_abort(*server, "the launcher was interrupted (Ctrl-C)");
      signal_all(SIGTERM);
      result = 130;
      stopping = true;
      kill_at = Clock::now() + std::chrono::seconds(5);
    }
    if (opts.run_timeout_s > 0 && result != 124 &&
        std::chrono::duration<double>(Clock::now() - start).count() > opts.run_timeout_s) {
      std::fprintf(stderr, "launcher: the run exceeded its time limit of %.0f s; killing all ranks\n", opts.run_timeout_s);
      signal_all(SIGKILL);
      result = 124;
      stopping = true;
    }
    if (stopping && Clock::now() > kill_at && kill_at != Clock::time_point{}) {
      for (int r = 0; r < opts.nproc; ++r)
        if (alive[r]) std::fprintf(stderr, "launcher: rank %d still running; killing it\n", r);
      signal_all(SIGKILL);
      kill_at = Clock::time_point{};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  server.reset();
  if (!store_path.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(store_path).parent_path(), ec);
  }
  return result;
}

void test_hook_maybe_hang(int rank, int64_t step) {
  static const char* spec = std::getenv("PLANNER_TEST_HANG");
  if (!spec || !*spec) return;
  int hang_rank = -1;
  long long hang_step = -1;
  char mode[8] = {0};
  if (std::sscanf(spec, "%d:%lld:%7s", &hang_rank, &hang_step, mode) < 2 || hang_rank != rank || hang_step != step) return;
  std::fprintf(stderr, "rank %d: PLANNER_TEST_HANG: hanging at step %lld (%s)\n", rank, hang_step,
               std::strcmp(mode, "stop") == 0 ? "SIGSTOP" : "main thread asleep");
  std::fflush(stderr);
  if (std::strcmp(mode, "stop") == 0) ::raise(SIGSTOP);
  std::this_thread::sleep_for(std::chrono::hours(1));
}

std::string first_slurm_host(const std::string& nodelist) {
  // Up to the first top-level comma; expand the first element of a bracket range.
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first += c;
  }
  auto lb = first.find('[');
  if (lb == std::string::npos) return first;
  std::string prefix = first.substr(0, lb);
  std::string inside = first.substr(lb + 1, first.find(']') - lb - 1);
  std::string item = inside.substr(0, inside.find(','));
  std::string lo = item.substr(0, item.find('-'));
  return prefix + lo;
}

RankEnv rank_env_from_environment() {
  RankEnv e;
  auto get = [](const char* n) -> std::string {
    const char* v = std::getenv(n);
    return v ? v : "";
  };
  if (!get("RANK").empty() && !get("WORLD_SIZE").empty()) {
    e.found = true;
    e.launcher = "torchrun";
    e.rank = env_int("RANK", "torchrun");
    e.world = env_int("WORLD_SIZE", "torchrun");
    e.local_rank = get("LOCAL_RANK").empty() ? e.rank : env_int("LOCAL_RANK", "torchrun");
    e.local_world = get("LOCAL_WORLD_SIZE").empty() ? e.world : env_int("LOCAL_WORLD_SIZE", "torchrun");
    e.master_addr = get("MASTER_ADDR").empty() ? "127.0.0.1" : get("MASTER_ADDR");
    e.master_port = get("MASTER_PORT").empty() ? 29500 : env_int("MASTER_PORT", "torchrun");
    std::string agent = get("TORCHELASTIC_USE_AGENT_STORE");
    e.store_hosted_by_agent = agent == "True" || agent == "true" || agent == "1";
  } else if (!get("SLURM_PROCID").empty() && !get("SLURM_NTASKS").empty()) {
    e.found = true;
    e.launcher = "slurm";
    e.rank = env_int("SLURM_PROCID", "Slurm");
    e.world = env_int("SLURM_NTASKS", "Slurm");
    e.local_rank = get("SLURM_LOCALID").empty() ? 0 : env_int("SLURM_LOCALID", "Slurm");
    std::string per_node = get("SLURM_NTASKS_PER_NODE");
    if (per_node.empty()) per_node = get("SLURM_TASKS_PER_NODE");  // "4(x2)" -> 4
    e.local_world = per_node.empty() ? 1 : std::max(1, std::atoi(per_node.c_str()));
    e.master_addr = !get("MASTER_ADDR").empty() ? get("MASTER_ADDR") : first_slurm_host(get("SLURM_NODELIST"));
    if (e.master_addr.empty())
      throw InputError("environment variable MASTER_ADDR", "", "not set and SLURM_NODELIST is empty: cannot find rank 0's host");
    e.master_port = get("MASTER_PORT").empty() ? 29500 : env_int("MASTER_PORT", "Slurm");
  } else if (!get("OMPI_COMM_WORLD_RANK").empty()) {
    e.found = true;
    e.launcher = "mpirun";
    e.rank = env_int("OMPI_COMM_WORLD_RANK", "Open MPI");
    e.world = env_int("OMPI_COMM_WORLD_SIZE", "Open MPI");
    e.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", "Open MPI");
    e.local_world = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", "Open MPI");
    if (get("MASTER_ADDR").empty() && e.local_world != e.world)
      throw InputError("environment variable MASTER_ADDR", "",
                       "must name rank 0's host for a multi-node mpirun (e.g. mpirun -x MASTER_ADDR=node01)");
    e.master_addr = get("MASTER_ADDR").empty() ? "127.0.0.1" : get("MASTER_ADDR");
    e.master_port = get("MASTER_PORT").empty() ? 29500 : env_int("MASTER_PORT", "Open MPI");
  }
  if (e.found && (e.world < 1 || e.rank >= e.world))
    throw InputError("environment (" + e.launcher + ")", "", "rank " + std::to_string(e.rank) +
                                                                 " is not below world size " + std::to_string(e.world));
  return e;
}

int run_as_rank(const RankEnv& env, const LaunchOptions& opts, const RankFn& fn) {
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.fault_timeout_s * 1000));
  const bool server = env.rank == 0 && !env.store_hosted_by_agent;
  RankContext ctx;
  ctx.rank = env.rank;
  ctx.world = env.world;
  ctx.local_rank = env.local_rank;
  ctx.local_world = env.local_world;
  ctx.master_addr = env.master_addr;
  ctx.master_port = env.master_port;
  ctx.timeout = timeout;
  ctx.threads = threads_for(opts.threads_per_rank, env.local_world);
  ctx.bind_cpus = bind_for(opts, true);
  ctx.machine_cpus = cpu_cores();
  ctx.launcher = env.launcher;
  const std::string desc = env.master_addr + ":" + std::to_string(env.master_port) +
                           (env.store_hosted_by_agent ? " (hosted by the torchrun agent)" : " (hosted by rank 0)");
  if (server && env.local_world == env.world)
    std::fprintf(stderr,
                 "rank 0: warning: the rendezvous store (LibTorch 1.13's TCPStore, which cannot bind one address) "
                 "listens on port %d of every interface of this host, unauthenticated; on one node, `planner train "
                 "--nproc %d` (no %s) uses a private file store instead\n",
                 env.master_port, env.world, env.launcher.c_str());
  try {
    ctx.store = connect_store(env.master_addr, env.master_port, server, env.world, timeout);
  } catch (const std::exception& e) {
    throw InputError("MASTER_ADDR/MASTER_PORT", "",
                     std::string(server ? "cannot host" : "cannot reach") + " the rendezvous store at " + desc + ": " +
                         e.what() + (server ? " (is the port busy? set MASTER_PORT to a free one)" : ""));
  }
  rank_main(ctx, desc, opts.fault_timeout_s, fn);
}

}  // namespace planner::executor
