// The CLI as users of other tools expect it: --version, a typo named as a typo, ranges in words,
// the same flag spellings on every subcommand, --quiet, exports with their warnings, suggest's
// sweep saying what it skipped and what it would take, and no bf16 plans for GPUs without bf16.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/json_io.h"
#include "support/run_binary.h"

namespace planner {
namespace {

using testing::run_planner;

bool has(const std::string& out, const std::string& part) { return out.find(part) != std::string::npos; }

std::string tmp(const std::string& name) { return ::testing::TempDir() + "/ux-" + name; }

TEST(CliUx, VersionFlagAndToolVersionInJson) {
  auto v = run_planner("--version");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_TRUE(has(v.output, "planner 0.1.0 (with")) << v.output;
  auto j = run_planner("plan --model llama-tiny --cluster cpu-gloo --gpus 2 --format json 2>/dev/null");
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const Json doc = Json::parse(j.output);
  EXPECT_EQ(doc["tool"]["name"], "planner");
  EXPECT_EQ(doc["tool"]["version"], "0.1.0");
}

TEST(CliUx, TypoedSubcommandIsNamedWithTheClosestOne) {
  auto r = run_planner("plna --model llama3-8b");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "unknown subcommand 'plna'; did you mean 'plan'?")) << r.output;
  EXPECT_FALSE(has(r.output, "A subcommand is required")) << r.output;
  auto far = run_planner("frobnicate");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_TRUE(has(far.output, "unknown subcommand 'frobnicate' (subcommands: plan, simulate")) << far.output;
  auto none = run_planner("");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(has(none.output, "A subcommand is required")) << none.output;
}

TEST(CliUx, TrainWithoutTheExecutorSaysSo) {
  const bool have_executor = has(run_planner("--version").output, "(with the LibTorch executor");
  auto r = run_planner("train --help");
  if (have_executor) {
    EXPECT_EQ(r.exit_code, 0) << r.output;
  } else {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(has(r.output, "'train' needs the LibTorch executor, and this build has none")) << r.output;
    EXPECT_TRUE(has(r.output, "-DPLANNER_WITH_TORCH=ON")) << r.output;
  }
}

TEST(CliUx, OutOfRangeNumbersAreSaidInWords) {
  for (const char* args : {"plan --model llama3-8b --nodes 99999999999999999999",
                           "suggest --model llama3-8b --tokens 1e400", "plan --model llama3-8b --top 0",
                           "suggest --model llama3-8b --tokens 1e12 --deadline-days -1"}) {
    auto r = run_planner(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_LT(r.output.size(), 400u) << args << "\n" << r.output;  // no 309-digit bound
    EXPECT_FALSE(has(r.output, "179769313486231570")) << r.output;  // DBL_MAX's digits
  }
}

TEST(CliUx, ConfigOfAnotherArchitectureNamesItsModelType) {
  const std::string path = tmp("gpt2-config.json");
  std::ofstream(path) << R"({"model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12, "vocab_size": 50257})";
  auto r = run_planner("plan --model " + path + " --nodes 1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "field 'model_type': 'gpt2' is not a Llama-style decoder")) << r.output;
  EXPECT_FALSE(has(r.output, "field 'kind'")) << r.output;
}

TEST(CliUx, SwitchesTakeBooleanSpellings) {
  auto on = run_planner("simulate --model llama3-8b --nodes 1 --tp 8 --sp true --format json");
  ASSERT_EQ(on.exit_code, 0) << on.output;
  EXPECT_EQ(Json::parse(on.output)["plan"]["sequence_parallel"], true);
  auto off = run_planner("simulate --model llama3-8b --nodes 1 --tp 8 --sp 0 --reshard-after-forward false --format json");
  ASSERT_EQ(off.exit_code, 0) << off.output;
  EXPECT_EQ(Json::parse(off.output)["plan"]["sequence_parallel"], false);
  EXPECT_EQ(Json::parse(off.output)["plan"]["reshard_after_forward"], false);
  auto bad = run_planner("plan --model llama3-8b --nodes 1 --sp maybe");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(has(bad.output, "--sp")) << bad.output;
}

TEST(CliUx, OutputFlagIsSpelledTheSameEverywhere) {
  for (const char* flag : {"-o", "--output", "--out"}) {
    const std::string path = tmp(std::string("out") + flag + ".csv");
    auto r = run_planner(std::string("plan --model llama-tiny --cluster cpu-gloo --gpus 2 --format csv ") + flag + " " + path);
    EXPECT_EQ(r.exit_code, 0) << flag << "\n" << r.output;
    std::ifstream in(path);
    std::string header;
    std::getline(in, header);
    EXPECT_EQ(header.rfind("dp,tp,", 0), 0u) << flag << ": " << header;
  }
}

TEST(CliUx, QuietDropsNotes) {
  const std::string plan = tmp("quiet.plan.json");
  auto loud = run_planner("plan --model llama-tiny --cluster cpu-gloo --gpus 2 --write-plan " + plan + " -o /dev/null");
  EXPECT_EQ(loud.exit_code, 0) << loud.output;
  EXPECT_TRUE(has(loud.output, "wrote " + plan)) << loud.output;
  auto quiet = run_planner("plan --model llama-tiny --cluster cpu-gloo --gpus 2 --write-plan " + plan + " -o /dev/null --quiet");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_EQ(quiet.output, "");
  auto s = run_planner("suggest --model llama-tiny --cluster cpu-gloo --tokens 1e6 -q --help");
  EXPECT_TRUE(has(s.output, "-q,--quiet")) << s.output;
}

TEST(CliUx, ExportPrintsOneTargetAndWarnsOfWhatItCannotSay) {
  auto toml = run_planner("plan --model llama3-8b --nodes 2 --tp 8 --sp off --export torchtitan-toml");
  EXPECT_EQ(toml.exit_code, 0) << toml.output;
  EXPECT_TRUE(has(toml.output, "# torchtitan v0.2.2")) << toml.output;
  EXPECT_TRUE(has(toml.output, "tensor_parallel_degree = 8\n")) << toml.output;
  EXPECT_FALSE(has(toml.output, "enable_sequence_parallel")) << toml.output;
  EXPECT_TRUE(has(toml.output, "warning: torchtitan-toml: sequence_parallel=off cannot be expressed")) << toml.output;
  EXPECT_FALSE(has(toml.output, "Splits (dp x tp")) << "the table is not printed with --export";
  // The Python config has a sequence-parallel switch (and no warning with grad_sync=every).
  auto py = run_planner("plan --model llama3-8b --nodes 2 --tp 8 --sp off --grad-sync every --export torchtitan-py");
  EXPECT_TRUE(has(py.output, "enable_sequence_parallel=False,")) << py.output;
  EXPECT_FALSE(has(py.output, "warning")) << py.output;
  auto l = run_planner("plan --model llama3-8b --nodes 2 --export lightning");
  EXPECT_TRUE(has(l.output, "trainer = L.Trainer(")) << l.output;
  auto both = run_planner("plan --model llama3-8b --nodes 2 --export lightning --format json");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  auto json = run_planner("plan --model llama3-8b --nodes 2 --format json");
  ASSERT_EQ(json.exit_code, 0);
  const Json doc = Json::parse(json.output);
  ASSERT_EQ(doc["exports"].size(), 3u);
  EXPECT_EQ(doc["exports"][1]["name"], "torchtitan-toml");
}

TEST(CliUx, GpusWithoutBf16PlanInFp32OrRejectBf16) {
  const std::string node = tmp("dgx2.json");
  auto probe = run_planner("probe --xml " + std::string(PLANNER_TEST_DATA) +
                           "/topologies/nvidia-dgx2.xml --as-cluster --inter-node-gbps 800 -o " + node);
  ASSERT_EQ(probe.exit_code, 0) << probe.output;
  EXPECT_EQ(read_json_file(node)["device"]["bf16"], false);
  auto fallback = run_planner("plan --cluster " + node + " --nodes 4 --model llama3-8b --format json -o /dev/null");
  EXPECT_TRUE(has(fallback.output, "has no bfloat16: planning in fp32")) << fallback.output;
  auto json = run_planner("plan --cluster " + node + " --nodes 4 --model llama3-8b --format json -q");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_EQ(Json::parse(json.output)["training"]["precision"], "fp32");
  auto bf16 = run_planner("plan --cluster " + node + " --nodes 4 --model llama3-8b --precision bf16-mixed");
  EXPECT_EQ(bf16.exit_code, 2) << bf16.output;
  EXPECT_TRUE(has(bf16.output, "--precision: 'bf16-mixed' is not possible: 'NVIDIA Tesla V100 SXM3 32GB' has no bfloat16"))
      << bf16.output;
}

TEST(CliUx, SuggestWithoutPriceHasNoCost) {
  auto csv = run_planner("suggest --model llama3-8b --tokens 1e12 --max-gpus 32 --format csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  std::istringstream in(csv.output);
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_EQ(header.rfind("nodes,gpus,fits,days,gpu_hours,cost,", 0), 0u) << header;
  // nodes,gpus,fits,days,gpu_hours,(cost empty),scaling
  int commas = 0;
  size_t cost_at = 0;
  for (size_t i = 0; i < row.size() && commas < 5; ++i)
    if (row[i] == ',' && ++commas == 5) cost_at = i + 1;
  EXPECT_EQ(row[cost_at], ',') << "cost field not empty: " << row;
  auto json = run_planner("suggest --model llama3-8b --tokens 1e12 --max-gpus 32 --format json");
  const Json doc = Json::parse(json.output);
  for (const auto& p : doc["sweep"]) {
    EXPECT_FALSE(p.contains("cost")) << p.dump();
    if (p.contains("scaling_efficiency")) {
      EXPECT_LE(p["scaling_efficiency"].get<double>(), 1.0 + 1e-12);
    }
  }
}

TEST(CliUx, SuggestNamesTheMinimumWhenNothingFits) {
  // Llama-3-405B (4.06e11 parameters) in bf16-mixed holds 16 bytes per parameter in states
  // (fp32 master 4 + grad 4 + AdamW 2 x 4): 6.5e12 bytes over (80 GiB - 1 GiB runtime) per GPU
  // = 77 GPUs at least, 10 nodes of 8; one node cannot.
  auto r = run_planner("suggest --model llama3-405b --tokens 1e12 --max-gpus 8");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "need at least 77 GPUs (10 nodes): raise --max-gpus/--max-nodes")) << r.output;
}

}  // namespace
}  // namespace planner
