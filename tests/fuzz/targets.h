// One fuzz target per parser of user input: each takes the bytes of one input file and parses
// them the way the CLI does. A target returns when the input is accepted and throws
// planner::InputError when it is rejected; anything else (another exception, a crash, a hang)
// is a finding. The in-tree driver (driver.cc) and libFuzzer (libfuzzer_main.cc) run them.
#pragma once
#include <string>
#include <vector>

namespace planner::fuzz {

// The name the targets give their input: every rejection must start with it ("names the file").
constexpr const char* kInputName = "fuzz-input";

struct Target {
  const char* name;        // also the corpus folder, tests/data/fuzz/<name>
  const char* parses;      // what it covers, for --list
  void (*run)(const std::string& input);
};

const std::vector<Target>& targets();
const Target* find_target(const std::string& name);

}  // namespace planner::fuzz
