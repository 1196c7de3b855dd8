// `planner validate --rescore` through the binary: stored validations (tests/data/validation/)
// re-predicted and judged, nothing trained. Runs in builds without LibTorch too.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "core/json_io.h"

#include "support/run_binary.h"

using namespace planner;

namespace {

std::string temp_dir() {
  static std::string d = [] {
    char tmpl[] = "/tmp/planner-rescore-cli-test-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  return d;
}

std::pair<int, std::string> run(const std::string& args, int timeout_s) {
  const auto r = ::planner::testing::run_planner(args, timeout_s);
  return {r.exit_code, r.output};
}

}  // namespace

// --rescore trains nothing: run A's validations (tests/data/validation/) re-predicted with their
// own profile. llama-tiny's three splits are within 10% there (PASS, exit 0); feedforward's
// dp=2 tp=2 is 13.5% off (FAIL, exit 1).
TEST(Validate, RescoresAStoredValidationWithoutTraining) {
  const std::string dir = std::string(PLANNER_TEST_DATA) + "/validation/2026-11-25T2321";
  const std::string out = temp_dir() + "/rescored.json";
  auto [rc, text] = run("validate --rescore " + dir + "/validate-llama.json --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("PASS: mean |step time error|"), std::string::npos) << text;
  Json doc = read_json_file(out);
  EXPECT_EQ(doc["format"], "planner-validate/1");
  EXPECT_EQ(doc["rows"].size(), 3u);
  EXPECT_TRUE(doc["pass"].get<bool>());
  EXPECT_EQ(doc["predicted_best"]["dp"], 4);
  auto [rc_ff, text_ff] = run("validate --rescore " + dir + "/validate-ff.json --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc_ff, 1) << text_ff;
  EXPECT_NE(text_ff.find("dp=2 tp=2"), std::string::npos) << text_ff;
  EXPECT_NE(text_ff.find("past threshold"), std::string::npos) << text_ff;
  EXPECT_FALSE(read_json_file(out)["pass"].get<bool>());
  // Writing over the stored validation is refused.
  auto [rc2, text2] = run("validate --rescore " + out + " --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc2, 2) << text2;
  EXPECT_NE(text2.find("is the validation being rescored"), std::string::npos) << text2;
}

// 2026-11-26T0807's FeedForward ran at 1.20x, 1.21x and 1.22x the calibrated host speed and
// missed by +17.6%, +12.0% and +20.2%: a note under the table names the three. With the first
// row's host speed set to 1.05 (within the 10% threshold) it names only the other two; the
// 08:03 run, which passed, gets no note.
TEST(Validate, NamesTheSplitsThatMissedWhileTheHostRanAtAnotherSpeed) {
  const std::string base = std::string(PLANNER_TEST_DATA) + "/validation/2026-11-26T";
  const std::string out = temp_dir() + "/rescored-drift.json";
  auto rescore = [&](const std::string& doc, const std::string& dir) {
    return run("validate --rescore " + doc + " --cluster " + dir + "/profile.json --out " + out, 60);
  };
  auto [rc, text] = rescore(base + "0807/validate-ff.json", base + "0807");
  EXPECT_EQ(rc, 1) << text;
  EXPECT_NE(text.find("more than 10% away from its\ncalibrated speed: dp=4 tp=1 (1.20x), dp=2 tp=2 (1.21x), dp=1 tp=4 (1.22x)."),
            std::string::npos)
      << text;
  Json doc = read_json_file(base + "0807/validate-ff.json");
  doc["rows"][0]["measured"]["host_speed"] = 1.05;
  const std::string edited = temp_dir() + "/validate-ff-edited.json";
  std::ofstream(edited) << doc.dump();
  auto [rc_e, text_e] = rescore(edited, base + "0807");
  EXPECT_EQ(rc_e, 1) << text_e;
  EXPECT_NE(text_e.find("calibrated speed: dp=2 tp=2 (1.21x), dp=1 tp=4 (1.22x)."), std::string::npos) << text_e;
  auto [rc_p, text_p] = rescore(base + "0803/validate-ff.json", base + "0803");
  EXPECT_EQ(rc_p, 0) << text_p;
  EXPECT_EQ(text_p.find("note:"), std::string::npos) << text_p;
}

// The oldest stored validations (run R, 2026-11-25 20:51) were written before validate measured
// the time in collectives: their table shows "-" in that column instead of stopping on the
// missing field. Its dp=2 tp=2 is 10.1% off with this model, so the verdict is FAIL (exit 1).
TEST(Validate, RescoresAValidationWrittenBeforeCommWasMeasured) {
  const std::string dir = std::string(PLANNER_TEST_DATA) + "/validation/2026-11-25T2051";
  ASSERT_FALSE(read_json_file(dir + "/validate-llama.json")["rows"][0]["measured"].contains("comm_s"));
  const std::string out = temp_dir() + "/rescored-r.json";
  auto [rc, text] = run("validate --rescore " + dir + "/validate-llama.json --cluster " + dir + "/profile.json --out " + out, 60);
  EXPECT_EQ(rc, 1) << text;
  EXPECT_EQ(text.find("error:"), std::string::npos) << text;
  EXPECT_NE(text.find("FAIL: mean |step time error|"), std::string::npos) << text;
  EXPECT_EQ(read_json_file(out)["rows"].size(), 3u);
}
