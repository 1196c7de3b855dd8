#include "executor/checkpoint_io.h"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/file.h>
#include <tuple>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "core/error.h"

namespace planner::executor {

namespace fs = std::filesystem;

namespace {

const char* kFormat = "planner-checkpoint/2";
constexpr int kKeepCommitted = 2;  // committed checkpoints kept in --checkpoint-dir

std::string rank_file_name(int64_t rank) { return "rank-" + std::to_string(rank) + ".pt"; }

std::string errno_text() { return std::strerror(errno); }

void make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec && !fs::is_directory(dir))
    throw InputError(dir, "", "cannot create the checkpoint folder: " + ec.message());
}

// Writes `bytes` to `path` and fsyncs it: once this returns, the file survives a crash.
void write_synced(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(path, "", "cannot create the checkpoint file: " + errno_text());
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::close(fd);
      throw InputError(path, "", "cannot write the checkpoint file (disk full?): " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    throw InputError(path, "", "fsync failed: " + why);
  }
  ::close(fd);
}

// A rename or a new file in `dir` is durable once the folder itself is fsynced.
void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

uint32_t crc32_of(const std::string& bytes) {
  return static_cast<uint32_t>(
      ::crc32_z(::crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

// "step-00000012" -> 12; -1 for any other name (".tmp" folders included).
int64_t committed_step(const std::string& name) {
  if (name.size() <= 5 || name.compare(0, 5, "step-") != 0) return -1;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stoll(name.substr(5));
}

bool is_uncommitted(const std::string& name) {
  return name.compare(0, 5, "step-") == 0 && name.find(".tmp") != std::string::npos;
}

// Committed checkpoints in dir, oldest first.
std::vector<std::pair<int64_t, std::string>> committed_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> v;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const int64_t step = committed_step(name);
    if (step >= 0 && e.is_directory()) v.emplace_back(step, e.path().string());
  }
  std::sort(v.begin(), v.end());
  return v;
}

Json checkpoint_meta(const TrainConfig& c, int64_t step, const std::vector<Unit>& units, const Json& files) {
  Json j;
  j["format"] = kFormat;
  j["step"] = step;
  j["dp"] = c.plan.dp;
  j["tp"] = c.plan.tp;
  j["seed"] = c.seed;
  j["model"] = model_to_json(c.model);
  Json us = Json::array();
  for (const auto& u : units) us.push_back({{"name", u.name}, {"shard_numel", u.shard_numel}});
  j["units"] = us;
  j["files"] = files;
  return j;
}

struct CheckpointMeta {
  std::string dir;   // the step-N folder
  std::string path;  // its meta.json
  Json json;
  int64_t step = 0, dp = 1, tp = 1;
  // Per rank file: name, bytes, crc32 (hex), in rank order.
  std::vector<std::tuple<std::string, int64_t, std::string>> files;
};

// Reads and checks meta.json of the checkpoint c.resume_dir names against this run's model and seed.
CheckpointMeta read_meta(const TrainConfig& c) {
  CheckpointMeta m;
  m.dir = resolve_checkpoint(c.resume_dir);
  m.path = m.dir + "/meta.json";
  m.json = read_json_file(m.path);
  JsonReader r(m.json, m.path);
  const std::string format = r.get_string("format");
  if (format != kFormat)
    throw InputError(m.path, "format",
                     "'" + format + "'; this planner resumes '" + kFormat + "' only (per-file checksums" +
                         (format == "planner-checkpoint/1" ? "; a /1 checkpoint has none: re-create it)" : ")"));
  m.step = r.get_int("step", 0);
  m.dp = r.get_int("dp", 1);
  m.tp = r.get_int("tp", 1);
  if (model_to_json(c.model) != m.json.at("model"))
    throw InputError(m.path, "model", "the checkpoint's model differs from this run's model '" + c.model.name + "'");
  if (!m.json.contains("seed") || !m.json.at("seed").is_number_integer())
    throw InputError(m.path, "seed", "missing or not an integer");
  const uint64_t seed = m.json.at("seed").get<uint64_t>();
  if (seed != c.seed)
    throw InputError(m.path, "seed",
                     std::to_string(seed) + " but this run has --seed " + std::to_string(c.seed) +
                         ": the synthetic data after the resume would differ from the run that wrote it; resume with "
                         "--seed " + std::to_string(seed));
  check_tp_divides(c.model, m.tp, m.path);
  const auto files = r.children("files");
  if (static_cast<int64_t>(files.size()) != m.dp * m.tp)
    throw InputError(m.path, "files",
                     "lists " + std::to_string(files.size()) + " rank files, expected dp (" + std::to_string(m.dp) +
                         ") x tp (" + std::to_string(m.tp) + ") = " + std::to_string(m.dp * m.tp));
  for (size_t q = 0; q < files.size(); ++q) {
    const std::string name = files[q].get_string("file");
    if (name != rank_file_name(static_cast<int64_t>(q)))
      throw InputError(m.path, files[q].field_path("file"), "'" + name + "', expected '" + rank_file_name(q) + "'");
    m.files.emplace_back(name, files[q].get_int("bytes", 0), files[q].get_string("crc32"));
  }
  return m;
}

// The bytes of rank file q, checked against meta.json (InputError naming the file otherwise).
std::string read_verified(const CheckpointMeta& m, int64_t q) {
  const auto& [name, bytes, crc] = m.files[static_cast<size_t>(q)];
  const std::string path = m.dir + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError(path, "", "missing or unreadable (" + errno_text() + "): meta.json lists it with " +
                                   std::to_string(bytes) + " bytes; the checkpoint is incomplete, refusing to resume");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  if (static_cast<int64_t>(data.size()) != bytes)
    throw InputError(path, "",
                     std::to_string(data.size()) + " bytes but meta.json says " + std::to_string(bytes) +
                         " (truncated or overwritten); refusing to resume from " + m.dir);
  const std::string got = hex32(crc32_of(data));
  if (got != crc)
    throw InputError(path, "",
                     "CRC-32 " + got + " differs from meta.json's " + crc +
                         ": the file is corrupted; refusing to resume from " + m.dir);
  return data;
}

std::vector<at::Tensor> load_rank_file(const CheckpointMeta& m, int64_t q) {
  std::istringstream in(read_verified(m, q));
  std::vector<at::Tensor> tensors;
  try {
    torch::load(tensors, in);
  } catch (const std::exception& e) {
    throw InputError(m.dir + "/" + std::get<0>(m.files[static_cast<size_t>(q)]), "",
                     std::string("matches its checksum but LibTorch cannot read it: ") + e.what());
  }
  return tensors;
}

}  // namespace

std::string checkpoint_step_name(int64_t next_step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step-%08lld", static_cast<long long>(next_step));
  return buf;
}

std::string resolve_checkpoint(const std::string& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir, "", "--resume: no such folder");
  if (fs::exists(dir + "/meta.json")) return dir;
  const auto committed = committed_checkpoints(dir);
  if (!committed.empty()) return committed.back().second;
  std::string tmps;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (is_uncommitted(e.path().filename().string())) tmps += (tmps.empty() ? "" : ", ") + e.path().filename().string();
  if (!tmps.empty())
    throw InputError(dir, "",
                     "--resume: no committed checkpoint, only " + tmps +
                         " (left by a run stopped while saving; incomplete, never resumed from)");
  throw InputError(dir, "", "--resume: holds no checkpoint (no step-N folder, no meta.json)");
}

std::string check_resume(const TrainConfig& c) {
  const CheckpointMeta m = read_meta(c);
  for (const auto& [name, bytes, crc] : m.files) {
    (void)crc;
    const std::string path = m.dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw InputError(path, "", "missing: meta.json lists it with " + std::to_string(bytes) +
                                     " bytes; the checkpoint is incomplete, refusing to resume");
    if (st.st_size != bytes)
      throw InputError(path, "",
                       std::to_string(st.st_size) + " bytes but meta.json says " + std::to_string(bytes) +
                           " (truncated or overwritten); refusing to resume from " + m.dir);
  }
  return m.dir;
}

void check_output_paths(const TrainConfig& c) {
  if (!c.record_path.empty()) {
    if (fs::is_directory(c.record_path))
      throw InputError("--record", "", "'" + c.record_path + "' is a folder; give a file name");
    fs::path parent = fs::path(c.record_path).parent_path();
    if (parent.empty()) parent = ".";
    if (!fs::is_directory(parent))
      throw InputError("--record", "", "'" + c.record_path + "': the folder '" + parent.string() + "' does not exist");
    if (::access(parent.c_str(), W_OK | X_OK) != 0)
      throw InputError("--record", "",
                       "'" + c.record_path + "': cannot create files in '" + parent.string() + "' (" + errno_text() + ")");
    if (fs::exists(c.record_path) && ::access(c.record_path.c_str(), W_OK) != 0)
      throw InputError("--record", "", "'" + c.record_path + "' exists and is not writable");
  }
  if (!c.checkpoint_dir.empty()) {
    if (fs::exists(c.checkpoint_dir) && !fs::is_directory(c.checkpoint_dir))
      throw InputError("--checkpoint-dir", "", "'" + c.checkpoint_dir + "' exists and is not a folder");
    std::error_code ec;
    fs::create_directories(c.checkpoint_dir, ec);
    if (!fs::is_directory(c.checkpoint_dir))
      throw InputError("--checkpoint-dir", "", "cannot create '" + c.checkpoint_dir + "': " + ec.message());
    if (::access(c.checkpoint_dir.c_str(), W_OK | X_OK) != 0)
      throw InputError("--checkpoint-dir", "", "'" + c.checkpoint_dir + "' is not writable (" + errno_text() + ")");
    const auto committed = committed_checkpoints(c.checkpoint_dir);
    if (!committed.empty()) {
      // Continuing in the folder one resumes from is the usual case; anything else would mix runs.
      std::error_code e1, e2;
      const bool resuming_here =
          !c.resume_dir.empty() &&
          (fs::equivalent(c.resume_dir, c.checkpoint_dir, e1) ||
           fs::equivalent(fs::path(resolve_checkpoint(c.resume_dir)).parent_path(), c.checkpoint_dir, e2));
      if (!resuming_here)
        throw InputError("--checkpoint-dir", "",
                         "'" + c.checkpoint_dir + "' already holds checkpoints of another run (" +
                             fs::path(committed.back().second).filename().string() +
                             "); resume from it (--resume " + c.checkpoint_dir + ") or give an empty folder");
    }
  }
}

CheckpointLock::CheckpointLock(const std::string& dir) {
  make_dirs(dir);
  const std::string path = dir + "/.lock";
  // Not O_CLOEXEC: ranks forked by the launcher keep the lock held while they run.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw InputError(path, "", "cannot open the checkpoint lock: " + errno_text());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[64] = {0};
    const ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    throw InputError("--checkpoint-dir", "",
                     "'" + dir + "' is in use by another run (process " + holder + " holds " + path +
                         "); two runs writing one folder would mix their checkpoints: wait for it or give another folder");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    const ssize_t n = ::pwrite(fd_, pid.data(), pid.size(), 0);
    (void)n;
  }
}

CheckpointLock::~CheckpointLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

void save_checkpoint(const TrainConfig& c, const Mesh& mesh, Comms& comms, ShardedModel& m, int64_t next_step) {
  const std::string final_dir = c.checkpoint_dir + "/" + checkpoint_step_name(next_step);
  const std::string tmp_dir = final_dir + ".tmp";
  if (mesh.rank == 0) {
    // Only this run writes here (CheckpointLock): any .tmp folder is a stopped run's leftover.
    make_dirs(c.checkpoint_dir);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(c.checkpoint_dir, ec))
      if (is_uncommitted(e.path().filename().string())) fs::remove_all(e.path(), ec);
    make_dirs(tmp_dir);
  }
  comms.world->barrier();  // the folder exists before any rank writes into it
  std::vector<at::Tensor> tensors;
  for (auto& u : m.units()) {
    // Saved as CPU tensors: a checkpoint loads the same on a CPU or a GPU run.
    tensors.push_back(u.shard.detach().cpu().clone());
    tensors.push_back(u.exp_avg.defined() ? u.exp_avg.cpu() : at::zeros({u.shard_numel}));
    tensors.push_back(u.exp_avg_sq.defined() ? u.exp_avg_sq.cpu() : at::zeros({u.shard_numel}));
  }
  std::ostringstream out;
  torch::save(tensors, out);
  const std::string bytes = out.str();
  const std::string file = tmp_dir + "/" + rank_file_name(mesh.rank);
  write_synced(file, bytes);
  // The size and checksum of what this rank wrote, for rank 0's meta.json.
  write_synced(file + ".sum", std::to_string(bytes.size()) + " " + hex32(crc32_of(bytes)) + "\n");
  comms.world->barrier();  // every rank's file is on disk before rank 0 commits the folder
  if (mesh.rank != 0) return;
  Json files = Json::array();
  const int64_t world = c.plan.dp * c.plan.tp;
  for (int64_t q = 0; q < world; ++q) {
    const std::string f = tmp_dir + "/" + rank_file_name(q);
    std::ifstream in(f + ".sum");
    int64_t n = -1;
    std::string crc;
    in >> n >> crc;
    PLANNER_CHECK(in && n >= 0 && crc.size() == 8, "checkpoint sum file " << f << ".sum");
    files.push_back({{"file", rank_file_name(q)}, {"bytes", n}, {"crc32", crc}});
    std::remove((f + ".sum").c_str());
  }
  write_synced(tmp_dir + "/meta.json", checkpoint_meta(c, next_step, m.units(), files).dump(2) + "\n");
  fsync_dir(tmp_dir);
  // The commit: one rename. A committed folder of the same step (a resume from an older
  // checkpoint of this folder) is moved aside first and deleted after.
  const std::string aside = final_dir + ".tmp-replaced";
  const bool replacing = fs::exists(final_dir);
  if (replacing && std::rename(final_dir.c_str(), aside.c_str()) != 0)
    throw InputError(final_dir, "", "cannot move the older checkpoint aside: " + errno_text());
  if (std::rename(tmp_dir.c_str(), final_dir.c_str()) != 0)
    throw InputError(tmp_dir, "", "cannot commit the checkpoint (rename to " + final_dir + "): " + errno_text());
  fsync_dir(c.checkpoint_dir);
  std::error_code ec;
  if (replacing) fs::remove_all(aside, ec);
  const auto committed = committed_checkpoints(c.checkpoint_dir);
  for (size_t i = 0; i + kKeepCommitted < committed.size(); ++i) fs::remove_all(committed[i].second, ec);
}

namespace {

// One state tensor (k: 0 params, 1 exp_avg, 2 exp_avg_sq) of parameter j of unit i, unsharded,
// from the flat shards of a checkpoint written at (dp, tp): rank = dp_index * tp + tp_index
// holds rows [dp_index * shard_rows, ...) of its TP slice, at the parameter's offset.
at::Tensor unsharded_state(const std::vector<std::vector<at::Tensor>>& files, const Unit& old_unit, size_t i,
                           size_t j, int k, int64_t dp, int64_t tp) {
  const ParamInfo& p = old_unit.params[j];
  std::vector<at::Tensor> locals;
  const int64_t tp_parts = p.tp_dim >= 0 ? tp : 1;  // a replicated tensor: TP rank 0's copy
  for (int64_t t = 0; t < tp_parts; ++t) {
    at::Tensor local = at::zeros({p.local.rows, p.local.cols}, at::kFloat);
    for (int64_t r = 0; r < dp; ++r) {
      const int64_t r0 = r * p.shard_rows;
      const int64_t rows = std::min(p.shard_rows, p.local.rows - r0);
      if (rows <= 0) break;
      const at::Tensor& flat = files[static_cast<size_t>(r * tp + t)][3 * i + static_cast<size_t>(k)];
      local.narrow(0, r0, rows).copy_(flat.narrow(0, p.offset, rows * p.local.cols).view({rows, p.local.cols}));
    }
    locals.push_back(local);
  }
  return tp_parts == 1 ? locals[0] : at::cat(locals, p.tp_dim);
}

// Every unit's three states in a rank file, with the sizes of the layout that wrote it.
void check_rank_tensors(const CheckpointMeta& m, int64_t q, const std::vector<at::Tensor>& tensors,
                        const std::vector<Unit>& units) {
  const std::string f = m.dir + "/" + std::get<0>(m.files[static_cast<size_t>(q)]);
  if (tensors.size() != 3 * units.size())
    throw InputError(f, "", "holds " + std::to_string(tensors.size()) + " tensors, expected " +
                                std::to_string(3 * units.size()) + " (3 per unit)");
  for (size_t i = 0; i < units.size(); ++i)
    for (size_t k = 0; k < 3; ++k)
      if (tensors[3 * i + k].numel() != units[i].shard_numel)
        throw InputError(f, "", "unit " + units[i].name + ": shard of " + std::to_string(tensors[3 * i + k].numel()) +
                                    " elements, expected " + std::to_string(units[i].shard_numel));
}

}  // namespace

int64_t load_checkpoint(const TrainConfig& c, const Mesh& mesh, ShardedModel& m) {
  const CheckpointMeta meta = read_meta(c);
  const int64_t dp = meta.dp, tp = meta.tp;
  auto& units = m.units();
  at::NoGradGuard ng;
  if (dp == c.plan.dp && tp == c.plan.tp) {
    const std::vector<at::Tensor> tensors = load_rank_file(meta, mesh.rank);
    check_rank_tensors(meta, mesh.rank, tensors, units);
    for (size_t i = 0; i < units.size(); ++i) {
      units[i].shard.detach().copy_(tensors[3 * i]);
      units[i].exp_avg = tensors[3 * i + 1].to(units[i].shard.device(), units[i].shard.scalar_type()).clone();
      units[i].exp_avg_sq = tensors[3 * i + 2].to(units[i].shard.device(), units[i].shard.scalar_type()).clone();
    }
    return meta.step;
  }
  // Another split: every rank reads every old rank's shards, rebuilds each tensor unsharded
  // (parameters and both AdamW states, which are elementwise and so laid out alike), and keeps
  // its own TP slice and FSDP rows. Reads the whole checkpoint on every rank: for a checkpoint
  // on one machine (or a shared file system) and models that fit a rank's memory unsharded.
  const std::vector<Unit> old_units = build_units(c.model, dp, tp);
  std::vector<std::vector<at::Tensor>> files(static_cast<size_t>(dp * tp));
  for (int64_t q = 0; q < dp * tp; ++q) {
    files[static_cast<size_t>(q)] = load_rank_file(meta, q);
    check_rank_tensors(meta, q, files[static_cast<size_t>(q)], old_units);
  }
  PLANNER_CHECK(old_units.size() == units.size(), "unit count");
  for (size_t i = 0; i < units.size(); ++i) {
    Unit& u = units[i];
    const at::ScalarType master = u.shard.scalar_type();  // fp32, or bf16 under pure bf16
    std::array<at::Tensor, 3> mine{at::zeros({u.shard_numel}, master), at::zeros({u.shard_numel}, master),
                                   at::zeros({u.shard_numel}, master)};
    for (size_t j = 0; j < u.params.size(); ++j) {
      const ParamInfo& p = u.params[j];
      PLANNER_CHECK(p.name == old_units[i].params[j].name, "parameter order");
      for (int k = 0; k < 3; ++k) {
        copy_rank_slice(unsharded_state(files, old_units[i], i, j, k, dp, tp), p, mesh, mine[static_cast<size_t>(k)]);
      }
    }
    u.shard.detach().copy_(mine[0]);
    u.exp_avg = mine[1].to(u.shard.device());
    u.exp_avg_sq = mine[2].to(u.shard.device());
  }
  return meta.step;
}

}  // namespace planner::executor
