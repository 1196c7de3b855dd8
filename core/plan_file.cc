#include "core/plan_file.h"

#include "core/error.h"
#include "core/limits.h"

namespace planner {

Json plan_file_to_json(const PlanFile& f) {
  Json j{{"format", "planner-plan/1"},
         {"model", model_to_json(f.model)},
         {"training", training_to_json(f.training)},
         {"plan", plan_to_json(f.plan)}};
  if (f.cluster) j["cluster"] = cluster_to_json(*f.cluster);
  if (!f.prediction.is_null()) j["prediction"] = f.prediction;
  return j;
}

PlanFile plan_file_from_json(const Json& j, const std::string& file) {
  JsonReader r(j, file);
  r.reject_unknown_keys({"format", "model", "training", "plan", "cluster", "prediction"});
  std::string fmt = r.get_string("format");
  if (fmt != "planner-plan/1")
    throw InputError(file, "format", "'" + quote_for_error(fmt) + "' is not a plan file this version reads; expected 'planner-plan/1'");
  PlanFile f;
  JsonReader m = r.child("model");
  // parameter_count is informational; drop it before reading.
  Json mj = m.raw();
  mj.erase("parameter_count");
  f.model = model_from_json(JsonReader(mj, file, "model"));
  f.training = training_from_json(r.child("training"));
  f.plan = plan_from_json(r.child("plan"));
  if (r.has("cluster")) f.cluster = cluster_from_json(r.child("cluster"));
  if (r.has("prediction")) f.prediction = r.raw().at("prediction");
  return f;
}

PlanFile read_plan_file(const std::string& path) { return plan_file_from_json(read_json_file(path), path); }

void write_plan_file(const std::string& path, const PlanFile& f) {
  write_file_atomic(path, plan_file_to_json(f).dump(2) + "\n");
}

}  // namespace planner
