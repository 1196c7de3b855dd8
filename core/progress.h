// A progress line for long measurements (planner calibrate): on a terminal one line redrawn with
// \r; on a pipe or a file (a CI log) a new line each tenth of the work and none of \r. Each line
// gives the time left, extrapolated from the time the steps so far took (an estimate: steps differ).
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace planner {

std::string format_duration(double seconds);  // "42 s", "3 min 05 s", "2 h 10 min"

class ProgressLine {
 public:
  // out: where lines go (stderr); tty: whether it is a terminal; total: steps; silent: print nothing.
  ProgressLine(std::FILE* out, bool tty, size_t total, std::string prefix, bool silent = false);
  void step(const std::string& what);                    // elapsed time from the steady clock
  void step(const std::string& what, double elapsed_s);  // elapsed time given (tests)
  void finish();                                         // ends the terminal line

 private:
  std::FILE* out_;
  bool tty_, silent_;
  size_t total_, done_ = 0, next_tenth_ = 1;
  std::string prefix_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace planner
