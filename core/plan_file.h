// The plan file: what `planner plan --write-plan` writes and `planner train` takes.
//   {"format": "planner-plan/1", "model": {...}, "training": {...}, "plan": {...},
//    "cluster": {...} (optional), "prediction": {...} (optional, informational)}
#pragma once
#include <optional>
#include <string>

#include "core/cluster_spec.h"
#include "core/model_spec.h"
#include "core/training_spec.h"

namespace planner {

struct PlanFile {
  ModelSpec model;
  TrainingSpec training;
  Plan plan;
  std::optional<ClusterSpec> cluster;
  Json prediction;  // null when absent
};

Json plan_file_to_json(const PlanFile& f);
PlanFile plan_file_from_json(const Json& j, const std::string& file);
PlanFile read_plan_file(const std::string& path);
void write_plan_file(const std::string& path, const PlanFile& f);  // atomic

}  // namespace planner
