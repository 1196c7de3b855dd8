// `planner report INPUT.json [-o OUT.html] [--csv OUT.csv]` (docs/reports.md).
#pragma once
#include <CLI/CLI.hpp>

namespace planner::cli {
void register_report(CLI::App& app);
}  // namespace planner::cli
