// Subcommand registry. Each subcommand lives in its own file with an options struct, a setup
// function that declares the flags (register_*) and a run function that does the work.
#pragma once
#include <CLI/CLI.hpp>

namespace planner::cli {

// Exit status chosen by the subcommand that ran (0 unless it set one, e.g. a regression gate).
int exit_code();
void set_exit_code(int code);

void register_simulate(CLI::App& app);
void register_plan(CLI::App& app);
void register_suggest(CLI::App& app);

}  // namespace planner::cli
