#include "validation/rescore.h"

#include <cmath>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/model_spec.h"
#include "core/training_spec.h"
#include "simulator/simulator.h"
#include "topology/cluster_presets.h"
#include "validation/score.h"

namespace planner::validation {

namespace {
// A regular file this process may read (a FIFO of that name would block an open).
bool file_readable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), R_OK) == 0;
}
}  // namespace

static Json rescore_checked(const Json& doc, const std::string& source, const ClusterSpec& cluster,
                            const std::string& cluster_source);

Json rescore_validation(const Json& doc, const std::string& source, const ClusterSpec& cluster,
                        const std::string& cluster_source) {
  try {
    return rescore_checked(doc, source, cluster, cluster_source);
  } catch (const Json::exception& e) {  // a value of the wrong type that the typed getters did not see
    throw json_exception_error(e, source, "not a valid planner-validate/1 document: ");
  }
}

static Json rescore_checked(const Json& doc, const std::string& source, const ClusterSpec& cluster,
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

int run_rescore(const RescoreOptions& a) {
  Json stored = read_json_file(a.stored);
  ClusterSpec cluster = resolve_cluster(a.cluster, "--cluster");
  Json doc = rescore_validation(stored, a.stored, cluster, a.cluster);
  std::string out = a.out;
  if (out.empty()) {
    out = a.stored;
    if (out.size() > 5 && out.compare(out.size() - 5, 5, ".json") == 0) out.resize(out.size() - 5);
    out += ".rescored.json";
  }
  if (out == a.stored)
    throw InputError("--out", "", "'" + out + "' is the validation being rescored: write the rescored one elsewhere");
  std::printf("rescored %s (%s, %lld ranks) with %s: measured as stored, predicted by this build\n", a.stored.c_str(),
              doc.at("model").get<std::string>().c_str(), static_cast<long long>(doc.at("world").get<int64_t>()),
              a.cluster.c_str());
  print_validate_table(doc);
  write_file_atomic(out, doc.dump(2) + "\n");
  const bool pass = doc.at("pass").get<bool>();
  std::printf("%s: mean |step time error| %.1f%%; wrote %s\n", pass ? "PASS" : "FAIL", 100 * mean_abs_step_time_error(doc),
              out.c_str());
  std::fflush(stdout);
  return pass ? 0 : 1;
}

}  // namespace planner::validation
