#include "core/training_spec.h"

#include "core/error.h"
#include "core/limits.h"

namespace planner {

const std::vector<std::string>& precision_names() {
  static const std::vector<std::string> v{"bf16-mixed", "bf16", "fp32"};
  return v;
}
const std::vector<std::string>& reduce_dtype_names() {
  static const std::vector<std::string> v{"auto", "fp32", "bf16"};
  return v;
}
const std::vector<std::string>& loss_dtype_names() {
  static const std::vector<std::string> v{"fp32", "compute"};
  return v;
}
const std::vector<std::string>& tp_input_gather_names() {
  static const std::vector<std::string> v{"shared", "per-linear"};
  return v;
}
const std::vector<std::string>& selective_ac_names() {
  static const std::vector<std::string> v{"keep-matmuls", "torchtitan-op"};
  return v;
}
const std::vector<std::string>& ac_names() {
  static const std::vector<std::string> v{"none", "selective", "full"};
  return v;
}
const std::vector<std::string>& grad_sync_names() {
  static const std::vector<std::string> v{"every", "last"};
  return v;
}

std::string to_string(Precision p) { return precision_names()[static_cast<int>(p)]; }
std::string to_string(ReduceDtype r) { return reduce_dtype_names()[static_cast<int>(r)]; }
std::string to_string(LossDtype l) { return loss_dtype_names()[static_cast<int>(l)]; }
std::string to_string(ActivationCheckpointing a) { return ac_names()[static_cast<int>(a)]; }
std::string to_string(GradSync g) { return grad_sync_names()[static_cast<int>(g)]; }

template <typename E>
static E pick(const std::string& s, const std::vector<std::string>& names, const std::string& where,
              const std::string& field) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == s) return static_cast<E>(i);
  std::string allowed;
  for (const auto& n : names) allowed += (allowed.empty() ? "'" : ", '") + n + "'";
  throw InputError(where, field, "value '" + quote_for_error(s) + "' is not allowed; allowed: " + allowed);
}

Precision precision_from_string(const std::string& s, const std::string& w, const std::string& f) {
  return pick<Precision>(s, precision_names(), w, f);
}
ReduceDtype reduce_dtype_from_string(const std::string& s, const std::string& w, const std::string& f) {
  return pick<ReduceDtype>(s, reduce_dtype_names(), w, f);
}
LossDtype loss_dtype_from_string(const std::string& s, const std::string& w, const std::string& f) {
  return pick<LossDtype>(s, loss_dtype_names(), w, f);
}
std::string to_string(SelectiveAc s) { return selective_ac_names()[static_cast<int>(s)]; }
SelectiveAc selective_ac_from_string(const std::string& s, const std::string& w, const std::string& f) {
  return pick<SelectiveAc>(s, selective_ac_names(), w, f);
}
ActivationCheckpointing ac_from_string(const std::string& s, const std::string& w, const std::string& f) {
  return pick<ActivationCheckpointing>(s, ac_names(), w, f);
}
GradSync grad_sync_from_string(const std::string& s, const std::string& w, const std::string& f) {
  return pick<GradSync>(s, grad_sync_names(), w, f);
}

PrecisionBytes precision_bytes(Precision p) {
  switch (p) {
    case Precision::bf16_mixed: return {4, 4, 4, 2, 4};
    case Precision::bf16: return {2, 2, 2, 2, 2};
    case Precision::fp32: return {4, 4, 4, 4, 4};
  }
  PLANNER_CHECK(false, "unknown precision");
}

PrecisionBytes precision_bytes(const TrainingSpec& t) {
  PrecisionBytes b = precision_bytes(t.precision);
  if (t.reduce_dtype == ReduceDtype::fp32) b.reduce = 4;
  if (t.reduce_dtype == ReduceDtype::bf16) b.reduce = 2;
  return b;
}

Json training_to_json(const TrainingSpec& t) {
  Json j{{"seq_len", t.seq_len},
         {"global_batch", t.global_batch},
         {"precision", to_string(t.precision)},
         {"compiled", t.compiled}};
  // Written only when it is not the precision's own, so documents of runs that do not set it
  // read as before.
  if (t.reduce_dtype != ReduceDtype::automatic) j["reduce_dtype"] = to_string(t.reduce_dtype);
  if (t.loss_dtype != LossDtype::fp32) j["loss_dtype"] = to_string(t.loss_dtype);
  if (!t.tp_plan.loss_parallel) j["loss_parallel"] = false;
  if (!t.tp_plan.shard_embedding) j["shard_embedding"] = false;
  if (t.tp_plan.gather_per_linear) j["tp_input_gather"] = "per-linear";
  if (t.selective_ac != SelectiveAc::keep_matmuls) j["selective_ac"] = to_string(t.selective_ac);
  return j;
}

TrainingSpec training_from_json(const JsonReader& r) {
  r.reject_unknown_keys(
      {"seq_len", "global_batch", "precision", "reduce_dtype", "loss_dtype", "loss_parallel", "shard_embedding",
       "tp_input_gather", "selective_ac", "compiled"});
  TrainingSpec t;
  t.seq_len = r.get_int_in("seq_len", 1, limits::kMaxSeqLen);
  t.global_batch = r.get_int_in("global_batch", 1, limits::kMaxBatch);
  t.precision = precision_from_string(r.get_enum("precision", precision_names(), "bf16-mixed"), r.file(),
                                      r.field_path("precision"));
  t.reduce_dtype = reduce_dtype_from_string(r.get_enum("reduce_dtype", reduce_dtype_names(), "auto"), r.file(),
                                            r.field_path("reduce_dtype"));
  t.loss_dtype = loss_dtype_from_string(r.get_enum("loss_dtype", loss_dtype_names(), "fp32"), r.file(),
                                        r.field_path("loss_dtype"));
  t.tp_plan.loss_parallel = r.get_bool("loss_parallel", true);
  t.tp_plan.shard_embedding = r.get_bool("shard_embedding", true);
  t.tp_plan.gather_per_linear = r.get_enum("tp_input_gather", tp_input_gather_names(), "shared") == "per-linear";
  t.selective_ac = selective_ac_from_string(r.get_enum("selective_ac", selective_ac_names(), "keep-matmuls"), r.file(),
                                            r.field_path("selective_ac"));
  t.compiled = r.get_bool("compiled", false);
  return t;
}

Json plan_to_json(const Plan& p) {
  return Json{{"dp", p.dp},
              {"tp", p.tp},
              {"micro_batch", p.micro_batch},
              {"activation_checkpointing", to_string(p.ac)},
              {"sequence_parallel", p.sequence_parallel},
              {"reshard_after_forward", p.reshard_after_forward},
              {"grad_sync", to_string(p.grad_sync)}};
}

Plan plan_from_json(const JsonReader& r) {
  r.reject_unknown_keys({"dp", "tp", "micro_batch", "activation_checkpointing", "sequence_parallel",
                         "reshard_after_forward", "grad_sync"});
  Plan p;
  p.dp = r.get_int_in("dp", 1, limits::kMaxWorld);
  p.tp = r.get_int_in("tp", 1, limits::kMaxWorld);
  p.micro_batch = r.get_int_in("micro_batch", 1, limits::kMaxBatch, 1);
  p.ac = ac_from_string(r.get_enum("activation_checkpointing", ac_names(), "none"), r.file(),
                        r.field_path("activation_checkpointing"));
  p.sequence_parallel = r.get_bool("sequence_parallel", false);
  p.reshard_after_forward = r.get_bool("reshard_after_forward", true);
  p.grad_sync = grad_sync_from_string(r.get_enum("grad_sync", grad_sync_names(), "every"), r.file(),
                                      r.field_path("grad_sync"));
  return p;
}

std::string plan_label(const Plan& p) {
  return "dp=" + std::to_string(p.dp) + " tp=" + std::to_string(p.tp) + " mb=" + std::to_string(p.micro_batch) +
         " ac=" + to_string(p.ac) + " sp=" + (p.sequence_parallel ? "on" : "off") +
         " reshard=" + (p.reshard_after_forward ? "on" : "off") + " sync=" + to_string(p.grad_sync);
}

}  // namespace planner
