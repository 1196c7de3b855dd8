// The JSON documents planner writes and `planner report` / `planner gate` read, recognised by their
// "format" field (docs/reports.md lists them), plus typed access with errors that name the file
// and the field (InputError, exit 2).
#pragma once
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/training_spec.h"

namespace planner::reports {

enum class DocKind {
  plan_search,  // planner plan --format json           "planner-plan-search/1"
  suggest,      // planner suggest --format json        "planner-suggest/1"
  simulate,     // planner simulate --format json       "planner-simulate/1" (or no format: detail fields)
  run,          // planner train --record FILE          "planner-run/1"
  topology,     // planner probe --format json          "planner-topology/1"
  validate,     // planner validate                     "planner-validate/1"
  benchmark,    // Google Benchmark --benchmark_format=json (context + benchmarks)
};
std::string to_string(DocKind k);

// Which document this is; InputError naming `source` and listing what is understood otherwise.
DocKind document_kind(const Json& doc, const std::string& source);

// Typed access; every error names the file and the dotted field path.
const Json& get_array(const JsonReader& r, const std::string& key);
JsonReader element(const JsonReader& r, const std::string& key, size_t i);  // r[key][i] as object
double get_num(const JsonReader& r, const std::string& key);                // any finite number
double get_num(const JsonReader& r, const std::string& key, double fallback);
double get_nonneg(const JsonReader& r, const std::string& key);             // >= 0
std::vector<double> get_numbers(const JsonReader& r, const std::string& key);  // array of numbers

// A plan object ({"dp":..,"tp":..,...}) read with core's rules.
Plan get_plan(const JsonReader& r, const std::string& key);

// planner-validate/1 (docs/reports.md, "planner-validate/1").
struct ValidateRow {
  Plan plan;
  double predicted_peak_allocated_bytes = 0, measured_peak_allocated_bytes = 0;
  double predicted_step_s = 0, measured_step_s = 0;
  double memory_error = 0;     // (predicted - measured) / measured, a fraction
  double step_time_error = 0;  // (predicted - measured) / measured, a fraction
  // The host's speed during the median run against during the calibration (planner validate's
  // speed probe; docs/calibration.md, "Host speed"); 0: not measured.
  double host_speed = 0;
};
struct ValidateDoc {
  std::string model;    // model name
  std::string cluster;  // cluster name ("" if absent)
  int64_t world = 0;
  std::vector<ValidateRow> rows;
  Plan predicted_best, measured_best;
};
// Checks the error fields against the predicted/measured values (a document that says 2% where
// the numbers give 20% is refused rather than trusted).
ValidateDoc read_validate(const Json& doc, const std::string& source);

// Google Benchmark JSON: one entry per benchmark, the median aggregate when repetitions were run
// (or the median of the repeated iteration entries), else the single run. Times in nanoseconds.
struct BenchmarkEntry {
  std::string name;
  double real_time_ns = 0, cpu_time_ns = 0;
  int64_t samples = 1;      // repetitions behind the value
  std::string statistic;    // "median of 5 repetitions" or "single run"
  bool error = false;       // error_occurred in any of its runs
  std::string error_message;
};
std::vector<BenchmarkEntry> read_benchmarks(const Json& doc, const std::string& source);

bool same_plan(const Plan& a, const Plan& b);
// The median (the mean of the middle two for an even count); NaN for no values.
double median(std::vector<double> v);
// Spearman's rank correlation of two equally long series (ties get their average rank); NaN for
// fewer than two values or a constant series.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace planner::reports
