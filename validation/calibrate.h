// `planner calibrate`: the executor measures this machine (executor/measure.h) and rank 0 fits the
// samples into a hardware profile (a planner-cluster/1 file the simulator reads) and a side
// document with the raw measurements and the fits' residuals (validation/calibration.h).
// Needs LibTorch (planner_validation_runs). docs/calibration.md.
#pragma once
#include <string>

#include "executor/measure.h"

namespace planner::validation {

struct CalibrateOptions {
  executor::MeasureOptions measure;
  // The cluster the fits start from (its device peaks and inter-node link are kept): "" = this
  // host's CPU/Gloo profile; for GPUs a preset or `planner probe --as-cluster` file.
  std::string base_cluster;
  std::string out_path;  // the profile; the side document is calibration_doc_path(out)
  bool verbose = false;  // print every collective sample's residual (always in the document)
};

// Launches the ranks, measures, fits, and writes the profile and its side document atomically
// (side document first; the profile's rename is the commit). Returns the launcher's exit code;
// nothing is written unless every rank finished. InputError (exit 2) on bad options before any
// rank starts.
int run_calibration(const CalibrateOptions& o);

}  // namespace planner::validation
