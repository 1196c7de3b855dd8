#include "executor/checkpoint_io.h"

#include <torch/torch.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "core/error.h"
#include "core/json_io.h"

namespace planner::executor {

namespace {

std::string checkpoint_rank_file(const std::string& dir, int rank) {
  return dir + "/rank-" + std::to_string(rank) + ".pt";
}

void make_dirs(const std::string& dir) {
  std::string cur;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      if (!cur.empty()) ::mkdir(cur.c_str(), 0755);
    }
    if (i < dir.size()) cur += dir[i];
  }
}

Json checkpoint_meta(const TrainConfig& c, int64_t step, const std::vector<Unit>& units) {
  Json j;
  j["format"] = "planner-checkpoint/1";
  j["step"] = step;
  j["dp"] = c.plan.dp;
  j["tp"] = c.plan.tp;
  j["seed"] = c.seed;
  j["model"] = model_to_json(c.model);
  Json us = Json::array();
  for (const auto& u : units) us.push_back({{"name", u.name}, {"shard_numel", u.shard_numel}});
  j["units"] = us;
  return j;
}

}  // namespace

void save_checkpoint(const TrainConfig& c, const Mesh& mesh, Comms& comms, ShardedModel& m, int64_t next_step) {
  make_dirs(c.checkpoint_dir);
  std::vector<at::Tensor> tensors;
  for (auto& u : m.units()) {
    // Saved as CPU tensors: a checkpoint loads the same on a CPU or a GPU run.
    tensors.push_back(u.shard.detach().cpu().clone());
    tensors.push_back(u.exp_avg.defined() ? u.exp_avg.cpu() : at::zeros({u.shard_numel}));
    tensors.push_back(u.exp_avg_sq.defined() ? u.exp_avg_sq.cpu() : at::zeros({u.shard_numel}));
  }
  const std::string file = checkpoint_rank_file(c.checkpoint_dir, mesh.rank);
  torch::save(tensors, file + ".tmp");
  if (std::rename((file + ".tmp").c_str(), file.c_str()) != 0)
    throw std::runtime_error("cannot rename " + file + ".tmp: " + std::strerror(errno));
  comms.world->barrier();  // every shard written before the metadata says the step is complete
  if (mesh.rank == 0) write_file_atomic(c.checkpoint_dir + "/meta.json", checkpoint_meta(c, next_step, m.units()).dump(2) + "\n");
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

}  // namespace

int64_t load_checkpoint(const TrainConfig& c, const Mesh& mesh, ShardedModel& m) {
  const std::string meta_path = c.resume_dir + "/meta.json";
  Json meta = read_json_file(meta_path);
  JsonReader r(meta, meta_path);
  if (r.get_string("format") != "planner-checkpoint/1")
    throw InputError(meta_path, "format", "expected 'planner-checkpoint/1', got '" + r.get_string("format") + "'");
  const int64_t dp = r.get_int("dp", 1), tp = r.get_int("tp", 1);
  if (model_to_json(c.model) != meta.at("model"))
    throw InputError(meta_path, "model", "the checkpoint's model differs from this run's model '" + c.model.name + "'");
  auto& units = m.units();
  at::NoGradGuard ng;
  if (dp == c.plan.dp && tp == c.plan.tp) {
    std::vector<at::Tensor> tensors;
    torch::load(tensors, checkpoint_rank_file(c.resume_dir, mesh.rank));
    PLANNER_CHECK(tensors.size() == 3 * units.size(), "checkpoint tensors " << tensors.size());
    for (size_t i = 0; i < units.size(); ++i) {
      PLANNER_CHECK(tensors[3 * i].numel() == units[i].shard_numel, "shard size of " << units[i].name);
      units[i].shard.detach().copy_(tensors[3 * i]);
      units[i].exp_avg = tensors[3 * i + 1].to(units[i].shard.device(), units[i].shard.scalar_type()).clone();
      units[i].exp_avg_sq = tensors[3 * i + 2].to(units[i].shard.device(), units[i].shard.scalar_type()).clone();
    }
    return r.get_int("step", 0);
  }
  // Another split: every rank reads every old rank's shards, rebuilds each tensor unsharded
  // (parameters and both AdamW states, which are elementwise and so laid out alike), and keeps
  // its own TP slice and FSDP rows. Reads the whole checkpoint on every rank: for a checkpoint
  // on one machine (or a shared file system) and models that fit a rank's memory unsharded.
  check_tp_divides(c.model, tp, meta_path);
  const std::vector<Unit> old_units = build_units(c.model, dp, tp);
  std::vector<std::vector<at::Tensor>> files(static_cast<size_t>(dp * tp));
  for (int64_t q = 0; q < dp * tp; ++q) {
    const std::string f = checkpoint_rank_file(c.resume_dir, static_cast<int>(q));
    try {
      torch::load(files[static_cast<size_t>(q)], f);
    } catch (const std::exception& e) {
      throw InputError(f, "", "cannot read rank " + std::to_string(q) + "'s shards of the dp=" + std::to_string(dp) +
                                  " tp=" + std::to_string(tp) + " checkpoint: " + e.what());
    }
    if (files[static_cast<size_t>(q)].size() != 3 * old_units.size())
      throw InputError(f, "", "holds " + std::to_string(files[static_cast<size_t>(q)].size()) + " tensors, expected " +
                                  std::to_string(3 * old_units.size()) + " (3 per unit)");
    for (size_t i = 0; i < old_units.size(); ++i)
      for (int k = 0; k < 3; ++k)
        if (files[static_cast<size_t>(q)][3 * i + static_cast<size_t>(k)].numel() != old_units[i].shard_numel)
          throw InputError(f, "", "unit " + old_units[i].name + ": shard of " +
                                      std::to_string(files[static_cast<size_t>(q)][3 * i + static_cast<size_t>(k)].numel()) +
                                      " elements, expected " + std::to_string(old_units[i].shard_numel));
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
  return r.get_int("step", 0);
}

}  // namespace planner::executor
