// Options shared by plan, simulate and suggest: what is trained (model, training) and where
// (cluster), plus the knobs of a split (fixed values or "search").
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "core/cluster_spec.h"
#include "core/model_spec.h"
#include "core/training_spec.h"
#include "planner/search.h"

namespace planner::app {

struct SetupOptions {
  std::string model;                 // preset or config.json
  std::string cluster = "h100-sxm";  // preset or cluster JSON
  int64_t nodes = 0;                 // 0: from --gpus or the cluster file
  int64_t gpus = 0;                  // world size; fewer than a node = one partial node
  int64_t seq_len = 0;               // 0: 8192 for Llama models, 1 for the FeedForward
  int64_t global_batch = 0;          // 0: 512 for Llama models, 8 for the FeedForward
  std::string precision;              // "": bf16-mixed, or fp32 on a device without bfloat16
  bool compiled = false;
  std::string reduce_dtype = "auto";   // FSDP2 reduce_dtype: auto (the precision's), fp32, bf16
  std::string loss_dtype = "fp32";      // the cross-entropy's dtype: fp32 (logits.float()) or compute
  std::string loss_parallel = "on";    // on: vocab-sharded logits and loss; off: logits gathered
  std::string shard_embedding = "on";  // on: vocab-sharded embedding; off: replicated over TP
  std::string tp_input_gather = "shared";      // shared: one gather per sub-layer; per-linear: one per colwise Linear
  std::string selective_ac = "keep-matmuls";  // what --ac selective keeps: keep-matmuls or torchtitan-op
  bool quiet = false;                  // no notes on stderr
};

struct KnobOptions {
  std::string tp = "search";           // "search" or a list "1,2,4"
  std::string micro_batch = "search";
  std::string ac = "search";           // "search" or "none,full"...
  std::string sp = "search";           // search | on | off
  std::string reshard = "search";      // search | on | off
  std::string grad_sync = "search";    // search | every | last
  int64_t max_micro_batch = 64;
};

// Checks on number flags, as CLI11 validators (a failure exits 2 naming the flag): a finite
// number (nan and inf refused) in [lo, hi], the lower end excluded when lo_open; an integer in
// [lo, hi]. core/limits.h holds the bounds of the quantities.
CLI::Validator finite_number(double lo, double hi, bool lo_open = false);
CLI::Validator int_in(int64_t lo, int64_t hi);

void add_setup_options(CLI::App* cmd, SetupOptions* o);
void add_knob_options(CLI::App* cmd, KnobOptions* o);
void add_format_option(CLI::App* cmd, std::string* format);  // table | json | csv
// -o,--output (and --out, the spelling calibrate and validate used): the same on every subcommand.
CLI::Option* add_output_option(CLI::App* cmd, std::string* path, const std::string& help);
// An on|off option (plus "search" where search_allowed) that also takes the boolean spellings
// CLI11 flags take elsewhere (true/false, yes/no, 1/0), normalised to on/off.
CLI::Option* add_switch_option(CLI::App* cmd, const std::string& name, std::string* value, const std::string& help,
                               bool search_allowed);
// A number between lo and hi (lo excluded when lo_exclusive), said in words on failure
// ("--tokens: 1e400 is not a number between 0 (excluded) and 1e+20"): CLI::PositiveNumber's
// message prints DBL_MAX's 309 digits. The bounds are sanity limits, far above any real cluster.
CLI::Validator number_in(double lo, double hi, bool lo_exclusive = false);
// -q,--quiet: no notes on stderr (what was written, fallbacks taken); errors and warnings stay.
void add_quiet_flag(CLI::App* cmd, bool* quiet);

struct Setup {
  ModelSpec model;
  TrainingSpec training;
  ClusterSpec cluster;
};
// Resolves presets and files; InputError on bad values (naming the flag).
Setup resolve_setup(const SetupOptions& o, bool need_world = true);
SearchSpace resolve_knobs(const KnobOptions& o);

// Writes text to a file atomically ("-" = stdout).
void write_output(const std::string& path, const std::string& text);

}  // namespace planner::app
