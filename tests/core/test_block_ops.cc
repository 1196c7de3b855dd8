#include <gtest/gtest.h>

#include "core/block_ops.h"
#include "core/error.h"
#include "core/parallel_plan.h"

namespace planner {
namespace {

TEST(BlockOps, Llama3_8bLinearsInForwardOrder) {
  // Llama-3-8B: dim 4096, 32 heads of 128, 8 KV heads (kv_dim 8 x 128 = 1024), ffn 14336.
  const BlockOps b = block_ops(resolve_model("llama3-8b"));
  ASSERT_EQ(b.linears.size(), 7u);
  const char* names[] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo",
                         "feed_forward.w1", "feed_forward.w3", "feed_forward.w2"};
  const int64_t outs[] = {4096, 1024, 1024, 4096, 14336, 14336, 4096};
  const int64_t ins[] = {4096, 4096, 4096, 4096, 4096, 4096, 14336};
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(b.linears[i].name, names[i]);
    EXPECT_EQ(b.linears[i].module, std::string("layers.*.") + names[i]);
    EXPECT_EQ(b.linears[i].out_features, outs[i]);
    EXPECT_EQ(b.linears[i].in_features, ins[i]);
    EXPECT_TRUE(b.linears[i].input_needs_grad);
  }
  EXPECT_EQ(b.norms, (std::vector<std::string>{"attention_norm", "ffn_norm"}));
  EXPECT_TRUE(b.attention);
  EXPECT_TRUE(b.residual);
  EXPECT_EQ(b.linear("attention.wk").out_features, 1024);
  EXPECT_THROW(b.linear("attention.wz"), InternalError);
}

TEST(BlockOps, EveryLinearIsAParameterWithTheSameShapeAndAPlanRule) {
  // The table and the parameter list describe the same tensors: each Linear's module is a
  // per-layer parameter of shape (out, in), and the TP plan names it (no silent "replicate").
  for (const char* name : {"llama3-8b", "llama-tiny", "feedforward:64x256"}) {
    const ModelSpec m = resolve_model(name);
    const auto plan = default_tp_plan(m.kind);
    for (const auto& l : block_ops(m).linears) {
      bool found = false;
      for (const auto& t : parameter_tensors(m)) {
        if (t.module != l.module) continue;
        found = true;
        EXPECT_TRUE(t.per_layer) << name << " " << l.module;
        EXPECT_EQ(t.rows, l.out_features) << name << " " << l.module;
        EXPECT_EQ(t.cols, l.in_features) << name << " " << l.module;
      }
      EXPECT_TRUE(found) << name << " " << l.module;
      EXPECT_NE(tp_style_for(plan, l.module), TpStyle::replicate) << name << " " << l.module;
    }
  }
}

TEST(BlockOps, FeedForwardInputIsData) {
  // FeedForward(64, 256): w1, w3 (256 x 64) take the data x (no dgrad); w2 (64 x 256) does not.
  const BlockOps b = block_ops(resolve_model("feedforward:64x256"));
  ASSERT_EQ(b.linears.size(), 3u);
  EXPECT_EQ(b.linears[0].name, "w1");
  EXPECT_EQ(b.linears[1].name, "w3");
  EXPECT_EQ(b.linears[2].name, "w2");
  EXPECT_FALSE(b.linears[0].input_needs_grad);
  EXPECT_FALSE(b.linears[1].input_needs_grad);
  EXPECT_TRUE(b.linears[2].input_needs_grad);
  EXPECT_EQ(b.linears[2].out_features, 64);
  EXPECT_EQ(b.linears[2].in_features, 256);
  EXPECT_TRUE(b.norms.empty());
  EXPECT_FALSE(b.attention);
  EXPECT_EQ(block_module(resolve_model("feedforward:64x256"), "w2"), "w2");
}

}  // namespace
}  // namespace planner
