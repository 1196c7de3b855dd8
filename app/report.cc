#include "app/report.h"
#include "app/common.h"

#include <sys/stat.h>

#include <iostream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/limits.h"
#include "reports/report.h"

namespace planner::app {

namespace {

std::string default_output(const std::string& input) {
  const std::string ext = ".json";
  if (input.size() > ext.size() && input.compare(input.size() - ext.size(), ext.size(), ext) == 0)
    return input.substr(0, input.size() - ext.size()) + ".html";
  return input + ".html";
}

// The same file, however it is named (./x.json, a link to it): compared by device and inode.
bool same_file(const std::string& a, const std::string& b) {
  if (a == b) return true;
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && S_ISREG(sa.st_mode) &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

int run_report(const ReportOptions& o) {
  const std::string out = o.output.empty() ? default_output(o.input) : o.output;
  // Refused before anything is read or written: the report would replace its own input.
  if (out != "-" && same_file(out, o.input))
    throw InputError("--output", "", "'" + quote_for_error(out) + "' is the input document; write the report elsewhere");
  if (!o.csv.empty() && o.csv != "-" && same_file(o.csv, o.input))
    throw InputError("--csv", "", "'" + quote_for_error(o.csv) + "' is the input document; write the CSV elsewhere");
  if (!o.csv.empty() && o.csv != "-" && out != "-" && same_file(o.csv, out))
    throw InputError("--csv", "", "'" + quote_for_error(o.csv) + "' is also the HTML output (--output)");
  const Json doc = read_json_file(o.input);
  const std::string html = reports::render_html_report(doc, o.input);
  const std::string csv = o.csv.empty() ? "" : reports::render_csv_report(doc, o.input);
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
