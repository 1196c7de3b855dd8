// The simulator's timeline as a Chrome trace (the JSON Object Format of the Trace Event Format),
// which chrome://tracing and https://ui.perfetto.dev open: one process (rank 0), one thread per
// stream ("compute" tid 0, "comm" tid 1), one complete event (ph "X") per TraceEvent with ts and
// dur in microseconds, sorted by start time. `planner simulate --trace FILE` writes it.
#pragma once
#include <string>

#include "core/json_io.h"
#include "simulator/simulator.h"

namespace planner::reports {

Json chrome_trace(const SimulationDetail& d);
// Writes chrome_trace(d) to path atomically (core/json_io.h write_file_atomic).
void write_chrome_trace(const std::string& path, const SimulationDetail& d);

}  // namespace planner::reports
