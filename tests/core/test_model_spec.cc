#include <gtest/gtest.h>

#include "core/error.h"
#include "core/model_spec.h"

namespace planner {
namespace {

TEST(ModelSpec, Llama3_8B_ParameterCount) {
  // Embeddings 128256 x 4096 = 525,336,576, twice (untied output head) = 1,050,673,152.
  // Per layer: wq 4096^2 = 16,777,216; wk, wv 1024 x 4096 = 4,194,304 each; wo 16,777,216;
  // w1, w3, w2 3 x 14336 x 4096 = 176,160,768; two norms 8,192 -> 218,112,000.
  // 32 layers = 6,979,584,000; + final norm 4,096 -> 8,030,261,248 (the published 8.03e9).
  EXPECT_EQ(parameter_count(resolve_model("llama3-8b")), 8030261248LL);
}

TEST(ModelSpec, Llama3_70B_ParameterCount) {
  // Embeddings 2 x 128256 x 8192 = 2,101,346,304. Per layer: 2 x 8192^2 + 2 x 1024 x 8192
  // + 3 x 28672 x 8192 + 2 x 8192 = 855,654,400; x 80 = 68,452,352,000; + 8,192 (final norm).
  EXPECT_EQ(parameter_count(resolve_model("llama3-70b")), 70553706496LL);
}

TEST(ModelSpec, HuggingFaceConfigMatchesPreset) {
  ModelSpec hf = resolve_model(std::string(PLANNER_TEST_DATA) + "/models/Meta-Llama-3-8B.config.json");
  ModelSpec preset = resolve_model("llama3-8b");
  EXPECT_EQ(hf.dim, preset.dim);
  EXPECT_EQ(hf.ffn_hidden, preset.ffn_hidden);
  EXPECT_EQ(hf.n_layers, preset.n_layers);
  EXPECT_EQ(hf.n_heads, preset.n_heads);
  EXPECT_EQ(hf.n_kv_heads, preset.n_kv_heads);
  EXPECT_EQ(hf.head_dim, 128);  // 4096 / 32, not in the file
  EXPECT_EQ(parameter_count(hf), 8030261248LL);
}

TEST(ModelSpec, FeedForwardDims) {
  ModelSpec ff = resolve_model("feedforward:1024x4096");
  // w1, w3: 4096 x 1024, w2: 1024 x 4096 -> 3 x 4,194,304.
  EXPECT_EQ(parameter_count(ff), 3 * 4194304LL);
  EXPECT_EQ(parameter_count(resolve_model("feedforward")), 3LL * 8192 * 8192);
}

TEST(ModelSpec, MatmulParametersExcludeInputEmbeddingAndNorms) {
  ModelSpec m = resolve_model("llama3-8b");
  // 8,030,261,248 - 525,336,576 (tok_embeddings) - 65 x 4,096 (norms) = 7,504,658,432.
  EXPECT_EQ(matmul_parameter_count(m), 7504658432LL);
}

TEST(ModelSpec, UnknownPresetListsValidOnes) {
  try {
    resolve_model("llama4-1t");
    FAIL() << "no error";
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("unknown model 'llama4-1t'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("llama3-70b"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--model"), std::string::npos) << msg;
  }
}

TEST(ModelSpec, BadFeedForwardDims) {
  EXPECT_THROW(resolve_model("feedforward:0x5"), InputError);
  EXPECT_THROW(resolve_model("feedforward:12x"), InputError);
  EXPECT_THROW(resolve_model("feedforward:axb"), InputError);
}

std::string error_of(const std::string& file) {
  try {
    resolve_model(std::string(PLANNER_TEST_DATA) + "/models/" + file);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelSpec, HuggingFaceErrorsNameFileAndField) {
  std::string type = error_of("bad-type.config.json");
  EXPECT_NE(type.find("bad-type.config.json"), std::string::npos) << type;
  EXPECT_NE(type.find("num_attention_heads"), std::string::npos) << type;
  EXPECT_NE(type.find("expected an integer"), std::string::npos) << type;
  std::string missing = error_of("bad-missing.config.json");
  EXPECT_NE(missing.find("num_hidden_layers"), std::string::npos) << missing;
  EXPECT_NE(missing.find("missing"), std::string::npos) << missing;
  std::string trunc = error_of("bad-truncated.config.json");
  EXPECT_NE(trunc.find("malformed JSON"), std::string::npos) << trunc;
}

TEST(ModelSpec, JsonRoundTrip) {
  ModelSpec m = resolve_model("llama3-70b");
  Json j = model_to_json(m);
  j.erase("parameter_count");
  ModelSpec back = model_from_json(JsonReader(j, "mem"));
  EXPECT_EQ(parameter_count(back), parameter_count(m));
  EXPECT_EQ(back.n_kv_heads, 8);
}

}  // namespace
}  // namespace planner
