// planner: plan, simulate, size and run 2D (FSDP x TP) training. One file per subcommand under
// planner/cli/ (topology/cli, executor/cli); each has a register_* function that declares its
// options and its run callback.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "core/error.h"
#include "planner/cli/commands.h"
#if __has_include("topology/cli/probe_command.h")
#include "topology/cli/probe_command.h"
#define PLANNER_HAVE_PROBE 1
#endif
#ifdef PLANNER_HAVE_TORCH
#include "executor/cli/train_command.h"
#endif

int main(int argc, char** argv) {
  CLI::App app{"planner: plan, predict and prove 2D (FSDP x tensor-parallel) training splits"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  planner::cli::register_plan(app);
  planner::cli::register_simulate(app);
  planner::cli::register_suggest(app);
#ifdef PLANNER_HAVE_PROBE
  planner::cli::register_probe(app);
#endif
#ifdef PLANNER_HAVE_TORCH
  planner::cli::register_train(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // usage errors exit 2 like every other input error
  } catch (const planner::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const planner::InternalError& e) {
    std::fprintf(stderr, "%s\n(this is a bug in planner; please report it)\n", e.what());
    return 70;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return planner::cli::exit_code();
}
