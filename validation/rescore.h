// Re-predicting a stored validation: the measured rows of a planner-validate/1 document against
// this build's simulator and a hardware profile, without training anything. The cost model's
// changes are scored on measurements already taken (docs/calibration.md, "Rescoring").
#pragma once
#include <string>

#include "core/cluster_spec.h"
#include "core/json_io.h"

namespace planner::validation {

// The document with every measured row's prediction (peak memory, step, comm), its errors, the
// predicted best, the ranking gap and the pass verdict recomputed from `cluster`, under the
// document's own thresholds (score_validation, validation/score.h); "rescored": {"from",
// "cluster"} says so. Rows that did not run are kept as they are. Errors name `source` and the
// field: not a validation, a model or training the simulator refuses, a world size other than the
// cluster's.
Json rescore_validation(const Json& doc, const std::string& source, const ClusterSpec& cluster,
                        const std::string& cluster_source);

// `planner validate --rescore STORED --cluster CLUSTER [--out OUT]`.
struct RescoreOptions {
  std::string stored;                // the planner-validate/1 document to rescore
  std::string cluster = "cpu-gloo";  // preset or profile (`planner calibrate`)
  std::string out;                   // "": STORED with .json replaced by .rescored.json
};
// Rescores, prints the table and the verdict, writes the rescored document. Returns the exit code:
// 0 when it passes, 1 when it fails; InputError (exit 2) on bad input, e.g. an --out that is the
// stored document itself.
int run_rescore(const RescoreOptions& o);

}  // namespace planner::validation
