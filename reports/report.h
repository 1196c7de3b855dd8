// `planner report`: one self-contained HTML page (inline SVG charts, no script, no network) for any
// document planner writes, and the CSV of the data behind its charts. docs/reports.md.
#pragma once
#include <string>

#include "core/json_io.h"

namespace planner::reports {

// Dispatches on doc["format"] (reports/documents.h). InputError (exit 2) naming source_name for a
// document that is not one of ours, or one of ours with a missing or mistyped field.
std::string render_html_report(const Json& doc, const std::string& source_name);

// RFC 4180 CSV (CRLF records, units in column names) of the document's main table:
//   plan search: one row per (dp, tp) split (its best candidate, or the closest rejected one);
//   suggest: one row per cluster size; simulate: one row per parameter tensor;
//   run: one row per step; topology: one row per GPU pair; validate: one row per plan;
//   benchmark: one row per benchmark entry.
std::string render_csv_report(const Json& doc, const std::string& source_name);

}  // namespace planner::reports
