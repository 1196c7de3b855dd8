// Re-predicting a stored validation: the measured rows of a planner-validate/1 document against
// this build's simulator and a hardware profile, without training anything. The cost model's
// changes are scored on measurements already taken (docs/calibration.md, "Rescoring").
#pragma once
#include <string>

#include "core/cluster_spec.h"
#include "core/json_io.h"

namespace planner {

// The document with every measured row's prediction (peak memory, step, comm), its errors, the
// predicted best, the ranking gap and the pass verdict recomputed from `cluster`, under the
// document's own thresholds; "rescored": {"from", "cluster"} says so. Rows that did not run are
// kept as they are. Errors name `source` and the field: not a validation, a model or training the
// simulator refuses, a world size other than the cluster's.
Json rescore_validation(const Json& doc, const std::string& source, const ClusterSpec& cluster,
                        const std::string& cluster_source);

// The verdict of a planner-validate/1 document from its rows' predicted and measured values and
// its thresholds: each measured row's memory_error and step_time_error ((predicted - measured) /
// measured), predicted_best (fastest predicted among the measured rows), measured_best,
// ranking_gap (measured step of the predicted best / the measured best - 1) and pass (every row
// measured and within the thresholds, and the gap within its own). `planner validate` and
// rescore_validation() both judge this way.
void score_validation(Json* doc);

// Mean of |step_time_error| over the rows that ran (a fraction).
double mean_abs_step_time_error(const Json& validate_doc);

}  // namespace planner
