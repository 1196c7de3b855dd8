// planner: plan, simulate, size and run 2D (FSDP x TP) training. One file per subcommand in app/:
// an options struct, add_* declares its flags on a CLI11 subcommand, run_* does the work and
// returns the exit code, which main returns. Only app/ sees CLI11.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "app/gate.h"
#include "app/plan.h"
#include "app/probe.h"
#include "app/report.h"
#include "app/simulate.h"
#include "app/suggest.h"
#include "app/validate.h"
#include "core/error.h"
#include "planner/output.h"  // planner_version()
#include "core/json_io.h"
#ifdef PLANNER_HAVE_TORCH  // train and calibrate exist only in builds with LibTorch (the executor)
#include "app/calibrate.h"
#include "app/train.h"
#endif

namespace {

#ifdef PLANNER_HAVE_TORCH
constexpr bool kHaveExecutor = true;
#else
constexpr bool kHaveExecutor = false;
#endif

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The first word when it is not a subcommand of this build: a typo (with the closest name) or a
// subcommand that needs the LibTorch executor; "" when argv names a subcommand or starts with a flag.
std::string unknown_subcommand_message(int argc, char** argv, const CLI::App& cli) {
  if (argc < 2 || argv[1][0] == '-') return "";
  const std::string word = argv[1];
  std::vector<std::string> names;
  for (const CLI::App* s : cli.get_subcommands([](const CLI::App*) { return true; })) names.push_back(s->get_name());
  if (std::find(names.begin(), names.end(), word) != names.end()) return "";
  if (!kHaveExecutor && (word == "train" || word == "calibrate"))
    return "'" + word + "' needs the LibTorch executor, and this build has none (planner --version says so); rebuild "
           "with -DPLANNER_WITH_TORCH=ON";
  std::string best;
  size_t best_d = 3;  // suggest only a close name
  for (const auto& n : names)
    if (size_t d = edit_distance(word, n); d < best_d) best_d = d, best = n;
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return "unknown subcommand '" + word + "'" + (best.empty() ? "" : "; did you mean '" + best + "'?") +
         " (subcommands: " + all + ")";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace planner::app;
  CLI::App cli{"planner: plan, predict and prove 2D (FSDP x tensor-parallel) training splits"};
  cli.require_subcommand(1);
  cli.set_help_all_flag("--help-all", "Show the help of every subcommand");
  cli.set_version_flag("-V,--version", planner::planner_version_line());

  struct Subcommand {
    CLI::App* cmd;
    std::function<int()> run;
  };
  PlanOptions plan;
  SimulateOptions simulate;
  SuggestOptions suggest;
  ProbeOptions probe;
  ReportOptions report;
  GateOptions gate;
  ValidateOptions validate;
  std::vector<Subcommand> subcommands{
      {add_plan(cli, &plan), [&] { return run_plan(plan); }},
      {add_simulate(cli, &simulate), [&] { return run_simulate(simulate); }},
      {add_suggest(cli, &suggest), [&] { return run_suggest(suggest); }},
      {add_probe(cli, &probe), [&] { return run_probe(probe); }},
      {add_report(cli, &report), [&] { return run_report(report); }},
      {add_gate(cli, &gate), [&] { return run_gate(gate); }},
  };
#ifdef PLANNER_HAVE_TORCH
  TrainOptions train;
  CalibrateOptions calibrate;
  subcommands.push_back({add_train(cli, &train), [&] { return run_train(train); }});
  subcommands.push_back({add_calibrate(cli, &calibrate), [&] { return run_calibrate(calibrate); }});
#endif
  // Without LibTorch, validate only rescores stored validations (--rescore).
  subcommands.push_back({add_validate(cli, &validate), [&] { return run_validate(validate); }});

  if (const std::string msg = unknown_subcommand_message(argc, argv, cli); !msg.empty()) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    return 2;
  }
  try {
    cli.parse(argc, argv);
    for (const Subcommand& s : subcommands)
      if (cli.got_subcommand(s.cmd)) return s.run();
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return cli.exit(e);  // --help, --help-all
    // Usage errors exit 2 like every other input error; CLI11 quotes the value, capped here so
    // a huge argument does not become a huge message.
    std::fprintf(stderr, "error: %s\nRun with --help for more information.\n",
                 planner::InputError::cap(e.what(), planner::InputError::kMaxMessageChars).c_str());
    return 2;
  } catch (const planner::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const planner::InternalError& e) {
    std::fprintf(stderr, "%s\n(this is a bug in planner; please report it)\n", e.what());
    return 70;
  } catch (const nlohmann::json::exception& e) {
    // A document's value of the wrong type that a reader did not check: still the input's fault.
    std::fprintf(stderr, "error: %s\n", planner::json_exception_error(e, "(input)").what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory (an input asked for more than this machine has)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", planner::InputError::cap(e.what(), planner::InputError::kMaxMessageChars).c_str());
    return 1;
  }
}
