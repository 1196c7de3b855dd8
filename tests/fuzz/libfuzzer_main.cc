// libFuzzer entry for one target (PLANNER_FUZZ_TARGET), built with -DPLANNER_LIBFUZZER=ON and
// clang (docs/robustness.md). An exception other than InputError escapes and libFuzzer reports
// it as a crash; a rejection that does not name the input aborts.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const planner::fuzz::Target* target = planner::fuzz::find_target(PLANNER_FUZZ_TARGET);
  if (!target) std::abort();
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    target->run(input);
  } catch (const planner::InputError& e) {
    if (std::string(e.what()).rfind(std::string(planner::fuzz::kInputName) + ":", 0) != 0) {
      std::fprintf(stderr, "rejection does not name the input: %.500s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
