#include "app/report.h"
#include "app/common.h"

#include <iostream>

#include "core/error.h"
#include "core/json_io.h"
#include "reports/report.h"

namespace planner::app {

namespace {

std::string default_output(const std::string& input) {
  const std::string ext = ".json";
  if (input.size() > ext.size() && input.compare(input.size() - ext.size(), ext.size(), ext) == 0)
    return input.substr(0, input.size() - ext.size()) + ".html";
  return input + ".html";
}

}  // namespace

int run_report(const ReportOptions& o) {
  const Json doc = read_json_file(o.input);
  const std::string html = reports::render_html_report(doc, o.input);
  const std::string csv = o.csv.empty() ? "" : reports::render_csv_report(doc, o.input);
  const std::string out = o.output.empty() ? default_output(o.input) : o.output;
  if (out == "-") {
    std::cout << html;
  } else {
    write_file_atomic(out, html);
    std::cerr << "wrote " << out << "\n";
  }
  if (!o.csv.empty()) {
    if (o.csv == "-") {
      std::cout << csv;
    } else {
      write_file_atomic(o.csv, csv);
      std::cerr << "wrote " << o.csv << "\n";
    }
  }
  return 0;
}

CLI::App* add_report(CLI::App& cli, ReportOptions* o) {
  CLI::App* cmd = cli.add_subcommand(
      "report",
      "Write a self-contained HTML report (charts, tables; opens offline) of a plan search, suggest, simulate, "
      "train --record, probe, validate or Google Benchmark JSON document");
  cmd->add_option("input", o->input, "The JSON document")->required();
  add_output_option(cmd, &o->output, "HTML file to write (default: INPUT with .html; - for stdout)");
  cmd->add_option("--csv", o->csv, "Also write the data behind the main chart/table as CSV (RFC 4180; - for stdout)");
  return cmd;
}

}  // namespace planner::app
