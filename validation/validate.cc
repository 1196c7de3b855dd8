#include "validation/validate.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "core/error.h"
#include "core/json_io.h"
#include "core/units.h"
#include "executor/comm.h"
#include "executor/launcher.h"
#include "executor/measure.h"
#include "simulator/simulator.h"
#include "topology/cluster_presets.h"
#include "validation/calibration.h"
#include "validation/score.h"

namespace planner::validation {

namespace {

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Runs argv with stdout+stderr to log_path; kills it (SIGTERM, then SIGKILL) after timeout_s.
// Returns the exit code (128 + signal when killed; 124 on our timeout).
int run_subprocess(const std::vector<std::string>& argv, const std::string& log_path, double timeout_s) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv("/proc/self/exe", args.data());
    std::fprintf(stderr, "exec /proc/self/exe failed: %s\n", std::strerror(errno));
    std::_Exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  bool term_sent = false;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (term_sent) return 124;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return 1;
    }
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!term_sent && el > timeout_s) {
      ::kill(pid, SIGTERM);  // the launcher stops its ranks on SIGTERM
      term_sent = true;
    } else if (term_sent && el > timeout_s + 15) {
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string tail_of_file(const std::string& path, size_t max_chars) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.size() > max_chars ? s.substr(s.size() - max_chars) : s;
}

std::string dir_of(const std::string& path) {
  auto p = path.find_last_of('/');
  return p == std::string::npos ? "." : path.substr(0, p);
}

ClusterSpec validation_cluster(const ValidateOptions& a) {
  if (a.cluster == "cpu-gloo") return cpu_gloo_host_cluster(a.ranks);
  ClusterSpec c = resolve_cluster(a.cluster, "--cluster");
  if (file_exists(a.cluster)) {
    const std::string doc_path = calibration_doc_path(a.cluster);
    const executor::HostIdentity here = executor::this_host();
    if (!file_exists(doc_path)) {
      std::fprintf(stderr,
                   "warning: %s has no calibration document (%s): cannot check that it describes this machine (%s)\n",
                   a.cluster.c_str(), doc_path.c_str(), here.hostname.c_str());
    } else {
      Json doc = read_json_file(doc_path);
      JsonReader r(doc, doc_path);
      if (r.get_string("format", "") != "planner-calibration/1")
        throw InputError(doc_path, "format", "expected 'planner-calibration/1', got '" + r.get_string("format", "") + "'");
      const executor::HostIdentity prof = host_from_json(r.child("host"));
      const std::string diff = host_mismatch(prof, here);
      if (!diff.empty()) {
        const std::string msg = "the profile was calibrated on another machine: " + diff +
                                "; predictions would be for that machine (run `planner calibrate --ranks " +
                                std::to_string(a.ranks) + " --out PROFILE` here";
        if (!a.allow_other_host) throw InputError(a.cluster, "host", msg + ", or pass --allow-other-host)");
        std::fprintf(stderr, "warning: %s)\n", msg.c_str());
      }
    }
  }
  if (c.world() != a.ranks)
    throw InputError(a.cluster, "gpus_per_node",
                     "the profile describes " + std::to_string(c.world()) + " ranks but --ranks is " +
                         std::to_string(a.ranks) + " (a CPU rank's share of the cores depends on the rank count: "
                         "calibrate with --ranks " + std::to_string(a.ranks) + ")");
  return c;
}

std::string plan_short(const Plan& p) { return "dp=" + std::to_string(p.dp) + " tp=" + std::to_string(p.tp); }

}  // namespace

int run_validation(const ValidateOptions& given) {
  ValidateOptions a = given;
  if (a.out.empty()) a.out = "validate.json";
  if (a.model.empty()) throw InputError("--model", "", "required (or --rescore FILE)");
  if (a.ranks < 1) throw InputError("--ranks", "", "must be >= 1");
  executor::check_cpu_bind(a.cpu_bind, "--cpu-bind");
  if (a.steps <= a.warmup)
    throw InputError("--steps", "", "must exceed --warmup-steps (" + std::to_string(a.warmup) + "), got " + std::to_string(a.steps));
  ModelSpec model = resolve_model(a.model, "--model");
  validate_model(model, "--model");
  ClusterSpec cluster = validation_cluster(a);
  // With the calibration's document at hand every run first times two of calibrate's probes
  // (`planner train --speed-probe`), so that each split says how fast the host ran during it
  // against during the calibration (a shared VM's speed changes over minutes).
  Json calibration_doc;
  if (cluster.backend == "gloo" && file_exists(a.cluster) && file_exists(calibration_doc_path(a.cluster)))
    calibration_doc = read_json_file(calibration_doc_path(a.cluster));
  TrainingSpec training;
  training.seq_len = a.seq_len;
  // The runs must be what was predicted: a Gloo profile trains on CPU tensors, an NCCL (GPU)
  // profile on this machine's GPUs, which needs a planner built with a CUDA LibTorch.
  if (cluster.backend != "gloo" && cluster.backend != "nccl")
    throw InputError(a.cluster, "backend", "'" + cluster.backend + "'; allowed: gloo (CPU), nccl (GPU)");
  if (cluster.backend == "nccl" && !executor::nccl_compiled())
    throw InputError(a.cluster, "backend",
                     "'nccl': this planner was built with a CPU-only LibTorch and cannot train on GPUs; use a Gloo "
                     "profile (planner calibrate on this host, or cpu-gloo), or build with a CUDA LibTorch "
                     "(scripts/gpu-check.sh)");
  training.precision = precision_from_string(a.precision, "--precision", "");
  training.reduce_dtype = reduce_dtype_from_string(a.reduce_dtype, "--reduce-dtype", "");
  training.global_batch = a.global_batch > 0 ? a.global_batch : static_cast<int64_t>(a.ranks) * a.micro_batch;
  // The runs compared are the executor's: price that runtime.
  Simulator sim(model, training, cluster, make_runtime(RuntimeKind::executor, cluster));
  const std::string runs_dir = a.runs_dir.empty() ? dir_of(a.out) : a.runs_dir;
  std::string out_stem = a.out.substr(a.out.find_last_of('/') == std::string::npos ? 0 : a.out.find_last_of('/') + 1);
  if (out_stem.size() > 5 && out_stem.compare(out_stem.size() - 5, 5, ".json") == 0) out_stem.resize(out_stem.size() - 5);
  ::mkdir(runs_dir.c_str(), 0755);

  Json rows = Json::array();
  Json skipped = Json::array();
  struct Row {
    Plan plan;
    double pred_mem = 0, pred_step = 0, meas_mem = -1, meas_step = -1;
    bool ran = false, failed = false;
    bool fits = true;
    double pred_comm = 0, meas_comm = -1;  // time in collectives per step (CPU: all exposed)
    std::vector<double> round_steps;  // each round's median step time
    std::vector<double> round_comm;   // each round's time in collectives per step, mean over ranks
    std::vector<Json> round_series;   // each round's per-step times
    std::vector<std::string> round_records;
    std::vector<double> round_speed;  // each round's host speed against the calibration's (0: not probed)
    std::string error;
  };
  std::vector<Row> done;
  for (int64_t tp = 1; tp <= a.ranks; ++tp) {
    if (a.ranks % tp != 0) continue;
    Plan p;
    p.tp = tp;
    p.dp = a.ranks / tp;
    p.micro_batch = a.micro_batch;
    p.ac = ac_from_string(a.ac, "--ac", "");
    p.reshard_after_forward = !a.no_reshard;
    Candidate c = sim.evaluate(p);
    if (!c.feasible() && !(c.limit == Limit::memory && a.force)) {
      std::printf("%-10s skipped: %s (%s)%s\n", plan_short(p).c_str(), to_string(c.limit).c_str(), c.reason.c_str(),
                  c.limit == Limit::memory ? "; --force runs it anyway" : "");
      skipped.push_back({{"plan", plan_to_json(p)}, {"limit", to_string(c.limit)}, {"reason", c.reason}});
      continue;
    }
    Row row;
    row.plan = p;
    row.pred_mem = c.prediction.memory.peak_allocated_bytes;
    row.pred_step = c.prediction.time.step_s;
    // On the CPU profile nothing overlaps: the TP collectives and the FSDP ones are all exposed.
    row.pred_comm = c.prediction.time.tp_comm_s + c.prediction.time.fsdp_exposed_s;
    row.fits = c.feasible();
    done.push_back(row);
  }
  // Rounds: every split once per round, in turn, so that a machine whose speed drifts over the
  // minutes of a validation (a shared VM: the same split measured up to 30% apart an hour
  // apart) slows every split alike; the measured step is the median of the rounds' medians.
  for (int64_t round = 1; round <= a.rounds; ++round) {
    for (auto& row : done) {
      if (row.failed) continue;
      const Plan& p = row.plan;
      // Named after the validate document, so two validations (two models) in one folder keep
      // their own records: validate.json -> validate-dp2-tp2.run.json (-r2 ... for later rounds).
      std::string tag = out_stem + "-dp" + std::to_string(p.dp) + "-tp" + std::to_string(p.tp);
      if (round > 1) tag += "-r" + std::to_string(round);
      const std::string record = runs_dir + "/" + tag + ".run.json";
      const std::string log = runs_dir + "/" + tag + ".log";
      std::remove(record.c_str());
      std::vector<std::string> argv{"planner", "train", "--model", a.model, "--dp", std::to_string(p.dp), "--tp",
                                    std::to_string(p.tp), "--micro-batch", std::to_string(p.micro_batch), "--seq-len",
                                    std::to_string(training.seq_len), "--global-batch", std::to_string(training.global_batch),
                                    "--precision", to_string(training.precision), "--reduce-dtype",
                                    to_string(training.reduce_dtype), "--ac", a.ac, "--steps", std::to_string(a.steps),
                                    "--warmup-steps", std::to_string(a.warmup), "--quiet", "--record", record,
                                    "--timeout", std::to_string(static_cast<int64_t>(a.run_timeout_s))};
      if (a.no_reshard) argv.push_back("--no-reshard-after-forward");
      if (!calibration_doc.is_null()) argv.push_back("--speed-probe");
      argv.push_back("--backend");
      argv.push_back(cluster.backend);
      argv.push_back("--cpu-bind");
      argv.push_back(a.cpu_bind);
      if (a.threads > 0) {
        argv.push_back("--threads-per-rank");
        argv.push_back(std::to_string(a.threads));
      }
      std::printf("%-10s training %lld steps", plan_short(p).c_str(), static_cast<long long>(a.steps));
      if (a.rounds > 1) std::printf(" (round %lld of %lld)", static_cast<long long>(round), static_cast<long long>(a.rounds));
      std::printf(" ... ");
      std::fflush(stdout);
      const int rc = run_subprocess(argv, log, a.run_timeout_s + 5);
      if (rc != 0 || !file_exists(record)) {
        std::printf("failed (exit %d); log: %s\n%s\n", rc, log.c_str(), tail_of_file(log, 800).c_str());
        row.failed = true;
        row.ran = false;
        row.error = "planner train exited " + std::to_string(rc) + " (log: " + log + ")";
        continue;
      }
      Json rec = read_json_file(record);
      JsonReader rr(rec, record);
      if (rr.get_string("format", "") != "planner-run/1")
        throw InputError(record, "format", "expected 'planner-run/1', got '" + rr.get_string("format", "") + "'");
      double peak = 0;
      for (const auto& r : rec.at("ranks")) peak = std::max(peak, r.at("peak_allocated_bytes").get<double>());
      row.meas_mem = std::max(row.meas_mem, peak);
      row.round_steps.push_back(rec.at("step_time_s_median").get<double>());
      // Seconds each rank spent in collectives after the warm-up (waits of prefetched all-gathers
      // included, their overlapped part not), per step, averaged over the ranks.
      const double timed_steps = static_cast<double>(rr.get_int("steps", 0) - rr.get_int("warmup_steps", 0));
      double comm = 0;
      for (const auto& r : rec.at("ranks"))
        for (const auto& [kind, st] : r.at("collectives").items()) comm += st.at("seconds").get<double>();
      row.round_comm.push_back(timed_steps > 0 ? comm / static_cast<double>(rec.at("ranks").size()) / timed_steps : -1);
      row.round_series.push_back(rec.at("step_time_s"));
      row.round_records.push_back(record);
      row.round_speed.push_back(rec.contains("speed_probe") ? speed_vs_calibration(calibration_doc, rec["speed_probe"])
                                                            : 0.0);
      row.ran = true;
      std::printf("%.4f s/step, peak %.2f MiB", row.round_steps.back(), peak / 1048576.0);
      if (row.round_speed.back() > 0) std::printf(", host speed %.2fx the calibration's", row.round_speed.back());
      std::printf("\n");
    }
  }
  for (auto& row : done) {
    Json jr;
    jr["plan"] = plan_to_json(row.plan);
    jr["predicted"] = {{"peak_allocated_bytes", row.pred_mem}, {"step_s", row.pred_step}, {"comm_s", row.pred_comm},
                       {"fits", row.fits}};
    if (!row.ran) {
      jr["error"] = row.error;
      rows.push_back(jr);
      continue;
    }
    // The median round (the lower middle one for an even count) stands for the split.
    std::vector<size_t> order(row.round_steps.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return row.round_steps[x] < row.round_steps[y]; });
    const size_t mid = order[(order.size() - 1) / 2];
    row.meas_step = row.round_steps[mid];
    row.meas_comm = row.round_comm[mid];
    jr["measured"] = {{"peak_allocated_bytes", row.meas_mem}, {"step_s", row.meas_step},
                      {"step_s_rounds", row.round_steps}, {"comm_s", row.meas_comm}, {"step_time_s", row.round_series[mid]},
                      {"record", row.round_records[mid]}};
    if (row.round_speed[mid] > 0) {
      jr["measured"]["host_speed"] = row.round_speed[mid];
      jr["measured"]["host_speed_rounds"] = row.round_speed;
    }
    rows.push_back(jr);
  }

  Json doc;
  doc["format"] = "planner-validate/1";
  doc["model"] = a.model;
  doc["world"] = a.ranks;
  doc["cluster"] = a.cluster;
  doc["training"] = training_to_json(training);
  doc["steps"] = a.steps;
  doc["warmup_steps"] = a.warmup;
  doc["rounds"] = a.rounds;
  doc["thresholds"] = {{"max_memory_error", a.max_memory_error}, {"max_step_time_error", a.max_step_time_error},
                       {"max_ranking_gap", a.max_ranking_gap}};
  doc["rows"] = rows;
  doc["skipped"] = skipped;
  score_validation(&doc);  // errors, predicted and measured best, ranking gap, verdict
  const bool pass = doc.at("pass").get<bool>();
  std::printf("\nvalidate %s on %d ranks (%s), %s, seq_len %lld, global_batch %lld, micro_batch %lld, %lld steps (median after %lld), median of %lld round%s\n",
              a.model.c_str(), a.ranks, cluster.name.c_str(), to_string(training.precision).c_str(),
              static_cast<long long>(training.seq_len),
              static_cast<long long>(training.global_batch), static_cast<long long>(a.micro_batch),
              static_cast<long long>(a.steps), static_cast<long long>(a.warmup), static_cast<long long>(a.rounds),
              a.rounds == 1 ? "" : "s");
  print_validate_table(doc);
  write_file_atomic(a.out, doc.dump(2) + "\n");
  std::printf("%s: thresholds memory %.0f%%, step time %.0f%%; wrote %s\n", pass ? "PASS" : "FAIL",
              100 * a.max_memory_error, 100 * a.max_step_time_error, a.out.c_str());
  std::fflush(stdout);
  return pass ? 0 : 1;
}

}  // namespace planner::validation
