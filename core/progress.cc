#include "core/progress.h"

#include <algorithm>
#include <cmath>

namespace planner {

std::string format_duration(double s) {
  char b[48];
  s = std::max(0.0, s);
  if (s < 59.5)
    std::snprintf(b, sizeof b, "%.0f s", s);
  else if (s < 3599.5)
    std::snprintf(b, sizeof b, "%.0f min %02.0f s", std::floor(std::round(s) / 60), std::fmod(std::round(s), 60));
  else
    std::snprintf(b, sizeof b, "%.0f h %02.0f min", std::floor(std::round(s / 60) / 60), std::fmod(std::round(s / 60), 60));
  return b;
}

ProgressLine::ProgressLine(std::FILE* out, bool tty, size_t total, std::string prefix, bool silent)
    : out_(out), tty_(tty), silent_(silent), total_(std::max<size_t>(1, total)), prefix_(std::move(prefix)) {}

void ProgressLine::step(const std::string& what) {
  step(what, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
}

void ProgressLine::step(const std::string& what, double elapsed_s) {
  ++done_;
  if (silent_) return;
  const size_t done = std::min(done_, total_);
  const double left = elapsed_s * static_cast<double>(total_ - done) / static_cast<double>(done);
  const std::string line = prefix_ + ": " + std::to_string(100 * done / total_) + "% (" + what + "), " +
                           format_duration(elapsed_s) + " elapsed, about " + format_duration(left) + " left";
  if (tty_) {
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());  // redraw, clear the rest of the old line
  } else if (10 * done / total_ >= next_tenth_ || done == total_) {
    std::fprintf(out_, "%s\n", line.c_str());
    next_tenth_ = 10 * done / total_ + 1;
  }
  std::fflush(out_);
}

void ProgressLine::finish() {
  if (!silent_ && tty_) std::fprintf(out_, "\n");
}

}  // namespace planner
