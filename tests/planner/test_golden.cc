// Golden end-to-end cases (DuckDB-style data-driven test): tests/data/golden/<case>/args holds the
// command line, expected.json the output it must reproduce (numbers to 1e-9 relative, everything
// else exactly). tests/data/golden/README.md says where each case comes from and how to update.
#include <gtest/gtest.h>

#include <cmath>
#include <dirent.h>
#include <fstream>
#include <sstream>

#include "core/json_io.h"
#include "support/run_binary.h"

namespace planner {
namespace {

void compare(const Json& want, const Json& got, const std::string& path, int* mismatches) {
  if (*mismatches > 20) return;
  if (want.is_number() && got.is_number()) {
    const double a = want.get<double>(), b = got.get<double>();
    // Relative, with an absolute floor: a difference of two equal sums (an overlap of 0 s) is
    // rounding noise of order 1e-17 whose sign and size depend on the order of the additions.
    if (std::fabs(a - b) > std::max(1e-9 * std::max(std::fabs(a), std::fabs(b)), 1e-12)) {
      ADD_FAILURE() << path << ": expected " << a << ", got " << b;
      ++*mismatches;
    }
    return;
  }
  if (want.type() != got.type()) {
    ADD_FAILURE() << path << ": expected " << want.dump() << ", got " << got.dump();
    ++*mismatches;
    return;
  }
  if (want.is_object()) {
    for (auto it = want.begin(); it != want.end(); ++it) {
      if (!got.contains(it.key())) {
        ADD_FAILURE() << path << "." << it.key() << ": missing";
        ++*mismatches;
        continue;
      }
      compare(it.value(), got.at(it.key()), path + "." + it.key(), mismatches);
    }
    for (auto it = got.begin(); it != got.end(); ++it)
      if (!want.contains(it.key())) {
        ADD_FAILURE() << path << "." << it.key() << ": unexpected";
        ++*mismatches;
      }
  } else if (want.is_array()) {
    if (want.size() != got.size()) {
      ADD_FAILURE() << path << ": expected " << want.size() << " items, got " << got.size();
      ++*mismatches;
      return;
    }
    for (size_t i = 0; i < want.size(); ++i) compare(want[i], got[i], path + "[" + std::to_string(i) + "]", mismatches);
  } else if (want != got) {
    ADD_FAILURE() << path << ": expected " << want.dump() << ", got " << got.dump();
    ++*mismatches;
  }
}

std::vector<std::string> cases() {
  std::vector<std::string> out;
  const std::string root = std::string(PLANNER_TEST_DATA) + "/golden";
  DIR* d = opendir(root.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name[0] != '.' && std::ifstream(root + "/" + name + "/args").good()) out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Golden, AllCases) {
  const auto all = cases();
  ASSERT_GE(all.size(), 4u) << "golden cases missing";
  const std::string root = std::string(PLANNER_TEST_DATA) + "/golden/";
  for (const auto& c : all) {
    SCOPED_TRACE(c);
    std::ifstream a(root + c + "/args");
    std::string args;
    std::getline(a, args);
    // Paths in args are relative to the golden folder.
    std::string expanded;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args.compare(i, 7, "GOLDEN/") == 0) {
        expanded += root;
        i += 6;
      } else {
        expanded += args[i];
      }
    }
    auto r = testing::run_planner(expanded + " --format json");
    Json expected = read_json_file(root + c + "/expected.json");
    Json got;
    try {
      got = Json::parse(r.output);
    } catch (const std::exception& e) {
      FAIL() << "output is not JSON: " << r.output.substr(0, 500);
    }
    int mismatches = 0;
    compare(expected, got, c, &mismatches);
  }
}

}  // namespace
}  // namespace planner
