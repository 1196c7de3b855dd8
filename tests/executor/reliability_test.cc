// Reliability of `planner train` (docs/executor.md, "Checkpoints" and "Faults"): crash-consistent
// checkpoints (a rank killed at random moments, then resumed), checksums, the writer lock, output
// paths checked before training, a hung rank, the store's sockets, the plan's predicted memory
// and the launch lines. Every process started here runs under a time limit (`timeout`, or a
// deadline this file enforces with SIGKILL), so nothing can hang.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <random>
#include <signal.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "core/error.h"
#include "core/json_io.h"
#include "executor/checkpoint_io.h"
#include "executor/comm.h"
#include "executor/launcher.h"
#include "support/run_binary.h"

using namespace planner;
using namespace planner::executor;
using ::planner::testing::run_planner;
using ::planner::testing::run_shell;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/planner_rel_" + std::to_string(::getpid()) + "_" + name;
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Two ranks of the 64x128 FeedForward (3 x 64 x 128 parameters, one FSDP unit): a step takes a
// few milliseconds, so a run's time is mostly starting the ranks.
const std::string kTinyAnySeed =
    "--model feedforward:64x128 --nproc 2 --dp 2 --tp 1 --micro-batch 1 --seq-len 8 --global-batch 4 --quiet "
    "--fault-timeout 20";
const std::string kTiny = kTinyAnySeed + " --seed 5";

std::vector<double> record_loss(const std::string& path) {
  std::vector<double> v;
  const Json j = read_json_file(path);
  for (const auto& x : j.at("loss")) v.push_back(x.get<double>());
  return v;
}

// Starts `planner ARGS` with stdout and stderr to `log`; returns its pid (the launcher).
pid_t spawn_planner(const std::string& args, const std::string& log) {
  const std::string cmd = "exec " + std::string(PLANNER_BINARY) + " " + args + " >" + log + " 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits for pid up to timeout_s (then SIGKILLs it and fails the test); returns its exit code.
int wait_bounded(pid_t pid, double timeout_s) {
  const auto t0 = Clock::now();
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (since(t0) > timeout_s) {
      ADD_FAILURE() << "process " << pid << " still running after " << timeout_s << " s; killed";
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The children of `pid` (the ranks a launcher forked), from /proc/*/stat.
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> kids;
  DIR* d = ::opendir("/proc");
  if (!d) return kids;
  while (dirent* e = ::readdir(d)) {
    const pid_t p = static_cast<pid_t>(std::atoi(e->d_name));
    if (p <= 0) continue;
    std::ifstream f("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) kids.push_back(p);
  }
  ::closedir(d);
  std::sort(kids.begin(), kids.end());
  return kids;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A short checkpointed run (steps 1 and 2 saved) into dir.
void make_checkpoint(const std::string& dir) {
  fs::remove_all(dir);
  const auto r = run_planner("train " + kTiny + " --steps 2 --checkpoint-every 1 --checkpoint-dir " + dir, 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace

// ------------------------------------------------------------------------------------- checkpoints

// Layout after a run with --checkpoint-every 1: committed step folders only (the two newest),
// each with every rank's file and meta.json listing their sizes and CRC-32s; no .tmp folders, no
// per-rank .sum files left.
TEST(CheckpointFiles, CommittedFoldersHoldEveryFileWithItsChecksum) {
  const std::string dir = temp_path("layout");
  fs::remove_all(dir);
  const auto r = run_planner("train " + kTiny + " --steps 4 --checkpoint-every 1 --checkpoint-dir " + dir, 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".lock", "step-00000003", "step-00000004"}));
  const Json meta = read_json_file(dir + "/step-00000004/meta.json");
  EXPECT_EQ(meta["format"], "planner-checkpoint/2");
  EXPECT_EQ(meta["step"], 4);
  EXPECT_EQ(meta["seed"], 5);
  ASSERT_EQ(meta["files"].size(), 2u);
  for (int q = 0; q < 2; ++q) {
    const std::string f = dir + "/step-00000004/rank-" + std::to_string(q) + ".pt";
    EXPECT_EQ(meta["files"][q]["file"], "rank-" + std::to_string(q) + ".pt");
    EXPECT_EQ(meta["files"][q]["bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(f)));
    EXPECT_EQ(meta["files"][q]["crc32"].get<std::string>().size(), 8u);
  }
  std::vector<std::string> inside;
  for (const auto& e : fs::directory_iterator(dir + "/step-00000004")) inside.push_back(e.path().filename().string());
  std::sort(inside.begin(), inside.end());
  EXPECT_EQ(inside, (std::vector<std::string>{"meta.json", "rank-0.pt", "rank-1.pt"}));
  EXPECT_EQ(resolve_checkpoint(dir), dir + "/step-00000004");
}

// Each damaged checkpoint is refused with exit 2 and a message naming the file and what is wrong;
// so is another --seed, a folder with only an uncommitted checkpoint, and a --checkpoint-dir that
// holds another run's checkpoints.
TEST(CheckpointFiles, ResumeRefusesDamageAnotherSeedAndMixedRuns) {
  const std::string dir = temp_path("damage");
  const std::string step = dir + "/step-00000002";
  auto resume = [&](const std::string& seed = " --seed 5") {
    return run_planner("train " + kTinyAnySeed + seed + " --steps 1 --resume " + dir, 120);
  };
  make_checkpoint(dir);
  {
    const auto r = resume(" --seed 7");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(step + "/meta.json: field 'seed': 5 but this run has --seed 7"), std::string::npos) << r.output;
  }
  {  // 4,000 bytes flipped in the middle of rank 1's file: same size, another checksum.
    const std::string f = step + "/rank-1.pt";
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = static_cast<std::streamoff>(fs::file_size(f));
    ASSERT_GT(size, 8000);
    std::string buf(4000, '\0');
    io.seekg(size / 2 - 2000);
    io.read(buf.data(), 4000);
    for (char& ch : buf) ch = static_cast<char>(~ch);
    io.seekp(size / 2 - 2000);
    io.write(buf.data(), 4000);
    io.close();
    const auto r = resume();
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(f + ": CRC-32 "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("the file is corrupted; refusing to resume"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("step 1/"), std::string::npos) << r.output;  // no step ran
  }
  make_checkpoint(dir);
  {  // Truncated: refused before any rank starts.
    const std::string f = step + "/rank-0.pt";
    const auto size = fs::file_size(f);
    fs::resize_file(f, size - 100);
    const auto r = resume();
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(f + ": " + std::to_string(size - 100) + " bytes but meta.json says " + std::to_string(size) +
                            " (truncated or overwritten)"),
              std::string::npos)
        << r.output;
  }
  make_checkpoint(dir);
  {
    fs::remove(step + "/rank-1.pt");
    const auto r = resume();
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(step + "/rank-1.pt: missing"), std::string::npos) << r.output;
  }
  {  // Only an uncommitted folder (a run stopped while saving).
    fs::remove_all(dir);
    fs::create_directories(dir + "/step-00000003.tmp");
    const auto r = resume();
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("no committed checkpoint, only step-00000003.tmp"), std::string::npos) << r.output;
  }
  make_checkpoint(dir);
  {  // A new run into a folder holding another run's checkpoints would mix the two.
    const auto r = run_planner("train " + kTiny + " --steps 1 --checkpoint-dir " + dir, 60);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("already holds checkpoints of another run (step-00000002)"), std::string::npos) << r.output;
    // Resuming from it and saving into it is the normal case.
    const auto ok = run_planner("train " + kTiny + " --steps 1 --resume " + dir + " --checkpoint-dir " + dir, 120);
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
    EXPECT_EQ(resolve_checkpoint(dir), dir + "/step-00000003");
  }
}

// A second writer is refused while the first holds the folder's lock, naming the holder's pid.
TEST(CheckpointFiles, ALockKeepsASecondWriterOut) {
  const std::string dir = temp_path("lock");
  fs::remove_all(dir);
  {
    CheckpointLock held(dir);  // this test process plays the first run
    const auto r = run_planner("train " + kTiny + " --steps 1 --checkpoint-dir " + dir, 60);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("is in use by another run (process " + std::to_string(::getpid()) + " holds " + dir + "/.lock"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(dir + "/step-00000001"));
  }
  const auto r = run_planner("train " + kTiny + " --steps 1 --checkpoint-dir " + dir, 120);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/step-00000001/meta.json"));
}

// The kill test. A straight run of 10 steps gives the reference losses. Each trial runs 6 steps
// with a checkpoint after every step and SIGKILLs one rank (chosen at random) at a random moment:
// one trial in five during start-up (uniform in the first second after both ranks exist), the
// others in training: after rank 0 prints step K (K uniform in 1..6; it prints before saving)
// plus a uniform 0-40 ms, the time of a step and its save here, so inside a save, a commit or the
// next step. Then it resumes from the folder for 4 more steps. Every resume must either refuse
// with exit 2 and a clear message (nothing committed yet) or continue from its checkpoint's step
// s with the straight run's losses s+1 .. s+4, bitwise: same split, same seed, same arithmetic.
TEST(CheckpointKill, ARankKilledAtRandomMomentsThenResumedNeverGivesOtherLosses) {
  const int kTrials = 20;
  const std::string ref_file = temp_path("kill_ref.json");
  const auto r = run_planner("train " + kTiny + " --steps 10 --record " + ref_file, 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<double> ref = record_loss(ref_file);
  ASSERT_EQ(ref.size(), 10u);
  ASSERT_NE(ref[0], ref[9]);
  std::mt19937 rng(20261202);  // fixed: a failure can be replayed
  int resumed = 0, refused = 0, finished_first = 0;
  std::vector<int> resumed_steps;
  const auto t0 = Clock::now();
  for (int t = 0; t < kTrials; ++t) {
    const std::string dir = temp_path("kill_" + std::to_string(t));
    const std::string log = temp_path("kill_" + std::to_string(t) + ".log");
    fs::remove_all(dir);
    const bool at_startup = t % 5 == 0;
    const int after_step = std::uniform_int_distribution<int>(1, 6)(rng);
    const double delay_s = at_startup ? std::uniform_real_distribution<double>(0.0, 1.0)(rng)
                                      : std::uniform_real_distribution<double>(0.0, 0.040)(rng);
    const int victim = std::uniform_int_distribution<int>(0, 1)(rng);
    const std::string tiny_loud = kTiny.substr(0, kTiny.find(" --quiet")) + kTiny.substr(kTiny.find(" --quiet") + 8);
    const pid_t launcher =
        spawn_planner("train " + tiny_loud + " --steps 6 --checkpoint-every 1 --checkpoint-dir " + dir, log);
    std::vector<pid_t> ranks;
    for (const auto w0 = Clock::now(); ranks.size() < 2 && since(w0) < 20;) {
      ranks = children_of(launcher);
      if (ranks.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const std::string mark = "step " + std::to_string(after_step) + "/6";
    for (const auto w0 = Clock::now(); !at_startup && since(w0) < 30;) {
      if (slurp(log).find(mark) != std::string::npos) break;
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(launcher), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0)
        break;  // it ended (the child stays for wait_bounded to collect)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(delay_s));
    const bool killed = ranks.size() == 2 && ::kill(ranks[victim], SIGKILL) == 0;
    const int rc = wait_bounded(launcher, 60);
    // Rank 0 prints "done" after the last commit; a rank killed after that fails the run (its
    // exit code) or, already exiting, does not.
    const bool completed = slurp(log).find("done: 6 steps") != std::string::npos;
    if (completed) ++finished_first;
    if (!completed) {
      EXPECT_NE(rc, 0) << "trial " << t << ": the run survived a killed rank\n" << slurp(log);
    }
    EXPECT_TRUE(killed || completed) << "trial " << t << ": no rank to kill\n" << slurp(log);
    const std::string rec = temp_path("kill_" + std::to_string(t) + ".json");
    std::remove(rec.c_str());
    const auto res = run_planner("train " + kTiny + " --steps 4 --resume " + dir + " --checkpoint-dir " + dir +
                                     " --checkpoint-every 1 --record " + rec, 120);
    int64_t step = -1;
    try {
      step = std::stoll(fs::path(resolve_checkpoint(dir)).filename().string().substr(5));
    } catch (const std::exception&) {
    }
    if (res.exit_code == 2) {
      ++refused;
      // Refused only when nothing was committed, with the reason.
      EXPECT_TRUE(res.output.find("no committed checkpoint") != std::string::npos ||
                  res.output.find("holds no checkpoint") != std::string::npos ||
                  res.output.find("no such folder") != std::string::npos)
          << "trial " << t << ":\n" << res.output;
      continue;
    }
    ASSERT_EQ(res.exit_code, 0) << "trial " << t << ":\n" << res.output << "\nkilled run:\n" << slurp(log);
    ++resumed;
    const std::vector<double> got = record_loss(rec);
    // The resumed run wrote step s + 4; its first step is s + 1.
    const int64_t s = step - 4;
    resumed_steps.push_back(static_cast<int>(s));
    ASSERT_GE(s, 1) << "trial " << t;
    ASSERT_LE(s, 6) << "trial " << t;
    ASSERT_EQ(got.size(), 4u);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(got[i], ref[static_cast<size_t>(s + i)]) << "trial " << t << ": resumed at step " << s << ", step " << s + i + 1;
  }
  std::string steps;
  for (int s : resumed_steps) steps += " " + std::to_string(s);
  std::printf("kill test: %d trials in %.1f s: %d resumed (from steps%s), %d refused (nothing committed); in %d the "
              "signal came after the last commit\n",
              kTrials, since(t0), resumed, steps.c_str(), refused, finished_first);
  EXPECT_EQ(resumed + refused, kTrials);
  EXPECT_GT(resumed, 0);
  for (int t = 0; t < kTrials; ++t) fs::remove_all(temp_path("kill_" + std::to_string(t)));
}

// ------------------------------------------------------------------------------------- output paths

// --record and --checkpoint-dir are checked before any rank starts: exit 2 at once, no step run.
TEST(OutputPaths, BadRecordOrCheckpointPathsAreRefusedBeforeTraining) {
  const std::string dir = temp_path("paths");
  fs::create_directories(dir);
  const std::string file = dir + "/plain-file";
  std::ofstream(file) << "x";
  struct Case {
    std::string flags, message;
  };
  for (const Case& c : std::vector<Case>{
           {"--record " + dir + "/no-such-folder/r.json",
            "--record: '" + dir + "/no-such-folder/r.json': the folder '" + dir + "/no-such-folder' does not exist"},
           {"--record " + dir, "--record: '" + dir + "' is a folder; give a file name"},
           {"--checkpoint-dir " + file, "--checkpoint-dir: '" + file + "' exists and is not a folder"},
           {"--checkpoint-dir /proc/planner-ckpt", "--checkpoint-dir: cannot create '/proc/planner-ckpt'"},
           {"--resume " + dir + "/none", "--resume: no such folder"}}) {
    const auto t0 = Clock::now();
    const auto r = run_planner("train " + kTiny + " --steps 50 " + c.flags, 60);
    EXPECT_EQ(r.exit_code, 2) << c.flags << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.flags << "\n" << r.output;
    EXPECT_EQ(r.output.find("step 1/"), std::string::npos) << r.output;
    EXPECT_LT(since(t0), 10.0) << c.flags;
  }
}

// ------------------------------------------------------------------------------------- faults

namespace {

struct TimedRun {
  int exit_code = -1;
  std::string output;
  double hang_to_end_s = -1;  // from the hook's "hanging" line to the last process closing output
};

// Runs planner with PLANNER_TEST_HANG=spec, timing from the hanging rank's message to the end of
// output (every rank and the launcher closed it: all exited).
TimedRun run_with_hang(const std::string& args, const std::string& spec) {
  TimedRun t;
  const std::string cmd = "PLANNER_TEST_HANG=" + spec + " timeout 60 " + std::string(PLANNER_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return t;
  char line[4096];
  Clock::time_point hang{};
  while (std::fgets(line, sizeof(line), p)) {
    t.output += line;
    if (hang == Clock::time_point{} && std::string(line).find("PLANNER_TEST_HANG: hanging") != std::string::npos)
      hang = Clock::now();
  }
  const auto end = Clock::now();
  const int status = ::pclose(p);
  t.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (hang != Clock::time_point{}) t.hang_to_end_s = std::chrono::duration<double>(end - hang).count();
  return t;
}

}  // namespace

// A rank that hangs (its main thread asleep while its watchdog still beats, or the whole process
// stopped) ends every rank within --fault-timeout + 5 s of hanging, and the run fails.
TEST(Faults, AHungRankEndsEveryRankWithinTheFaultTimeoutPlusFive) {
  const double fault_timeout_s = 3;
  const std::string args = "train --model feedforward:64x128 --nproc 2 --dp 2 --tp 1 --micro-batch 1 --seq-len 8 "
                           "--global-batch 4 --steps 1000 --fault-timeout 3";
  for (const std::string spec : {"1:2", "1:2:stop", "0:3"}) {
    const TimedRun r = run_with_hang(args, spec);
    EXPECT_NE(r.exit_code, 0) << spec << "\n" << r.output;
    EXPECT_NE(r.exit_code, 124) << spec << ": ran into the 60 s limit\n" << r.output;
    ASSERT_GE(r.hang_to_end_s, 0) << spec << "\n" << r.output;
    EXPECT_LE(r.hang_to_end_s, fault_timeout_s + 5) << spec << "\n" << r.output;
    EXPECT_NE(r.output.find("stopping"), std::string::npos) << r.output;
    std::printf("PLANNER_TEST_HANG=%s: every rank gone %.2f s after the hang (fault timeout %.0f s), exit %d\n",
                spec.c_str(), r.hang_to_end_s, fault_timeout_s, r.exit_code);
  }
}

namespace {

// Local addresses ("0100007F:1F90", hex) of the TCP sockets in LISTEN state that process pid holds.
std::vector<std::string> listening_addresses(pid_t pid) {
  std::vector<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fd_dir, ec)) {
    const std::string target = fs::read_symlink(e.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.push_back(target.substr(8, target.size() - 9));
  }
  std::vector<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream f(table);
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      std::istringstream in(line);
      std::string sl, local, remote, state, queues, tr, retr, uid, timeout, inode;
      in >> sl >> local >> remote >> state >> queues >> tr >> retr >> uid >> timeout >> inode;
      if (state == "0A" && std::find(inodes.begin(), inodes.end(), inode) != inodes.end()) out.push_back(local);
    }
  }
  return out;
}

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

bool is_loopback(const std::string& hex_addr) {
  const std::string ip = hex_addr.substr(0, hex_addr.find(':'));
  if (ip.size() == 8) return ip.substr(6) == "7F";  // 127.x.x.x, little-endian hex
  return ip == "00000000000000000000000001000000";    // ::1
}

}  // namespace

// The local launcher's store is a file store in a private folder (mode 0700): neither the
// launcher nor a rank listens on a socket of any address but loopback (Gloo binds its sockets to
// 127.0.0.1 and, measured, keeps no listener once its pairs are connected).
TEST(Faults, TheLocalLaunchListensOnLoopbackOnly) {
  LaunchOptions o;
  o.nproc = 2;
  o.fault_timeout_s = 20;
  o.run_timeout_s = 60;
  o.threads_per_rank = 1;
  const std::string out = temp_path("sockets.txt");
  std::remove(out.c_str());
  const int rc = launch_local_ranks(o, [&](RankContext& ctx) {
    auto c = make_gloo_comm(ctx.store, "world", "t/", ctx.rank, ctx.world, ctx.timeout, "127.0.0.1");
    c->barrier();
    if (ctx.rank == 0) {
      std::ofstream f(out);
      struct stat st {};
      ::stat(fs::path(ctx.store_path).parent_path().c_str(), &st);
      f << "store " << ctx.store_path << " mode " << std::oct << (st.st_mode & 0777) << std::dec << "\n";
      for (pid_t p : {::getpid(), ::getppid()})
        for (const auto& a : listening_addresses(p)) f << (p == ::getpid() ? "rank0 " : "launcher ") << a << "\n";
    }
    c->barrier();
    return 0;
  });
  ASSERT_EQ(rc, 0);
  std::ifstream f(out);
  std::string line;
  ASSERT_TRUE(std::getline(f, line));
  EXPECT_NE(line.find("/planner-store-"), std::string::npos) << line;
  EXPECT_NE(line.find("mode 700"), std::string::npos) << line;
  while (std::getline(f, line)) {
    EXPECT_EQ(line.rfind("rank0 ", 0), 0u) << "the launcher listens: " << line;
    EXPECT_TRUE(is_loopback(line.substr(line.find(' ') + 1))) << line;
  }
  // The check can fail: with a --master-port, LibTorch 1.13's TCPStore listens on every interface
  // ("00000000000000000000000000000000:PORT" in /proc/net/tcp6), and it finds that.
  o.master_port = free_port();
  std::remove(out.c_str());
  ASSERT_EQ(launch_local_ranks(o, [&](RankContext& ctx) {
              if (ctx.rank == 0) {
                std::ofstream g(out);
                for (const auto& a : listening_addresses(::getppid())) g << a << "\n";
              }
              return 0;
            }),
            0);
  std::ifstream g(out);
  bool wildcard = false;
  while (std::getline(g, line)) wildcard = wildcard || !is_loopback(line);
  EXPECT_TRUE(wildcard) << slurp(out);
}

// ------------------------------------------------------------------------------------- train --plan, launch lines

// A plan file whose plan, with the flags applied, the simulator predicts not to fit the plan's
// GPUs is refused (exit 2, the simulator's reason) unless --force.
TEST(TrainPlan, APlanPredictedNotToFitIsRefusedUnlessForced) {
  const std::string plan = temp_path("plan.json");
  const auto w = run_planner("plan --model llama3-8b --cluster h100-sxm --nodes 1 --seq-len 4096 --global-batch 64 "
                             "--write-plan " + plan);
  ASSERT_EQ(w.exit_code, 0) << w.output;
  // dp=8 (one node); micro-batch 8 (8 x 8 = the global batch of 64, no accumulation) without
  // activation checkpointing: 8 x 4096 tokens of activations per GPU, 291.9 GiB > 79.6 GiB.
  const std::string big = "train --plan " + plan + " --micro-batch 8 --ac none --print-launch-lines";
  const auto r = run_planner(big);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(plan + ": field 'plan': predicted not to fit in memory: memory "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pass --force to train it anyway"), std::string::npos) << r.output;
  const auto f = run_planner(big + " --force");
  EXPECT_NE(f.output.find("predicted not to fit in memory"), std::string::npos) << f.output;
  EXPECT_NE(f.output.find("training anyway (--force)"), std::string::npos) << f.output;
  const auto fits = run_planner("train --plan " + plan + " --print-launch-lines");
  EXPECT_EQ(fits.output.find("predicted not to fit"), std::string::npos) << fits.output;
}

// The torchrun and srun lines carry every flag of the run, each word shell-quoted: a shell reads
// them back as the same words, and a file name with a ';' runs nothing.
TEST(TrainPlan, LaunchLinesCarryEveryFlagShellQuoted) {
  const std::string dir = temp_path("lines");
  fs::create_directories(dir);
  const std::string evil = dir + "/r x;touch " + dir + "/pwned;'q'.json";
  // Inside the double quotes the shell that runs the test's command keeps ' and ; as they are.
  const auto r = run_planner("train --model llama-tiny --dp 2 --tp 2 --micro-batch 2 --seq-len 32 --global-batch 8 "
                             "--steps 7 --lr 0.001 --seed 9 --ac selective --checkpoint-dir " + dir +
                             "/ck --checkpoint-every 3 --print-launch-lines --nnodes 2 --record \"" + evil + "\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string srun;
  std::istringstream lines(r.output);
  for (std::string l; std::getline(lines, l);)
    if (l.rfind("srun ", 0) == 0) srun = l;
  ASSERT_FALSE(srun.empty()) << r.output;
  for (const char* flag : {"--steps 7", "--seq-len 32", "--lr 0.001", "--seed 9", "--micro-batch 2", "--global-batch 8",
                           "--ac selective", "--checkpoint-every 3", "--dp 2", "--tp 2"})
    EXPECT_NE(srun.find(flag), std::string::npos) << flag << "\n" << srun;
  // Let a shell split the line: every word after `planner train` printed on its own line.
  const std::string words = srun.substr(srun.find("planner train ") + 14);
  const auto sh = run_shell("cd " + dir + " && printf '%s\\n' " + words);
  EXPECT_FALSE(fs::exists(dir + "/pwned")) << sh.output;
  EXPECT_NE(sh.output.find("--record\n" + evil + "\n"), std::string::npos) << sh.output;
  EXPECT_NE(sh.output.find("--checkpoint-dir\n" + dir + "/ck\n"), std::string::npos) << sh.output;
}
