// Fuzz-style test: random and truncated inputs to every JSON parser must end in either a value or
// an InputError, never a crash, another exception type or a hang.
#include <gtest/gtest.h>

#include <random>

#include "core/cluster_spec.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "core/plan_file.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {

template <typename Parse>
void fuzz(const std::string& valid, Parse parse, uint32_t seed) {
  std::mt19937 rng(seed);
  int ok = 0, rejected = 0;
  // Every truncation of the valid text.
  for (size_t n = 0; n < valid.size(); ++n) {
    try {
      parse(parse_json_text(valid.substr(0, n), "fuzz.json"));
      ++ok;
    } catch (const InputError&) {
      ++rejected;
    }
  }
  // Random byte mutations.
  const std::string alphabet = "{}[]\":,0123456789-.eE truefalsnl\\x";
  for (int i = 0; i < 2000; ++i) {
    std::string s = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    try {
      parse(parse_json_text(s, "fuzz.json"));
      ++ok;
    } catch (const InputError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  SUCCEED() << ok << " accepted, " << rejected << " rejected";
}

TEST(FuzzParsers, HuggingFaceConfig) {
  std::string valid = model_to_json(resolve_model("llama3-8b")).dump();
  Json hf{{"hidden_size", 4096}, {"intermediate_size", 14336}, {"num_hidden_layers", 32},
          {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"vocab_size", 128256}};
  fuzz(hf.dump(), [](const Json& j) { model_from_hf_config(j, "fuzz.json"); }, 1);
}

TEST(FuzzParsers, ClusterFile) {
  fuzz(cluster_to_json(resolve_cluster("h100-sxm")).dump(),
       [](const Json& j) { cluster_from_json(JsonReader(j, "fuzz.json")); }, 2);
}

TEST(FuzzParsers, PlanFile) {
  PlanFile f;
  f.model = resolve_model("llama-tiny");
  f.plan.dp = 2;
  fuzz(plan_file_to_json(f).dump(), [](const Json& j) { plan_file_from_json(j, "fuzz.json"); }, 3);
}

}  // namespace
}  // namespace planner
