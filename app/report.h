// `planner report INPUT.json [-o OUT.html] [--csv OUT.csv]`: one self-contained HTML page (and
// optionally a CSV) from any planner JSON document (docs/reports.md).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace planner::app {

struct ReportOptions {
  std::string input;
  std::string output;  // default: INPUT with .json replaced by .html
  std::string csv;
};

// Declares `report` and its flags on cli, bound to *o.
CLI::App* add_report(CLI::App& cli, ReportOptions* o);
// The exit code: 0; InputError on a bad document (exit 2).
int run_report(const ReportOptions& o);

}  // namespace planner::app
