// Runs a probe step in a child process with a deadline, so that no step can hang the probe
// (a wedged driver in NVML, a blocking sysfs read during hwloc discovery).
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace planner::topo {

struct ChildResult {
  bool timed_out = false;
  int exit_code = -1;    // the child's exit status (128 + signal if it was killed by one)
  std::string output;    // what the child wrote to its pipe
};

// Forks; the child runs fn(write_fd) and exits with its return value. The parent collects what
// the child writes until it exits or timeout_s passes (then the child is killed with SIGKILL).
ChildResult run_bounded_child(double timeout_s, const std::function<int(int)>& fn);
// write(2) until everything is written; false on error.
bool write_all(int fd, const char* data, size_t size);

}  // namespace planner::topo
