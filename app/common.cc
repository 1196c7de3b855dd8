#include "app/common.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/limits.h"
#include "topology/cluster_presets.h"

namespace planner::app {

static std::string shown(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

CLI::Validator finite_number(double lo, double hi, bool lo_open) {
  const std::string range = (lo_open ? "(" : "[") + shown(lo) + ", " + shown(hi) + "]";
  return CLI::Validator(
      [lo, hi, lo_open, range](std::string& in) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(in, v)) return "'" + quote_for_error(in) + "' is not a number";
        if (!std::isfinite(v)) return "'" + quote_for_error(in) + "' is not a finite number; must be in " + range;
        if (v < lo || v > hi || (lo_open && v == lo))
          return "value " + quote_for_error(in) + " is out of range; must be in " + range;
        return "";
      },
      "NUMBER in " + range);
}

CLI::Validator int_in(int64_t lo, int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& in) -> std::string {
        int64_t v = 0;
        if (!CLI::detail::lexical_cast(in, v)) return "'" + quote_for_error(in) + "' is not an integer in " + range;
        if (v < lo || v > hi) return "value " + in + " is out of range; must be in " + range;
        return "";
      },
      "INT in " + range);
}

void add_setup_options(CLI::App* cmd, SetupOptions* o) {
  cmd->add_option("--model", o->model,
                  "Model preset (feedforward, feedforward:DIMxHIDDEN, llama3-8b, llama3-70b, llama3-405b, "
                  "llama3.1-*, llama-tiny) or a Hugging Face config.json");
  cmd->add_option("--cluster", o->cluster,
                  "Node preset (h100-sxm, h200-sxm, a100-80gb-sxm, a100-40gb-sxm, h100-pcie, a100-40gb-4x, "
                  "cpu-gloo) or a cluster JSON file (planner probe --as-cluster)")
      ->capture_default_str();
  cmd->add_option("--nodes", o->nodes, "Number of nodes")->check(int_in(1, limits::kMaxWorld));
  cmd->add_option("--gpus", o->gpus, "World size in GPUs (fewer than a node: one partial node)")
      ->check(int_in(1, limits::kMaxWorld));
  cmd->add_option("--seq-len", o->seq_len, "Tokens per sequence [8192 for Llama, 1 for FeedForward]")
      ->check(int_in(1, limits::kMaxSeqLen));
  cmd->add_option("--global-batch", o->global_batch,
                  "Sequences per optimizer step over all dp ranks [512 for Llama, 8 for FeedForward]")
      ->check(int_in(1, limits::kMaxBatch));
  cmd->add_option("--precision", o->precision,
                  "bf16-mixed (FSDP2 MixedPrecisionPolicy), bf16, fp32; default bf16-mixed, fp32 on devices without "
                  "bfloat16 (V100)")
      ->check(CLI::IsMember(precision_names()))
      ->default_str("bf16-mixed");
  cmd->add_flag("--compile", o->compiled,
                "The model runs under torch.compile (fused norms and elementwise ops); default: eager kernels");
  cmd->add_option("--reduce-dtype", o->reduce_dtype,
                  "Gradient reduce-scatter dtype (FSDP2 reduce_dtype): auto (fp32 under bf16-mixed and fp32, bf16 "
                  "under bf16), fp32, bf16")
      ->check(CLI::IsMember(reduce_dtype_names()))
      ->capture_default_str();
  cmd->add_option("--loss-dtype", o->loss_dtype,
                  "The cross-entropy's dtype: fp32 (the model returns logits.float(): torchtitan, Lightning's "
                  "example) or compute (the loss runs on the bf16 logits of the output matmul: KempnerForge)")
      ->check(CLI::IsMember(loss_dtype_names()))
      ->capture_default_str();
  add_switch_option(cmd, "--loss-parallel", &o->loss_parallel,
                    "TP plan: on keeps the logits vocab-sharded for a vocab-parallel loss (torchtitan); off "
                    "all-gathers them to the full vocabulary (Lightning's example)",
                    false);
  add_switch_option(cmd, "--shard-embedding", &o->shard_embedding,
                    "TP plan: on shards the token embedding by vocabulary rows (torchtitan); off replicates it on "
                    "every TP rank",
                    false);
  cmd->add_option("--tp-input-gather", o->tp_input_gather,
                  "TP plan: how colwise Linears get their input: shared (one PrepareModuleInput per attention / "
                  "feed-forward: torchtitan, Lightning's example) or per-linear (each ColwiseParallel gathers its "
                  "own input, one collective per Linear: KempnerForge)")
      ->check(CLI::IsMember(tp_input_gather_names()))
      ->capture_default_str();
  cmd->add_option("--selective-ac", o->selective_ac,
                  "What --ac selective keeps: keep-matmuls (every matmul and attention output; norms and "
                  "elementwise ops recomputed) or torchtitan-op (torchtitan's op-level policy: every second "
                  "matmul of a block recomputed too)")
      ->check(CLI::IsMember(selective_ac_names()))
      ->capture_default_str();
}

CLI::Option* add_output_option(CLI::App* cmd, std::string* path, const std::string& help) {
  return cmd->add_option("-o,--output,--out", *path, help);
}

CLI::Option* add_switch_option(CLI::App* cmd, const std::string& name, std::string* value, const std::string& help,
                               bool search_allowed) {
  static const std::map<std::string, std::string> spellings{{"true", "on"}, {"false", "off"}, {"yes", "on"},
                                                            {"no", "off"},  {"1", "on"},      {"0", "off"},
                                                            {"enable", "on"}, {"disable", "off"}};
  std::vector<std::string> allowed{"on", "off"};
  if (search_allowed) allowed.insert(allowed.begin(), "search");
  return cmd->add_option(name, *value, help + " (on|off" + (search_allowed ? "|search" : "") + "; true/false also accepted)")
      ->transform(CLI::Transformer(spellings, CLI::ignore_case).description(""))
      ->check(CLI::IsMember(allowed, CLI::ignore_case))
      ->capture_default_str();
}

CLI::Validator number_in(double lo, double hi, bool lo_exclusive) {
  char range[96];
  std::snprintf(range, sizeof range, "%g%s and %g", lo, lo_exclusive ? " (excluded)" : "", hi);
  const std::string words = range;
  return CLI::Validator(
      [lo, hi, lo_exclusive, words](std::string& s) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
          v = std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == s.size() && used > 0 && std::isfinite(v) && (lo_exclusive ? v > lo : v >= lo) && v <= hi;
        return ok ? std::string() : s + " is not a number between " + words;
      },
      "between " + words);
}

void add_quiet_flag(CLI::App* cmd, bool* quiet) {
  cmd->add_flag("-q,--quiet", *quiet, "No notes on stderr (what was written, fallbacks taken); errors still print");
}

void add_knob_options(CLI::App* cmd, KnobOptions* o) {
  cmd->add_option("--tp", o->tp, "Tensor-parallel size(s): 'search', 'auto' (GPUs per node) or a list like 1,2,4")
      ->capture_default_str();
  cmd->add_option("--micro-batch", o->micro_batch, "Micro-batch size(s): 'search' or a list")->capture_default_str();
  cmd->add_option("--ac", o->ac, "Activation checkpointing: 'search' or a list of none,selective,full")
      ->capture_default_str();
  add_switch_option(cmd, "--sp", &o->sp, "Sequence parallel", true);
  add_switch_option(cmd, "--reshard-after-forward", &o->reshard, "FSDP reshard after forward", true);
  cmd->add_option("--grad-sync", o->grad_sync,
                  "Gradient reduce-scatter on every micro-batch or only the last: search, every, last")
      ->check(CLI::IsMember({"search", "every", "last"}))
      ->capture_default_str();
  cmd->add_option("--max-micro-batch", o->max_micro_batch, "Largest micro-batch searched")
      ->check(int_in(1, limits::kMaxSearchMicroBatch))
      ->capture_default_str();
}

void add_format_option(CLI::App* cmd, std::string* format) {
  cmd->add_option("--format", *format, "Output format: table, json, csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
}

Setup resolve_setup(const SetupOptions& o, bool need_world) {
  Setup s;
  s.model = resolve_model(o.model, "--model");
  s.cluster = resolve_cluster(o.cluster, "--cluster");
  const bool llama = s.model.kind == ModelKind::llama;
  s.training.seq_len = o.seq_len > 0 ? o.seq_len : (llama ? 8192 : 1);
  s.training.global_batch = o.global_batch > 0 ? o.global_batch : (llama ? 512 : 8);
  s.training.precision = precision_from_string(o.precision.empty() ? "bf16-mixed" : o.precision, "--precision", "");
  s.training.compiled = o.compiled;
  s.training.reduce_dtype = reduce_dtype_from_string(o.reduce_dtype, "--reduce-dtype", "");
  s.training.loss_dtype = loss_dtype_from_string(o.loss_dtype, "--loss-dtype", "");
  s.training.tp_plan.loss_parallel = o.loss_parallel == "on";
  s.training.tp_plan.shard_embedding = o.shard_embedding == "on";
  s.training.tp_plan.gather_per_linear = o.tp_input_gather == "per-linear";
  s.training.selective_ac = selective_ac_from_string(o.selective_ac, "--selective-ac", "");
  if (!s.cluster.device.bf16 && s.training.precision != Precision::fp32) {
    const std::string why = "'" + s.cluster.device.name + "' has no bfloat16";
    if (!o.precision.empty())
      throw InputError("--precision", "", "'" + o.precision + "' is not possible: " + why +
                                              "; use fp32 (fp16 mixed precision is not modelled)");
    s.training.precision = Precision::fp32;  // the default: plan in fp32, and say so
    if (!o.quiet)
      std::cerr << "note: " << why << ": planning in fp32 (--precision fp32; fp16 mixed precision is not modelled)\n";
  }
  if (o.nodes > 0 && o.gpus > 0)
    throw InputError("--gpus", "", "give either --nodes or --gpus, not both (--nodes " + std::to_string(o.nodes) +
                                       ", --gpus " + std::to_string(o.gpus) + ")");
  if (o.cluster == "cpu-gloo" && o.gpus > 0) {
    // Ranks are processes on this host sharing its cores: the profile depends on how many.
    s.cluster = cpu_gloo_host_cluster(o.gpus);
  } else if (o.gpus > 0) {
    const int64_t gpn = s.cluster.gpus_per_node;
    if (o.gpus < gpn) {
      // On a mesh fabric the partial node's GPUs keep their links split over all gpn - 1 peers: a
      // group of k of them still gets (k - 1) / (gpn - 1) of a GPU's bandwidth.
      if (s.cluster.intra_node_fabric == "mesh" && o.gpus >= 2)
        s.cluster.intra_node.bw_Bps *= static_cast<double>(o.gpus - 1) / static_cast<double>(gpn - 1);
      s.cluster.gpus_per_node = o.gpus;  // one partial node
      s.cluster.num_nodes = 1;
    } else if (o.gpus % gpn != 0) {
      throw InputError("--gpus", "", std::to_string(o.gpus) + " is not a whole number of " + std::to_string(gpn) +
                                         "-GPU nodes of '" + s.cluster.name + "'; use a multiple of " + std::to_string(gpn) +
                                         " or fewer than " + std::to_string(gpn));
    } else {
      s.cluster.num_nodes = o.gpus / gpn;
    }
  } else if (o.nodes > 0) {
    s.cluster.num_nodes = o.nodes;
  }
  // Both factors are bounded (--nodes, the cluster's gpus_per_node): the product fits int64.
  if (s.cluster.world() > limits::kMaxWorld)
    throw InputError(o.nodes > 0 ? "--nodes" : "--cluster", "",
                     std::to_string(s.cluster.num_nodes) + " nodes x " + std::to_string(s.cluster.gpus_per_node) +
                         " GPUs = " + std::to_string(s.cluster.world()) + " GPUs; the limit is " +
                         std::to_string(limits::kMaxWorld));
  (void)need_world;
  return s;
}

static std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& v, int64_t limit) {
  std::vector<int64_t> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t pos = 0;
    long long x = 0;
    try {
      x = std::stoll(item, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    if (pos == 0 || pos != item.size() || x <= 0 || x > limit)
      throw InputError(flag, "", "'" + quote_for_error(item) + "' is not a positive integer of at most " +
                                     std::to_string(limit) + "; expected 'search' or a list like 1,2,4");
    out.push_back(x);
    if (out.size() > 4096) throw InputError(flag, "", "more than 4096 values in the list");
  }
  if (out.empty()) throw InputError(flag, "", "empty list; expected 'search' or a list like 1,2,4");
  return out;
}

SearchSpace resolve_knobs(const KnobOptions& o) {
  SearchSpace sp;
  if (o.tp != "search" && o.tp != "auto") sp.tps = parse_int_list("--tp", o.tp, limits::kMaxWorld);
  if (o.micro_batch != "search") sp.micro_batches = parse_int_list("--micro-batch", o.micro_batch, limits::kMaxBatch);
  if (o.ac != "search") {
    std::stringstream ss(o.ac);
    std::string item;
    while (std::getline(ss, item, ',')) sp.acs.push_back(ac_from_string(item, "--ac", ""));
  }
  if (o.sp != "search") sp.sequence_parallel = {o.sp == "on"};
  if (o.reshard != "search") sp.reshard_after_forward = {o.reshard == "on"};
  if (o.grad_sync != "search") sp.grad_syncs = {grad_sync_from_string(o.grad_sync, "--grad-sync", "")};
  sp.max_micro_batch = o.max_micro_batch;
  return sp;
}

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    std::cout.flush();
    return;
  }
  write_file_atomic(path, text);
}

}  // namespace planner::app
