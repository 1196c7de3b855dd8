// Rescoring stored validations (validation/rescore.h) and the cost model's scorecard on the ones
// measured on the development host (tests/data/validation/README.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <dirent.h>
#include <map>
#include <unistd.h>

#include "core/error.h"
#include "core/json_io.h"
#include "topology/cluster_presets.h"
#include "validation/rescore.h"

namespace planner {
namespace {

using validation::rescore_validation;

// The score of this build on the folders below, plus one point.
constexpr double kBound = 0.117;  // 264 splits: 10.69%, 146 within 10%
const std::string kCorpus = std::string(PLANNER_TEST_DATA) + "/validation";

// The folders of a corpus (named by their UTC date), or with `prefix` the files starting so.
std::vector<std::string> entries(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > prefix.size() && n.compare(0, prefix.size(), prefix) == 0) out.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> corpus_runs() { return entries(kCorpus, "2026"); }

std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Rescore, KeepsTheMeasurementsAndRecomputesThePredictions) {
  const std::string run = kCorpus + "/2026-11-25T2051";
  const Json stored = read_json_file(run + "/validate-llama.json");
  ClusterSpec profile = resolve_cluster(run + "/profile.json", "--cluster");
  const Json again = rescore_validation(stored, "validate-llama.json", profile, "profile.json");
  ASSERT_EQ(again["rows"].size(), stored["rows"].size());
  for (size_t i = 0; i < again["rows"].size(); ++i) {
    const Json& a = again["rows"][i];
    const Json& s = stored["rows"][i];
    EXPECT_EQ(a["measured"], s["measured"]);
    const double pred = a["predicted"]["step_s"].get<double>(), meas = a["measured"]["step_s"].get<double>();
    EXPECT_NEAR(a["step_time_error"].get<double>(), pred / meas - 1.0, 1e-12);
    // The memory model did not change since the run: the same prediction, to the byte.
    EXPECT_EQ(a["predicted"]["peak_allocated_bytes"].get<double>(), s["predicted"]["peak_allocated_bytes"].get<double>());
  }
  EXPECT_EQ(again["rescored"]["from"], "validate-llama.json");
  // A machine twice as fast at GEMMs predicts faster steps for every split.
  ClusterSpec faster = profile;
  faster.device.peak_fp32_flops_per_s *= 2;
  const Json quick = rescore_validation(stored, "v.json", faster, "faster");
  for (size_t i = 0; i < quick["rows"].size(); ++i)
    EXPECT_LT(quick["rows"][i]["predicted"]["step_s"].get<double>(), again["rows"][i]["predicted"]["step_s"].get<double>());
}

TEST(Rescore, RefusesWhatItCannotRescore) {
  const std::string run = kCorpus + "/2026-11-25T2051";
  const Json stored = read_json_file(run + "/validate-llama.json");
  EXPECT_EQ(message([&] { rescore_validation(stored, "v.json", cpu_gloo_host_cluster(2), "two.json"); }),
            "two.json: field 'gpus_per_node': the profile describes 2 ranks but v.json validated 4");
  Json other = stored;
  other["format"] = "planner-run/1";
  EXPECT_EQ(message([&] { rescore_validation(other, "r.json", cpu_gloo_host_cluster(4), "c"); }),
            "r.json: field 'format': expected 'planner-validate/1', got 'planner-run/1'");
  other = stored;
  other["rows"][0]["plan"]["dp"] = "four";
  EXPECT_NE(message([&] { rescore_validation(other, "v.json", cpu_gloo_host_cluster(4), "c"); }).find("rows[0].plan.dp"),
            std::string::npos);
}

// The scorecard: every stored validation re-predicted by this build. Memory must stay within the
// issue's 3% on every split and the predicted best must stay the measured best (or within 5%);
// the mean |step time error| over all splits must not grow past the bound below, which is this
// model's score plus one point (raise the bar when the model improves). Step times are noisy on
// this host (the same split measured up to 30% apart minutes apart, docs/calibration.md), so the
// bound is on the mean over all the stored measurements, not on each.
TEST(CostModel, StoredValidationsOfTheDevelopmentHost) {
  const auto runs = corpus_runs();
  ASSERT_GE(runs.size(), 10u) << kCorpus;
  double sum = 0;
  int n = 0, within = 0;
  std::map<std::string, std::pair<double, int>> per_split;
  for (const auto& run : runs) {
    ClusterSpec profile = resolve_cluster(run + "/profile.json", "--cluster");
    int documents = 0;
    for (const char* name : {"validate-llama.json", "validate-ff.json"}) {
      if (access((run + "/" + name).c_str(), R_OK) != 0) continue;  // some runs validated llama-tiny only
      ++documents;
      const Json doc = rescore_validation(read_json_file(run + "/" + name), run + "/" + name, profile, "profile.json");
      for (const auto& row : doc["rows"]) {
        if (!row.contains("measured")) continue;
        const double me = row["memory_error"].get<double>(), te = row["step_time_error"].get<double>();
        EXPECT_LE(std::fabs(me), 0.03) << run << " " << name << " " << row["plan"].dump();
        sum += std::fabs(te);
        within += std::fabs(te) <= 0.10;
        ++n;
        auto& s = per_split[doc["model"].get<std::string>() + " dp=" + std::to_string(row["plan"]["dp"].get<int>()) +
                            " tp=" + std::to_string(row["plan"]["tp"].get<int>())];
        s.first += te;
        ++s.second;
      }
      EXPECT_LE(doc["ranking_gap"].get<double>(), 0.05) << run << " " << name;
    }
    EXPECT_GT(documents, 0) << run << ": no validate-llama.json or validate-ff.json";
  }
  const double mean_abs = sum / n;
  std::string table;
  for (const auto& [k, v] : per_split) table += "  " + k + ": mean error " + std::to_string(100 * v.first / v.second) + "%\n";
  std::printf("%d splits, mean |step time error| %.2f%%, %d within 10%%\n%s", n, 100 * mean_abs, within, table.c_str());
  EXPECT_LE(mean_abs, kBound) << table;
}

// The executor on one NVIDIA H200 or H100 (scripts/gpu-check.sh; pip torch 2.11, CUDA 13, fp32,
// one rank): tests/data/validation-gpu/README.md says which run each folder is. A GPU measured its
// own steps within 0.3% from round to round, so here every row must meet the thresholds:
// memory within 3% and step time within 10%.
TEST(CostModel, StoredValidationsOnOneGpu) {
  const std::string corpus = std::string(PLANNER_TEST_DATA) + "/validation-gpu";
  const auto runs = entries(corpus, "2026");
  ASSERT_GE(runs.size(), 4u) << corpus;
  int rows = 0;
  for (const auto& run : runs) {
    ClusterSpec profile = resolve_cluster(run + "/profile.json", "--cluster");
    EXPECT_EQ(profile.backend, "nccl") << run;
    for (const auto& file : entries(run, "validate-")) {
      const Json doc = rescore_validation(read_json_file(file), file, profile, run + "/profile.json");
      for (const auto& row : doc["rows"]) {
        ASSERT_TRUE(row.contains("measured")) << file;
        const double me = row["memory_error"].get<double>(), te = row["step_time_error"].get<double>();
        std::printf("%s: memory %+.2f%%, step time %+.2f%%\n", file.substr(corpus.size() + 1).c_str(), 100 * me, 100 * te);
        EXPECT_LE(std::fabs(me), 0.03) << file;
        EXPECT_LE(std::fabs(te), 0.10) << file;
        ++rows;
      }
      EXPECT_TRUE(doc["pass"].get<bool>()) << file;
    }
  }
  EXPECT_GE(rows, 14) << corpus;
}

}  // namespace
}  // namespace planner
