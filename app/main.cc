// planner: plan, simulate, size and run 2D (FSDP x TP) training. One file per subcommand under
// planner/cli/ (topology/cli, executor/cli); each has a register_* function that declares its
// options and its run callback.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "core/error.h"
#include "planner/cli/commands.h"
#include "reports/cli/cmd_gate.h"
#include "reports/cli/cmd_report.h"
#include "topology/cli/probe_command.h"
#ifdef PLANNER_HAVE_TORCH  // the executor's subcommands exist only in builds with LibTorch
#include "executor/cli/calibrate_command.h"
#include "executor/cli/train_command.h"
#include "executor/cli/validate_command.h"
#endif

int main(int argc, char** argv) {
  CLI::App app{"planner: plan, predict and prove 2D (FSDP x tensor-parallel) training splits"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  planner::cli::register_plan(app);
  planner::cli::register_simulate(app);
  planner::cli::register_suggest(app);
  planner::cli::register_probe(app);
  planner::cli::register_report(app);
  planner::cli::register_gate(app);
#ifdef PLANNER_HAVE_TORCH
  planner::cli::register_train(app);
  planner::cli::register_calibrate(app);
  planner::cli::register_validate(app);
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
