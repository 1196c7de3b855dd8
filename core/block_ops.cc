#include "core/block_ops.h"

#include "core/error.h"

namespace planner {

const LinearOp& BlockOps::linear(const std::string& name) const {
  for (const auto& l : linears)
    if (l.name == name) return l;
  PLANNER_CHECK(false, "no Linear '" << name << "' in this block");
  return linears.front();  // unreachable
}

std::string block_module(const ModelSpec& m, const std::string& name) {
  return m.kind == ModelKind::llama ? "layers.*." + name : name;
}

BlockOps block_ops(const ModelSpec& m) {
  BlockOps b;
  auto lin = [&](const std::string& name, int64_t out, int64_t in, bool input_needs_grad) {
    b.linears.push_back({block_module(m, name), name, out, in, input_needs_grad});
  };
  if (m.kind == ModelKind::feedforward) {
    // x is the data: w1 and w3 need no dgrad.
    lin("w1", m.ffn_hidden, m.dim, false);
    lin("w3", m.ffn_hidden, m.dim, false);
    lin("w2", m.dim, m.ffn_hidden, true);
    return b;
  }
  lin("attention.wq", m.q_dim(), m.dim, true);
  lin("attention.wk", m.kv_dim(), m.dim, true);
  lin("attention.wv", m.kv_dim(), m.dim, true);
  lin("attention.wo", m.dim, m.q_dim(), true);
  lin("feed_forward.w1", m.ffn_hidden, m.dim, true);
  lin("feed_forward.w3", m.ffn_hidden, m.dim, true);
  lin("feed_forward.w2", m.dim, m.ffn_hidden, true);
  b.norms = {"attention_norm", "ffn_norm"};
  b.attention = true;
  b.residual = true;
  return b;
}

}  // namespace planner
