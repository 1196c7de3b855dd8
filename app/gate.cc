#include "app/gate.h"

#include <iostream>

#include "core/error.h"
#include "core/json_io.h"
#include "reports/gate.h"

namespace planner::app {

int run_gate(const GateOptions& o) {
  reports::GateThresholds t;
  if (!o.thresholds.empty()) t = reports::read_thresholds(read_json_file(o.thresholds), o.thresholds);
  const Json cur = read_json_file(o.current);
  Json base;
  if (!o.baseline.empty()) base = read_json_file(o.baseline);
  const reports::GateResult r =
      reports::gate_documents(o.baseline.empty() ? nullptr : &base, o.baseline, cur, o.current, t);
  std::cout << r.text();
  return r.pass() ? 0 : 1;
}

CLI::App* add_gate(CLI::App& cli, GateOptions* o) {
  CLI::App* cmd = cli.add_subcommand(
      "gate",
      "Regression gate: compare Google Benchmark JSON, planner-validate/1 or golden simulator outputs with a "
      "baseline; exit 0 within thresholds, 1 past them, 2 on bad input");
  cmd->add_option("--baseline", o->baseline, "Baseline document (optional for planner-validate/1)");
  cmd->add_option("--current", o->current, "Current document")->required();
  cmd->add_option("--thresholds", o->thresholds, "Thresholds JSON (docs/reports.md); defaults otherwise");
  return cmd;
}

}  // namespace planner::app
