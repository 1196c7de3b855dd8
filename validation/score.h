// The verdict of a validation: predicted against measured peak memory and step time per split,
// under thresholds, and whether the predicted best split is the measured best (planner-validate/1,
// docs/calibration.md). `planner validate` scores its runs this way and `--rescore` stored ones.
#pragma once
#include "core/json_io.h"

namespace planner::validation {

// The verdict of a planner-validate/1 document from its rows' predicted and measured values and
// its thresholds: each measured row's memory_error and step_time_error ((predicted - measured) /
// measured), predicted_best (fastest predicted among the measured rows), measured_best,
// ranking_gap (measured step of the predicted best / the measured best - 1) and pass (every row
// measured and within the thresholds, and the gap within its own). `planner validate` and
// rescore_validation() both judge this way.
void score_validation(Json* doc);

// Mean of |step_time_error| over the rows that ran (a fraction).
double mean_abs_step_time_error(const Json& validate_doc);

// The table of a scored planner-validate/1 document (measured or rescored) on stdout: one line per
// split, the host speed during each split against the calibration's when the runs probed it (and
// the splits that missed while the host ran at another speed), then the ranking.
void print_validate_table(const Json& doc);

}  // namespace planner::validation
