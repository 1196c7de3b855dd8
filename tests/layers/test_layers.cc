// The layers of the README, checked two ways: every library target links only targets of its own
// layer or of layers below it (the CMake target graph, written at generate time), and every
// source file includes only headers of those layers; CLI11 is seen by app/ alone and LibTorch by
// the executor and the layers that drive it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// What each layer may use besides itself (README, "How the pipeline is laid out"):
//   core <- topology <- simulator <- planner <- reports;  executor -> core;
//   validation -> simulator, topology, core and the executor;  app -> everything.
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> a{
      {"core", {}},
      {"topology", {"core"}},
      {"simulator", {"core"}},
      {"planner", {"core", "topology", "simulator"}},
      {"reports", {"core", "topology", "simulator", "planner"}},
      {"executor", {"core"}},
      {"validation", {"core", "topology", "simulator", "executor"}},
      {"app", {"core", "topology", "simulator", "planner", "reports", "executor", "validation"}},
  };
  return a;
}

// The layer a library target belongs to ("" for targets outside the project's layers).
std::string layer_of_target(const std::string& t) {
  static const std::map<std::string, std::string> m{
      {"planner_core", "core"},           {"planner_topology", "topology"},
      {"planner_simulator", "simulator"}, {"planner_planner", "planner"},
      {"planner_reports", "reports"},     {"planner_executor", "executor"},
      {"planner_validation", "validation"}, {"planner_validation_runs", "validation"},
      {"planner_app", "app"},             {"planner_cli", "app"},
  };
  auto it = m.find(t);
  return it == m.end() ? "" : it->second;
}

bool may_use(const std::string& from, const std::string& to) {
  return from == to || allowed().at(from).count(to) > 0;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Layers, TargetsLinkOnlyLayersBelowThem) {
  const std::string text = read(PLANNER_TARGET_LINKS);
  ASSERT_FALSE(text.empty()) << PLANNER_TARGET_LINKS;
  std::istringstream lines(text);
  std::string line;
  int targets = 0;
  std::vector<std::string> bad;
  while (std::getline(lines, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string target = line.substr(0, colon);
    const std::string from = layer_of_target(target);
    ASSERT_FALSE(from.empty()) << "unknown target " << target;
    ++targets;
    std::istringstream deps(line.substr(colon + 1));
    std::string dep;
    while (deps >> dep) {
      const std::string to = layer_of_target(dep);
      if (!to.empty() && !may_use(from, to)) bad.push_back(target + " (" + from + ") links " + dep + " (" + to + ")");
      // Only app/ parses command lines.
      if (dep.find("CLI11") != std::string::npos && from != "app") bad.push_back(target + " links " + dep);
    }
  }
  EXPECT_GE(targets, 6);  // core, topology, simulator, planner, reports and app at least
  for (const auto& b : bad) ADD_FAILURE() << b;
}

TEST(Layers, SourcesIncludeOnlyLayersBelowThem) {
  const fs::path root = PLANNER_SOURCE_DIR;
  const std::regex include_re(R"re(^\s*#\s*include\s*[<"]([A-Za-z0-9_]+)/)re");
  int files = 0;
  std::vector<std::string> bad;
  for (const auto& [layer, _] : allowed()) {
    if (!fs::exists(root / layer)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / layer)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      ++files;
      std::istringstream in(read(e.path()));
      std::string line;
      int n = 0;
      while (std::getline(in, line)) {
        ++n;
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        const std::string dir = m[1].str();
        const std::string where = fs::relative(e.path(), root).string() + ":" + std::to_string(n) + ": ";
        if (allowed().count(dir) && !may_use(layer, dir)) bad.push_back(where + layer + " includes " + dir + "/");
        if (dir == "CLI" && layer != "app") bad.push_back(where + "CLI11 outside app/");
        const bool torch = dir == "torch" || dir == "ATen" || dir == "c10" || dir == "c10d";
        if (torch && layer != "executor" && layer != "validation" && layer != "app")
          bad.push_back(where + "LibTorch in " + layer + "/");
      }
    }
  }
  EXPECT_GE(files, 50);
  for (const auto& b : bad) ADD_FAILURE() << b;
}

// The check itself: a file of a lower layer that includes a higher one is caught.
TEST(Layers, AnInclusionUpwardsIsCaught) {
  EXPECT_FALSE(may_use("simulator", "planner"));
  EXPECT_FALSE(may_use("executor", "simulator"));
  EXPECT_FALSE(may_use("reports", "app"));
  EXPECT_TRUE(may_use("reports", "planner"));
  EXPECT_TRUE(may_use("validation", "executor"));
}

}  // namespace
