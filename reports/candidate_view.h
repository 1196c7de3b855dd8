// How a candidate (plan, memory, time, throughput; read with simulator/prediction_json.h) is shown
// by the documents that carry predictions (plan search, suggest, simulate, run): the memory lines
// and step-time parts with their colours, the stacked-bar charts, the CSV columns, and the setup
// facts (model, training, cluster) those documents start with. Internal to reports/.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/json_io.h"
#include "simulator/prediction.h"

namespace planner::reports {

// One line of the memory bar, in the order it is stacked (peak allocated, then the allocator's
// reserve and the runtime).
struct MemLine {
  const char* key;                     // field of "memory" (and CSV column), in bytes
  double MemoryBreakdown::*bytes;
  const char* label;
  const char* color;
  const char* note;
};
const std::vector<MemLine>& memory_lines();

std::string knobs_label(const Plan& p);  // "mb=2 ac=full sp=off reshard=on sync=every"
std::string split_label(const Plan& p);  // "dp=2 × tp=4"

// The setup every planner document carries (model, training, cluster), as (label, HTML) facts.
// Read leniently ("?" for what is missing): the page describes whatever produced the document.
std::vector<std::pair<std::string, std::string>> setup_facts(const JsonReader& r);

// The candidates of a chart, each with the label of its bar.
using LabelledCandidates = std::vector<std::pair<std::string, Candidate>>;

// Memory per GPU as stacked bars (GiB), one per candidate, with the device-capacity line; faded
// when it does not fit.
std::string memory_chart(const std::string& title, const LabelledCandidates& items, const std::vector<bool>& highlight);
// Seconds per step as stacked bars (forward, backward, recompute, exposed TP comm, exposed FSDP
// comm, optimizer: they add up to step_s), with the FSDP comm hidden behind compute as a thin bar
// under each. The axis in s, ms or us, whichever keeps the longest bar above 1.
std::string time_chart(const std::string& title, const LabelledCandidates& items, const std::vector<bool>& highlight);

// CSV columns of a candidate's prediction (the data behind the two charts); empty fields for a
// candidate without one.
std::vector<std::string> prediction_csv_header();
std::vector<std::string> prediction_csv_fields(const Candidate& c);

}  // namespace planner::reports
