#include "tests/fuzz/targets.h"

#include "core/cluster_spec.h"
#include "core/error.h"
#include "core/model_spec.h"
#include "core/plan_file.h"
#include "topology/node_cluster.h"
#include "reports/gate.h"
#include "reports/report.h"
#include "topology/cluster_presets.h"
#include "topology/probe.h"
#include "validation/rescore.h"

namespace planner::fuzz {

namespace {

Json parse(const std::string& input) { return parse_json_text(input, kInputName); }

// A rejection inside a target that goes on: it must name the input like every other.
void check_names_input(const InputError& e) {
  if (std::string(e.what()).rfind(std::string(kInputName) + ":", 0) != 0)
    throw std::logic_error(std::string("rejection does not name the input: ") + e.what());
}

// A model file as resolve_model reads one: a Hugging Face config.json (it has hidden_size) or
// the model JSON planner writes.
void model_file(const std::string& input) {
  const Json j = parse(input);
  if (j.is_object() && j.contains("hidden_size")) {
    model_from_hf_config(j, kInputName);
  } else {
    model_from_json(JsonReader(j, kInputName));
  }
}

void cluster_file(const std::string& input) { cluster_from_json(JsonReader(parse(input), kInputName)); }

void plan_file(const std::string& input) { plan_file_from_json(parse(input), kInputName); }

// What `probe --as-cluster` does after reading: the cluster file from the topology. The options
// are those of a GPU node (a CPU host also needs --ranks): an error naming a flag is about the
// options, not the input, and ends the run as accepted.
void as_cluster(const topo::NodeTopology& t) {
  topo::ClusterOptions o;
  o.inter_node_gbps = 400;
  o.cpu_ghz = 2;
  o.cpu_fp32_flops_per_cycle = 32;
  try {
    topo::cluster_json_from_topology(t, topo::cluster_from_topology(t, o));
  } catch (const InputError& e) {
    if (std::string(e.what()).rfind("--", 0) != 0) throw;
  }
}

void hwloc_xml(const std::string& input) { as_cluster(topo::topology_from_hwloc_xml(input, kInputName)); }

void smi_topo(const std::string& input) {
  as_cluster(topo::topology_from_smi_topo(input, kInputName, topo::gpu_model_by_key("h100-sxm5-80gb")));
}

// `planner report`: every document kind (plan search, simulate = the prediction JSON, suggest,
// train --record run records, probe, validate, Google Benchmark) to HTML and CSV.
void report(const std::string& input) {
  const Json doc = parse(input);
  reports::render_html_report(doc, kInputName);
  reports::render_csv_report(doc, kInputName);
}

// `planner validate --rescore`: a stored validation re-predicted on a 4-rank CPU profile.
void rescore(const std::string& input) {
  static const ClusterSpec cluster = resolve_cluster("cpu-gloo", "--cluster");
  ClusterSpec c = cluster;
  c.gpus_per_node = 4;
  validation::rescore_validation(parse(input), kInputName, c, "cpu-gloo");
}

// `planner gate`: the input as thresholds, and as the current document against itself.
void gate(const std::string& input) {
  const Json doc = parse(input);
  try {
    reports::read_thresholds(doc, kInputName);
  } catch (const InputError& e) {
    check_names_input(e);  // a thresholds file is rejected properly; the document goes on
  }
  reports::gate_documents(&doc, kInputName, doc, kInputName, reports::GateThresholds{});
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> t{
      {"model", "model JSON and Hugging Face config.json (core/model_spec)", model_file},
      {"cluster", "cluster JSON / calibration profile, planner-cluster/1 (core/cluster_spec)", cluster_file},
      {"plan", "plan file, planner-plan/1 (core/plan_file)", plan_file},
      {"hwloc", "hwloc 2.x topology XML (topology/hwloc_xml_check, libhwloc)", hwloc_xml},
      {"smi", "nvidia-smi topo -m text (topology/smi_topo)", smi_topo},
      {"report", "documents planner report reads: plan, simulate (predictions), suggest, run records, probe, "
                 "validate, benchmark (reports/)", report},
      {"rescore", "planner-validate/1 for validate --rescore (validation/rescore)", rescore},
      {"gate", "gate thresholds and documents (reports/gate)", gate},
  };
  return t;
}

const Target* find_target(const std::string& name) {
  for (const auto& t : targets())
    if (name == t.name) return &t;
  return nullptr;
}

}  // namespace planner::fuzz
