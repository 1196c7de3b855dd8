// `planner validate`: for a model and a world size on this machine, simulate every feasible
// (dp, tp), train each split for a few steps with the executor, and compare predicted with measured
// peak memory and step time (validation/validate.h; training needs LibTorch). With --rescore FILE
// it re-predicts a stored validation instead and trains nothing (validation/rescore.h; every
// build). docs/calibration.md.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "validation/validate.h"

namespace planner::app {

struct ValidateOptions {
  validation::ValidateOptions o;
  std::string rescore;  // a stored planner-validate/1 to re-predict; "": train and measure
};

// Declares `validate` and its flags on cli, bound to *a.
CLI::App* add_validate(CLI::App& cli, ValidateOptions* a);
// The exit code: 0 when the validation passes, 1 when it fails; InputError on bad input (exit 2),
// and without LibTorch on anything but --rescore.
int run_validate(const ValidateOptions& a);

}  // namespace planner::app
