// Test set-ups: a Simulator for a model on N nodes of a preset, bf16-mixed, eager kernels; the
// fp32 training of the CPU tests.
#pragma once
#include <string>

#include "simulator/simulator.h"
#include "topology/cluster_presets.h"

namespace planner::testing {

inline Simulator preset_simulator(const std::string& model, const std::string& cluster, int64_t nodes,
                                  int64_t seq_len, int64_t global_batch) {
  ClusterSpec c = resolve_cluster(cluster);
  c.num_nodes = nodes;
  TrainingSpec t;
  t.seq_len = seq_len;
  t.global_batch = global_batch;
  return Simulator(resolve_model(model), t, c);
}

// The CPU tests' training set-up: fp32, as the executor trains.
inline TrainingSpec fp32_training(int64_t seq_len, int64_t global_batch) {
  TrainingSpec t;
  t.seq_len = seq_len;
  t.global_batch = global_batch;
  t.precision = Precision::fp32;
  return t;
}

}  // namespace planner::testing
