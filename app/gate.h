// `planner gate --baseline BASE.json --current CUR.json [--thresholds T.json]`: compare a current
// document with a baseline against thresholds; exit 0 within them, 1 past them, 2 on bad input
// (docs/reports.md, "Regression gate").
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace planner::app {

struct GateOptions {
  std::string baseline;
  std::string current;
  std::string thresholds;
};

// Declares `gate` and its flags on cli, bound to *o.
CLI::App* add_gate(CLI::App& cli, GateOptions* o);
// The exit code: 0 within the thresholds, 1 past them; InputError on bad input (exit 2).
int run_gate(const GateOptions& o);

}  // namespace planner::app
