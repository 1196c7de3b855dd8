#include "core/parallel_plan.h"

#include "core/error.h"

namespace planner {

std::string to_string(TpStyle s) {
  switch (s) {
    case TpStyle::replicate: return "replicate";
    case TpStyle::colwise: return "colwise";
    case TpStyle::rowwise: return "rowwise";
  }
  return "?";
}

std::vector<TpRule> default_tp_plan(ModelKind kind, const TpPlanOptions& options) {
  if (kind == ModelKind::feedforward)
    return {{"w1", TpStyle::colwise}, {"w2", TpStyle::rowwise}, {"w3", TpStyle::colwise}};
  return {
      {"tok_embeddings", options.shard_embedding ? TpStyle::rowwise : TpStyle::replicate},
      {"layers.*.attention_norm", TpStyle::replicate},
      {"layers.*.attention.wq", TpStyle::colwise},
      {"layers.*.attention.wk", TpStyle::colwise},
      {"layers.*.attention.wv", TpStyle::colwise},
      {"layers.*.attention.wo", TpStyle::rowwise},
      {"layers.*.ffn_norm", TpStyle::replicate},
      {"layers.*.feed_forward.w1", TpStyle::colwise},
      {"layers.*.feed_forward.w2", TpStyle::rowwise},
      {"layers.*.feed_forward.w3", TpStyle::colwise},
      {"norm", TpStyle::replicate},
      {"output", TpStyle::colwise},
  };
}

TpStyle tp_style_for(const std::vector<TpRule>& plan, const std::string& module) {
  for (const auto& r : plan)
    if (r.module == module) return r.style;
  return TpStyle::replicate;
}

int tp_shard_dim(TpStyle style, ModuleType type) {
  if (style == TpStyle::replicate || type == ModuleType::norm) return -1;
  if (type == ModuleType::embedding) return 0;  // vocab
  return style == TpStyle::colwise ? 0 : 1;     // nn.Linear weight is (out, in)
}

bool tp_local_shape(const TensorSpec& t, TpStyle style, int64_t tp, LocalShape* out, std::string* why) {
  PLANNER_CHECK(tp >= 1, "tp=" << tp);
  out->rows = t.rows;
  out->cols = t.cols;
  int d = tp_shard_dim(style, t.type);
  if (d < 0 || tp == 1) return true;
  int64_t& n = d == 0 ? out->rows : out->cols;
  if (n % tp != 0) {
    if (why)
      *why = "tp(" + std::to_string(tp) + ") does not divide " + t.module + " dim " + std::to_string(d) +
             " (" + std::to_string(n) + ")";
    return false;
  }
  n /= tp;
  return true;
}

int64_t fsdp_shard_numel(const LocalShape& s, int64_t dp) {
  PLANNER_CHECK(dp >= 1, "dp=" << dp);
  return ((s.rows + dp - 1) / dp) * s.cols;
}

}  // namespace planner
