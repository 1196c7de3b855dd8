#include "reports/rescore.h"

#include <cmath>

#include "core/error.h"
#include "core/json_io.h"
#include "core/model_spec.h"
#include "core/training_spec.h"
#include "simulator/simulator.h"

namespace planner {

Json rescore_validation(const Json& doc, const std::string& source, const ClusterSpec& cluster,
                        const std::string& cluster_source) {
  JsonReader r(doc, source);
  if (r.get_string("format", "") != "planner-validate/1")
    throw InputError(source, "format", "expected 'planner-validate/1', got '" + r.get_string("format", "") + "'");
  const std::string model_name = r.get_string("model");
  ModelSpec model = resolve_model(model_name, source + ": model");
  validate_model(model, source + ": model");
  TrainingSpec training = training_from_json(r.child("training"));
  const int64_t world = r.get_int("world", 1);
  if (world != cluster.world())
    throw InputError(cluster_source, "gpus_per_node",
                     "the profile describes " + std::to_string(cluster.world()) + " ranks but " + source +
                         " validated " + std::to_string(world));
  Simulator sim(model, training, cluster);
  JsonReader th = r.child("thresholds");
  const double max_mem = th.get_number("max_memory_error", 0.0, true);
  const double max_step = th.get_number("max_step_time_error", 0.0, true);
  const double max_gap = th.get_number("max_ranking_gap", 0.0, true);

  Json out = doc;
  bool pass = true;
  const Json* pbest = nullptr;
  const Json* mbest = nullptr;
  std::vector<JsonReader> rows = r.children("rows");
  for (size_t i = 0; i < rows.size(); ++i) {
    Json& row = out["rows"][i];
    const Plan p = plan_from_json(rows[i].child("plan"));
    Candidate c = sim.evaluate(p);
    row["predicted"] = {{"peak_allocated_bytes", c.prediction.memory.peak_allocated_bytes},
                        {"step_s", c.prediction.time.step_s},
                        {"comm_s", c.prediction.time.tp_comm_s + c.prediction.time.fsdp_exposed_s},
                        {"fits", c.feasible()}};
    if (!rows[i].has("measured")) {
      pass = false;  // a run that failed fails the validation, as it did when measured
      continue;
    }
    JsonReader m = rows[i].child("measured");
    const double mem = m.get_number("peak_allocated_bytes", 0.0), step = m.get_number("step_s", 0.0);
    const double me = (c.prediction.memory.peak_allocated_bytes - mem) / mem;
    const double te = (c.prediction.time.step_s - step) / step;
    row["memory_error"] = me;
    row["step_time_error"] = te;
    if (std::fabs(me) > max_mem || std::fabs(te) > max_step) pass = false;
    if (!pbest || c.prediction.time.step_s < (*pbest)["predicted"]["step_s"].get<double>()) pbest = &row;
    if (!mbest || step < (*mbest)["measured"]["step_s"].get<double>()) mbest = &row;
  }
  if (pbest) {
    out["predicted_best"] = (*pbest)["plan"];
    out["measured_best"] = (*mbest)["plan"];
    const double gap = (*pbest)["measured"]["step_s"].get<double>() / (*mbest)["measured"]["step_s"].get<double>() - 1.0;
    out["ranking_gap"] = gap;
    if (gap > max_gap) pass = false;
  } else {
    pass = false;
  }
  out["pass"] = pass;
  out["rescored"] = {{"from", source}, {"cluster", cluster_source}};
  return out;
}

double mean_abs_step_time_error(const Json& validate_doc) {
  double sum = 0;
  int n = 0;
  for (const auto& row : validate_doc.at("rows"))
    if (row.contains("step_time_error")) {
      sum += std::fabs(row.at("step_time_error").get<double>());
      ++n;
    }
  return n ? sum / n : 0.0;
}

}  // namespace planner
