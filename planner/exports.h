// What a user pastes into another framework to run a chosen plan: each export is pinned to a
// named release of its target, and every knob of the plan that the target cannot express is named
// in a warning instead of being dropped. tests/data/exports/ holds the field list of each pinned
// release with its origin; tests/planner/test_exports.cc checks every emitted key against it.
#pragma once
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/model_spec.h"
#include "core/training_spec.h"

namespace planner {

struct Export {
  std::string name;    // what --export takes: "lightning", "torchtitan-toml", "torchtitan-py"
  std::string target;  // the pinned release, e.g. "torchtitan v0.2.2 (TOML job config)"
  std::string format;  // "python" or "toml"
  std::string text;    // paste-and-run text
  std::vector<std::string> warnings;  // knobs of the plan the target cannot express
};

// torchtitan v0.2.2, the last release with TOML job configs (pytorch/torchtitan#2386 moved to
// Python configs right after it): [parallelism], [training], [activation_checkpoint], [compile].
Export torchtitan_toml_export(const Plan& p, const TrainingSpec& t, const ModelSpec& m);
// torchtitan main after #2386: a config function returning Trainer.Config for config_registry.py.
Export torchtitan_python_export(const Plan& p, const TrainingSpec& t, const ModelSpec& m);
// Lightning >= 2.4 (ModelParallelStrategy): a runnable training script: Trainer(devices, num_nodes,
// accumulate_grad_batches), configure_model with the TP plan, activation checkpointing,
// torch.compile, fully_shard, and FSDP2's set_requires_gradient_sync for grad_sync=last.
Export lightning_export(const Plan& p, const TrainingSpec& t, const ModelSpec& m, int64_t gpus_per_node,
                        int64_t num_nodes);

// All three, in the order above.
std::vector<Export> all_exports(const Plan& p, const TrainingSpec& t, const ModelSpec& m, int64_t gpus_per_node,
                                int64_t num_nodes);
std::vector<std::string> export_names();
Json exports_to_json(const std::vector<Export>& e);

// The one-line strategy a Lightning user recognises: "ModelParallelStrategy(data_parallel_size=..)".
std::string lightning_strategy(const Plan& p);

}  // namespace planner
