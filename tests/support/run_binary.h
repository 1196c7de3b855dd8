// Runs the planner binary (PLANNER_BINARY) with a shell command line and a time limit.
#pragma once
#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace planner::testing {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// `timeout 60` bounds every run: a hang fails the test instead of CI.
inline RunResult run_planner(const std::string& args) {
  const std::string cmd = "timeout 60 " + std::string(PLANNER_BINARY) + " " + args + " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace planner::testing
