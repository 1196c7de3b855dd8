// CSV pieces shared by the documents' CSV renderers (reports/report.h): records through
// planner/output.h's csv_row (RFC 4180, CRLF), numbers with up to 10 significant digits, the plan
// columns. Units are in the column names.
#pragma once
#include <string>
#include <vector>

#include "core/training_spec.h"
#include "planner/output.h"  // csv_row, shared with planner's own CSV output

namespace planner::reports {

// Whole numbers below 1e15 in full (byte and element counts), anything else with "%.10g".
std::string csv_num(double v);
std::string csv_bool(bool v);  // "true" / "false"

// The plan-file fields of a plan, one column each.
std::vector<std::string> plan_csv_header();
std::vector<std::string> plan_csv_fields(const Plan& p);

template <typename A, typename B>
void append(A& a, const B& b) {
  a.insert(a.end(), b.begin(), b.end());
}

}  // namespace planner::reports
