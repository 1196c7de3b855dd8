// Rendering of predictions: readable tables, JSON, CSV (RFC 4180, units in column names), and the
// snippets users of other frameworks paste (Lightning, torchtitan).
#pragma once
#include <string>
#include <vector>

#include "core/json_io.h"
#include "planner/search.h"
#include "planner/suggest.h"
#include "simulator/prediction_json.h"  // candidate_to_json and the JSON of its parts

namespace planner {

// "0.1.0" (the CMake project version) and the line --version prints: it says whether this build
// has the LibTorch executor (train, calibrate).
std::string planner_version();
std::string planner_version_line();
// {"name": "planner", "version": ...}: every JSON document planner writes carries it as "tool".
Json tool_json();

Json detail_to_json(const SimulationDetail& d);
Json search_to_json(const Simulator& sim, const PlanSearchResult& r);
Json suggest_to_json(const SuggestResult& r, const SuggestGoal& goal);

// RFC 4180: fields quoted when they hold a comma, quote, CR or LF; quotes doubled; CRLF records.
// A text field starting with = + - @, a tab or a CR gets a leading ' (no formula runs when the
// file is opened in a spreadsheet); numbers such as -1.5 are written as they are.
std::string csv_escape(const std::string& field);
std::string csv_row(const std::vector<std::string>& fields);
std::vector<std::string> candidate_csv_header();
std::vector<std::string> candidate_csv_fields(const Candidate& c);
std::string candidates_csv(const std::vector<Candidate>& cs);
std::string suggest_csv(const SuggestResult& r, const SuggestGoal& goal);


std::string format_bytes_gib(double bytes);     // "12.34 GiB"
std::string format_seconds(double s);           // "1.234 s", "12.3 ms", "45 us"
std::string memory_table(const MemoryBreakdown& m);
std::string time_table(const TimeBreakdown& t);
std::string describe_setup(const Simulator& sim);  // model, training, cluster in three lines
std::string search_table(const Simulator& sim, const PlanSearchResult& r, size_t top);
std::string suggest_table(const SuggestResult& r, const SuggestGoal& goal);

}  // namespace planner
