#include "reports/chrome_trace.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace planner::reports {

Json chrome_trace(const SimulationDetail& d) {
  auto tid_of = [](const std::string& stream) -> int {
    if (stream == "compute") return 0;
    if (stream == "comm") return 1;
    PLANNER_CHECK(false, "unknown trace stream '" << stream << "'");
    return -1;
  };
  std::vector<size_t> order(d.trace.size());
  std::iota(order.begin(), order.end(), 0);
  // Sorted by start, compute before comm at equal starts; stable keeps the simulator's order.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = d.trace[a];
    const auto& y = d.trace[b];
    if (x.start_s != y.start_s) return x.start_s < y.start_s;
    return tid_of(x.stream) < tid_of(y.stream);
  });
  Json events = Json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 0}, {"tid", 0}, {"args", {{"name", "rank 0 (simulated)"}}}});
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", 0}, {"args", {{"name", "compute"}}}});
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", 1}, {"args", {{"name", "comm"}}}});
  events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", 0}, {"tid", 0}, {"args", {{"sort_index", 0}}}});
  events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", 0}, {"tid", 1}, {"args", {{"sort_index", 1}}}});
  for (size_t i : order) {
    const TraceEvent& e = d.trace[i];
    events.push_back({{"name", e.name},
                      {"cat", e.stream},
                      {"ph", "X"},
                      {"ts", e.start_s * 1e6},
                      {"dur", e.duration_s * 1e6},
                      {"pid", 0},
                      {"tid", tid_of(e.stream)},
                      {"args", {{"micro_batch", e.micro_batch}}}});
  }
  const auto& t = d.candidate.prediction.time;
  return Json{{"traceEvents", events},
              {"displayTimeUnit", "ms"},
              {"otherData",
               {{"source", "planner simulate (predicted timeline)"},
                {"plan", plan_label(d.candidate.plan)},
                {"step_s", t.step_s},
                {"grad_accum", t.grad_accum}}}};
}

void write_chrome_trace(const std::string& path, const SimulationDetail& d) {
  write_file_atomic(path, chrome_trace(d).dump() + "\n");
}

}  // namespace planner::reports
