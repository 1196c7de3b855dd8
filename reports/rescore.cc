#include "reports/rescore.h"

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/model_spec.h"
#include "core/training_spec.h"
#include "simulator/simulator.h"

namespace planner {

namespace {
bool file_readable(const std::string& path) { return std::ifstream(path).good(); }
}  // namespace

Json rescore_validation(const Json& doc, const std::string& source, const ClusterSpec& cluster,
                        const std::string& cluster_source) {
  JsonReader r(doc, source);
  if (r.get_string("format", "") != "planner-validate/1")
    throw InputError(source, "format", "expected 'planner-validate/1', got '" + r.get_string("format", "") + "'");
  std::string model_name = r.get_string("model");
  // A model given as a config.json path: as stored, else the file of that name beside the
  // document or in a models/ folder beside it (a validation moved from the machine it ran on).
  if (model_name.size() > 5 && model_name.compare(model_name.size() - 5, 5, ".json") == 0 && !file_readable(model_name)) {
    const auto cut = [](const std::string& path) {
      const auto slash = path.find_last_of('/');
      return slash == std::string::npos ? std::make_pair(std::string("."), path)
                                        : std::make_pair(path.substr(0, slash), path.substr(slash + 1));
    };
    const std::string dir = cut(source).first, base = cut(model_name).second;
    for (const std::string& candidate : {dir + "/" + base, dir + "/models/" + base})
      if (file_readable(candidate)) {
        model_name = candidate;
        break;
      }
  }
  ModelSpec model = resolve_model(model_name, source + ": model");
  validate_model(model, source + ": model");
  TrainingSpec training = training_from_json(r.child("training"));
  const int64_t world = r.get_int("world", 1);
  if (world != cluster.world())
    throw InputError(cluster_source, "gpus_per_node",
                     "the profile describes " + std::to_string(cluster.world()) + " ranks but " + source +
                         " validated " + std::to_string(world));
  // A validation measured the executor's runs: price that runtime.
  Simulator sim(model, training, cluster, make_runtime(RuntimeKind::executor, cluster));
  // The verdict is taken under the stored thresholds: present and numbers, or the error names them.
  JsonReader th = r.child("thresholds");
  for (const char* k : {"max_memory_error", "max_step_time_error", "max_ranking_gap"}) th.get_number(k, 0.0, true);
  Json out = doc;
  std::vector<JsonReader> rows = r.children("rows");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Plan p = plan_from_json(rows[i].child("plan"));
    if (rows[i].has("measured")) {
      JsonReader m = rows[i].child("measured");
      m.get_number("peak_allocated_bytes", 0.0);  // present and positive, or the error names them
      m.get_number("step_s", 0.0);
    }
    Candidate c = sim.evaluate(p);
    out["rows"][i]["predicted"] = {{"peak_allocated_bytes", c.prediction.memory.peak_allocated_bytes},
                                   {"step_s", c.prediction.time.step_s},
                                   {"comm_s", c.prediction.time.tp_comm_s + c.prediction.time.fsdp_exposed_s},
                                   {"fits", c.feasible()}};
  }
  score_validation(&out);
  out["rescored"] = {{"from", source}, {"cluster", cluster_source}};
  return out;
}

void score_validation(Json* doc) {
  Json& d = *doc;
  const Json& th = d.at("thresholds");
  const double max_mem = th.at("max_memory_error").get<double>(), max_step = th.at("max_step_time_error").get<double>(),
               max_gap = th.at("max_ranking_gap").get<double>();
  bool pass = true;
  const Json* pbest = nullptr;
  const Json* mbest = nullptr;
  for (Json& row : d.at("rows")) {
    if (!row.contains("measured")) {
      pass = false;  // a split whose run failed fails the validation
      continue;
    }
    const double pm = row.at("predicted").at("peak_allocated_bytes").get<double>();
    const double ps = row.at("predicted").at("step_s").get<double>();
    const double mm = row.at("measured").at("peak_allocated_bytes").get<double>();
    const double ms = row.at("measured").at("step_s").get<double>();
    const double me = (pm - mm) / mm, te = (ps - ms) / ms;
    row["memory_error"] = me;
    row["step_time_error"] = te;
    if (std::fabs(me) > max_mem || std::fabs(te) > max_step) pass = false;
    if (!pbest || ps < pbest->at("predicted").at("step_s").get<double>()) pbest = &row;
    if (!mbest || ms < mbest->at("measured").at("step_s").get<double>()) mbest = &row;
  }
  if (pbest) {
    d["predicted_best"] = pbest->at("plan");
    d["measured_best"] = mbest->at("plan");
    const double pb = pbest->at("measured").at("step_s").get<double>(), mb = mbest->at("measured").at("step_s").get<double>();
    const double gap = (pb - mb) / mb;  // measured step of the predicted best vs the measured best
    d["ranking_gap"] = gap;
    if (gap > max_gap) pass = false;
  } else {
    pass = false;
  }
  d["pass"] = pass;
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
