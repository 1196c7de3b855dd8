#include "simulator/plan_shape.h"

namespace planner {

namespace {
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

TpShapes tp_shapes(const ModelSpec& m, const std::vector<TpRule>& tp_plan, int64_t tp) {
  TpShapes s;
  if (m.kind == ModelKind::llama) {
    if (m.n_heads % tp != 0) {
      s.ok = false;
      s.why = "tp(" + std::to_string(tp) + ") does not divide num_attention_heads (" + std::to_string(m.n_heads) + ")";
    } else if (m.n_kv_heads % tp != 0) {
      s.ok = false;
      s.why = "tp(" + std::to_string(tp) + ") does not divide num_key_value_heads (" + std::to_string(m.n_kv_heads) + ")";
    }
  }
  for (const auto& t : parameter_tensors(m)) {
    LocalShape ls;
    std::string why;
    if (!tp_local_shape(t, tp_style_for(tp_plan, t.module), tp, &ls, &why)) {
      if (s.ok) {
        s.ok = false;
        s.why = why;
      }
      ls = {t.rows, t.cols};
    }
    s.tensors.push_back({ls.rows, ls.cols, t.count, t.per_layer});
    const double numel = static_cast<double>(ls.rows) * static_cast<double>(ls.cols);
    if (t.per_layer)
      s.block_local_numel += numel;
    else
      s.root_local_numel += numel;
    if (t.type == ModuleType::embedding) s.embedding_local_numel += numel;
  }
  return s;
}

FsdpShards fsdp_shards(const TpShapes& s, int64_t dp) {
  FsdpShards f;
  for (const auto& t : s.tensors) {
    const double n = static_cast<double>(ceil_div(t.local_rows, dp) * t.local_cols);
    f.shard_numel += n * t.count;
    if (t.per_layer)
      f.block_shard_numel += n;
    else
      f.root_shard_numel += n;
  }
  f.block_unit_numel = f.block_shard_numel * dp;
  f.root_unit_numel = f.root_shard_numel * dp;
  f.has_root = f.root_unit_numel > 0;
  f.embedding_numel = s.embedding_local_numel;
  return f;
}

PlanShape plan_shape(const ModelSpec& m, const TrainingSpec& t, const Plan& p, const TpShapes& s) {
  PlanShape ps;
  const int64_t tp = p.tp;
  ps.llama = m.kind == ModelKind::llama;
  ps.n_layers = m.n_layers;
  ps.tokens = p.micro_batch * t.seq_len;
  ps.tokens_d = static_cast<double>(ps.tokens);
  ps.grad_accum = p.grad_accum(t);
  ps.sp = p.sequence_parallel && tp > 1;
  ps.bytes = precision_bytes(t);
  LocalDims& d = ps.d;
  d.c = ps.bytes.compute;
  d.h = static_cast<double>(m.dim);
  d.q = ps.llama ? static_cast<double>(m.q_dim()) / tp : 0;
  d.kv = ps.llama ? static_cast<double>(m.kv_dim()) / tp : 0;
  d.f = static_cast<double>(m.ffn_hidden) / tp;
  d.heads = ps.llama ? static_cast<double>(m.n_heads) / tp : 0;
  d.hs = ps.sp ? d.h / tp : d.h;
  d.s = static_cast<double>(t.seq_len);
  d.sp = ps.sp;
  ps.shards = fsdp_shards(s, p.dp);
  return ps;
}

}  // namespace planner
