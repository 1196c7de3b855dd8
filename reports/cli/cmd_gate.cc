// planner gate: compare a current document with a baseline against thresholds; exit 1 past them.
#include "reports/cli/cmd_gate.h"

#include <iostream>
#include <memory>

#include "core/error.h"
#include "core/json_io.h"
#include "planner/cli/commands.h"
#include "reports/gate.h"

namespace planner::cli {

namespace {

struct GateOptions {
  std::string baseline;
  std::string current;
  std::string thresholds;
};

void run_gate(const GateOptions& o) {
  reports::GateThresholds t;
  if (!o.thresholds.empty()) t = reports::read_thresholds(read_json_file(o.thresholds), o.thresholds);
  const Json cur = read_json_file(o.current);
  Json base;
  if (!o.baseline.empty()) base = read_json_file(o.baseline);
  const reports::GateResult r =
      reports::gate_documents(o.baseline.empty() ? nullptr : &base, o.baseline, cur, o.current, t);
  std::cout << r.text();
  if (!r.pass()) set_exit_code(1);
}

}  // namespace

void register_gate(CLI::App& app) {
  auto o = std::make_shared<GateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "gate",
      "Regression gate: compare Google Benchmark JSON, planner-validate/1 or golden simulator outputs with a "
      "baseline; exit 0 within thresholds, 1 past them, 2 on bad input");
  cmd->add_option("--baseline", o->baseline, "Baseline document (optional for planner-validate/1)");
  cmd->add_option("--current", o->current, "Current document")->required();
  cmd->add_option("--thresholds", o->thresholds, "Thresholds JSON (docs/reports.md); defaults otherwise");
  cmd->callback([o]() { run_gate(*o); });
}

}  // namespace planner::cli
