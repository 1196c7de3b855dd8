// One HTML renderer and one CSV renderer per document kind, each pair in its own file
// (reports/plan_search.cc, suggest.cc, simulate.cc, run.cc, topology.cc, validate.cc,
// benchmark.cc); render_html_report / render_csv_report (reports/report.h) dispatch to them.
// An HTML renderer returns the page body and sets the page's title and subtitle. Errors:
// InputError naming `source` and the field.
#pragma once
#include <string>

#include "core/json_io.h"

namespace planner::reports {

std::string render_plan_search_html(const Json& doc, const std::string& source, std::string* title, std::string* subtitle);
std::string render_plan_search_csv(const Json& doc, const std::string& source);  // one row per (dp, tp) split

std::string render_suggest_html(const Json& doc, const std::string& source, std::string* title, std::string* subtitle);
std::string render_suggest_csv(const Json& doc, const std::string& source);  // one row per cluster size

std::string render_simulate_html(const Json& doc, const std::string& source, std::string* title, std::string* subtitle);
std::string render_simulate_csv(const Json& doc, const std::string& source);  // one row per parameter tensor

std::string render_run_html(const Json& doc, const std::string& source, std::string* title, std::string* subtitle);
std::string render_run_csv(const Json& doc, const std::string& source);  // one row per step

std::string render_topology_html(const Json& doc, const std::string& source, std::string* title, std::string* subtitle);
std::string render_topology_csv(const Json& doc, const std::string& source);  // one row per GPU pair

std::string render_validate_html(const Json& doc, const std::string& source, std::string* title, std::string* subtitle);
std::string render_validate_csv(const Json& doc, const std::string& source);  // one row per plan

std::string render_benchmark_html(const Json& doc, const std::string& source, std::string* title, std::string* subtitle);
std::string render_benchmark_csv(const Json& doc, const std::string& source);  // one row per benchmark

}  // namespace planner::reports
