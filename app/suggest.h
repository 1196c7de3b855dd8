// `planner suggest`: size a cluster for a token budget and a deadline (or a node budget / price).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "app/common.h"

namespace planner::app {

struct SuggestOptions {
  SetupOptions setup;
  KnobOptions knobs;
  double tokens = 0;
  double deadline_days = 0;
  int64_t max_nodes = 0;
  double price = 0;
  std::string objective = "smallest";
  int64_t min_gpus = 8;
  int64_t max_gpus = 16384;
  std::string format = "table";
  std::string output = "-";
  std::string report;
};

// Declares `suggest` and its flags on cli, bound to *o.
CLI::App* add_suggest(CLI::App& cli, SuggestOptions* o);
// The exit code: 0, or 1 when no cluster size meets the goal; InputError on bad input (exit 2).
int run_suggest(const SuggestOptions& o);

}  // namespace planner::app
