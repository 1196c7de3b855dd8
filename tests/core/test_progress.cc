// calibrate's progress line: \r redraws only on a terminal, a line per tenth of the work on a pipe
// or file, and the time left extrapolated from the elapsed time.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/progress.h"

namespace planner {
namespace {

std::string run(bool tty, size_t total, size_t steps, double seconds_per_step) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  ProgressLine p(f, tty, total, "calibrate");
  for (size_t i = 1; i <= steps; ++i) p.step("GEMM " + std::to_string(i), seconds_per_step * i);
  p.finish();
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

TEST(Progress, PipeGetsWholeLinesWithoutCarriageReturns) {
  // 20 steps of 3 s: a line at 2, 4, ..., 20 (every tenth), so 10 lines, none with \r.
  const std::string out = run(false, 20, 20, 3.0);
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 10) << out;
  // After 10 of 20 steps in 30 s: 10 steps left at 3 s each = 30 s.
  EXPECT_NE(out.find("calibrate: 50% (GEMM 10), 30 s elapsed, about 30 s left\n"), std::string::npos) << out;
  EXPECT_NE(out.find("calibrate: 100% (GEMM 20), 1 min 00 s elapsed, about 0 s left\n"), std::string::npos) << out;
}

TEST(Progress, TerminalRedrawsOneLine) {
  const std::string out = run(true, 4, 4, 1.0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\r'), 4) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;  // finish() ends the line
  // After 1 of 4 steps in 1 s: 3 left, about 3 s.
  EXPECT_NE(out.find("calibrate: 25% (GEMM 1), 1 s elapsed, about 3 s left"), std::string::npos) << out;
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(42), "42 s");
  EXPECT_EQ(format_duration(185), "3 min 05 s");     // 3 x 60 + 5
  EXPECT_EQ(format_duration(7800), "2 h 10 min");    // 2 x 3600 + 10 x 60
}

}  // namespace
}  // namespace planner
