// Runs the planner binary (PLANNER_BINARY), or any shell line, with its output captured and a
// time limit: a hang fails the test instead of CI.
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

// Runs a shell command line as given (the caller redirects stderr if it wants it).
inline RunResult run_shell(const std::string& cmd) {
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

// `env` (VAR=value words) prefixes the command; `timeout` bounds it.
inline RunResult run_planner(const std::string& args, int timeout_s = 60, const std::string& env = "") {
  return run_shell(env + " timeout " + std::to_string(timeout_s) + " " + std::string(PLANNER_BINARY) + " " + args +
                   " 2>&1");
}

}  // namespace planner::testing
