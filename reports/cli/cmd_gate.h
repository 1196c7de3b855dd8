// `planner gate --baseline BASE.json --current CUR.json [--thresholds T.json]`: exit 0 within the
// thresholds, 1 past them, 2 on bad input (docs/reports.md, "Regression gate").
#pragma once
#include <CLI/CLI.hpp>

namespace planner::cli {
void register_gate(CLI::App& app);
}  // namespace planner::cli
