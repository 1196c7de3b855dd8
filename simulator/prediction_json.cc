#include "simulator/prediction_json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace planner {

namespace {

// Any finite number (a document may state a negative one where the simulator never would; it is
// shown as given).
double any_number(const JsonReader& r, const std::string& key, double fallback) {
  return r.has(key) ? r.get_number(key, -std::numeric_limits<double>::max(), true) : fallback;
}
double nonneg(const JsonReader& r, const std::string& key) { return r.get_number(key, 0.0, true); }

std::string num_text(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

// A stated derived field must equal what it is derived from. Planner's own documents match to the
// bit (doubles round-trip through JSON); relative 1e-9 leaves room for a hand-made document's
// rounding and none for a number that was edited or mistyped.
void check_derived(const JsonReader& r, const std::string& key, double stated, double derived, const std::string& formula) {
  if (stated == derived || std::fabs(stated - derived) <= 1e-9 * std::max(std::fabs(stated), std::fabs(derived))) return;
  throw InputError(r.file(), r.field_path(key), "is " + num_text(stated) + " but " + formula + " = " + num_text(derived));
}

// MemoryBreakdown::peak_at points at static text (the simulator's names of its memory instants),
// so the search's hot path carries no string. A name read from a document is kept here for the
// life of the process instead: one entry per distinct name, and there are a handful. std::set
// nodes never move, so the pointers stay valid.
const char* intern_peak_at(const std::string& name) {
  static std::mutex mu;
  static std::set<std::string> names;
  std::lock_guard<std::mutex> lock(mu);
  return names.insert(name).first->c_str();
}

// Every Limit in enum order; a new Limit goes here and into to_string(Limit) (simulator.cc).
constexpr Limit kLimits[] = {Limit::none,      Limit::tp_divisibility, Limit::sp_divisibility, Limit::batch_divisibility,
                             Limit::world_size, Limit::memory,          Limit::backend};

}  // namespace

Json memory_to_json(const MemoryBreakdown& m) {
  return Json{{"master_params_bytes", m.master_params_bytes},
              {"grads_bytes", m.grads_bytes},
              {"optimizer_bytes", m.optimizer_bytes},
              {"gathered_params_bytes", m.gathered_params_bytes},
              {"unsharded_grads_bytes", m.unsharded_grads_bytes},
              {"activations_bytes", m.activations_bytes},
              {"logits_bytes", m.logits_bytes},
              {"comm_buffers_bytes", m.comm_buffers_bytes},
              {"peak_allocated_bytes", m.peak_allocated_bytes},
              {"peak_at", m.peak_at},
              {"allocator_reserve_bytes", m.allocator_reserve_bytes},
              {"runtime_reserved_bytes", m.runtime_reserved_bytes},
              {"total_bytes", m.total_bytes()},
              {"capacity_bytes", m.capacity_bytes},
              {"fits", m.fits()},
              {"tight", m.tight()}};
}

MemoryBreakdown memory_from_json(const JsonReader& r) {
  MemoryBreakdown m;
  // The order of the stacked bar (the first missing or mistyped one is the one reported).
  m.master_params_bytes = nonneg(r, "master_params_bytes");
  m.grads_bytes = nonneg(r, "grads_bytes");
  m.optimizer_bytes = nonneg(r, "optimizer_bytes");
  m.gathered_params_bytes = nonneg(r, "gathered_params_bytes");
  m.unsharded_grads_bytes = nonneg(r, "unsharded_grads_bytes");
  m.activations_bytes = nonneg(r, "activations_bytes");
  m.logits_bytes = nonneg(r, "logits_bytes");
  m.comm_buffers_bytes = nonneg(r, "comm_buffers_bytes");
  m.allocator_reserve_bytes = nonneg(r, "allocator_reserve_bytes");
  m.runtime_reserved_bytes = nonneg(r, "runtime_reserved_bytes");
  m.peak_allocated_bytes = nonneg(r, "peak_allocated_bytes");
  m.capacity_bytes = nonneg(r, "capacity_bytes");
  if (r.has("peak_at")) m.peak_at = intern_peak_at(r.get_string("peak_at"));
  check_derived(r, "total_bytes", nonneg(r, "total_bytes"), m.total_bytes(),
                "peak_allocated_bytes + allocator_reserve_bytes + runtime_reserved_bytes");
  if (r.has("fits") && r.get_bool("fits") != m.fits())
    throw InputError(r.file(), r.field_path("fits"),
                     std::string("is ") + (m.fits() ? "false" : "true") +
                         " but peak_allocated_bytes + runtime_reserved_bytes " + num_text(m.required_bytes()) +
                         (m.fits() ? " <= " : " > ") + "capacity_bytes " + num_text(m.capacity_bytes));
  return m;
}

Json time_to_json(const TimeBreakdown& t) {
  return Json{{"step_s", t.step_s},
              {"forward_s", t.forward_s},
              {"backward_s", t.backward_s},
              {"recompute_s", t.recompute_s},
              {"tp_comm_s", t.tp_comm_s},
              {"fsdp_all_gather_s", t.fsdp_all_gather_s},
              {"fsdp_reduce_scatter_s", t.fsdp_reduce_scatter_s},
              {"fsdp_exposed_s", t.fsdp_exposed_s},
              {"fsdp_overlapped_s", t.fsdp_overlapped_s()},
              {"optimizer_s", t.optimizer_s},
              {"grad_accum", t.grad_accum}};
}

TimeBreakdown time_from_json(const JsonReader& r) {
  TimeBreakdown t;
  t.step_s = nonneg(r, "step_s");
  t.forward_s = nonneg(r, "forward_s");
  t.backward_s = nonneg(r, "backward_s");
  t.recompute_s = nonneg(r, "recompute_s");
  t.tp_comm_s = nonneg(r, "tp_comm_s");
  t.fsdp_all_gather_s = nonneg(r, "fsdp_all_gather_s");
  t.fsdp_reduce_scatter_s = nonneg(r, "fsdp_reduce_scatter_s");
  t.fsdp_exposed_s = nonneg(r, "fsdp_exposed_s");
  if (r.has("fsdp_overlapped_s"))
    check_derived(r, "fsdp_overlapped_s", any_number(r, "fsdp_overlapped_s", 0), t.fsdp_overlapped_s(),
                  "fsdp_all_gather_s + fsdp_reduce_scatter_s - fsdp_exposed_s");
  t.optimizer_s = nonneg(r, "optimizer_s");
  t.grad_accum = r.get_int("grad_accum", 1, 1);
  return t;
}

Json throughput_to_json(const Throughput& t) {
  return Json{{"tokens_per_s", t.tokens_per_s},
              {"tokens_per_s_per_gpu", t.tokens_per_s_per_gpu},
              {"model_flops_per_token", t.model_flops_per_token},
              {"model_tflops_per_gpu", t.model_tflops_per_gpu},
              {"mfu", t.mfu}};
}

Throughput throughput_from_json(const JsonReader& r) {
  Throughput t;
  t.tokens_per_s = nonneg(r, "tokens_per_s");
  t.tokens_per_s_per_gpu = any_number(r, "tokens_per_s_per_gpu", 0);
  t.model_tflops_per_gpu = any_number(r, "model_tflops_per_gpu", 0);
  t.mfu = any_number(r, "mfu", 0);
  t.model_flops_per_token = any_number(r, "model_flops_per_token", 0);
  return t;
}

bool has_prediction(const Candidate& c) { return c.feasible() || c.limit == Limit::memory; }

Json candidate_to_json(const Candidate& c) {
  Json j{{"plan", plan_to_json(c.plan)}, {"feasible", c.feasible()}, {"limit", to_string(c.limit)}};
  if (!c.feasible()) j["reason"] = c.reason;
  if (has_prediction(c)) {
    j["memory"] = memory_to_json(c.prediction.memory);
    j["time"] = time_to_json(c.prediction.time);
    j["throughput"] = throughput_to_json(c.prediction.throughput);
  }
  return j;
}

Candidate candidate_from_json(const JsonReader& r) {
  Candidate c;
  c.plan = plan_from_json(r.child("plan"));
  const bool feasible = r.get_bool("feasible");
  c.limit = limit_from_string(feasible && !r.has("limit") ? "none" : r.get_enum("limit", limit_names()), r.file(),
                              r.field_path("limit"));
  if (feasible != c.feasible())
    throw InputError(r.file(), r.field_path("feasible"),
                     std::string("is ") + (feasible ? "true" : "false") + " but limit is '" + to_string(c.limit) + "'");
  c.reason = r.get_string("reason", "");
  if (!has_prediction(c)) return c;
  c.prediction.memory = memory_from_json(r.child("memory"));
  c.prediction.time = time_from_json(r.child("time"));
  if (r.has("throughput")) c.prediction.throughput = throughput_from_json(r.child("throughput"));
  if (c.limit == Limit::memory) c.memory_excess_bytes = c.prediction.memory.required_bytes() - c.prediction.memory.capacity_bytes;
  return c;
}

const std::vector<std::string>& limit_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (Limit l : kLimits) v.push_back(to_string(l));
    return v;
  }();
  return names;
}

Limit limit_from_string(const std::string& s, const std::string& where, const std::string& field) {
  for (Limit l : kLimits)
    if (to_string(l) == s) return l;
  std::string allowed;
  for (const auto& n : limit_names()) allowed += (allowed.empty() ? "" : ", ") + n;
  throw InputError(where, field, "'" + s + "' is not one of: " + allowed);
}

}  // namespace planner
