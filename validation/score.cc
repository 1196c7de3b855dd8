#include "validation/score.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace planner::validation {

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

void print_validate_table(const Json& doc) {
  const Json& th = doc.at("thresholds");
  const double max_mem = th.at("max_memory_error").get<double>(), max_step = th.at("max_step_time_error").get<double>();
  std::printf("%-10s %14s %14s %8s   %11s %11s %8s   %11s %11s\n", "split", "pred peak MiB", "meas peak MiB", "mem err",
              "pred step s", "meas step s", "time err", "pred comm s", "meas comm s");
  auto label = [](const Json& plan) {
    return "dp=" + std::to_string(plan.at("dp").get<int64_t>()) + " tp=" + std::to_string(plan.at("tp").get<int64_t>());
  };
  for (const auto& r : doc.at("rows")) {
    const Json& pr = r.at("predicted");
    const double pm = pr.at("peak_allocated_bytes").get<double>(), ps = pr.at("step_s").get<double>(),
                 pc = pr.at("comm_s").get<double>();
    if (!r.contains("measured")) {
      std::printf("%-10s %14.3f %14s %8s   %11.4f %11s %8s   %11.4f %11s\n", label(r.at("plan")).c_str(), pm / 1048576.0,
                  "failed", "", ps, "failed", "", pc, "failed");
      continue;
    }
    const Json& m = r.at("measured");
    const double me = r.at("memory_error").get<double>(), te = r.at("step_time_error").get<double>();
    const bool ok = std::fabs(me) <= max_mem && std::fabs(te) <= max_step;
    // Documents written before validate measured the time in collectives have no comm_s.
    char meas_comm[32] = "-";
    if (m.contains("comm_s")) std::snprintf(meas_comm, sizeof meas_comm, "%.4f", m.at("comm_s").get<double>());
    std::printf("%-10s %14.3f %14.3f %+7.2f%%   %11.4f %11.4f %+7.1f%%   %11.4f %11s%s\n", label(r.at("plan")).c_str(),
                pm / 1048576.0, m.at("peak_allocated_bytes").get<double>() / 1048576.0, 100 * me, ps,
                m.at("step_s").get<double>(), 100 * te, pc, meas_comm, ok ? "" : "  <- past threshold");
  }
  std::printf("(comm: time in collectives per step; measured, the mean over ranks of the time spent waiting in them)\n");
  bool speeds = false;
  for (const auto& r : doc.at("rows"))
    if (r.contains("measured") && r.at("measured").contains("host_speed")) speeds = true;
  if (speeds) {
    // Not part of the verdict: it tells a model error from a host that changed speed since calibrate.
    std::printf("host speed during each split's median round against during the calibration (calibrate's eager-op and GEMM probes\n"
                "timed right before training; 1.00 = as calibrated, below 1 slower):");
    for (const auto& r : doc.at("rows"))
      if (r.contains("measured") && r.at("measured").contains("host_speed"))
        std::printf(" %s %.2fx", label(r.at("plan")).c_str(), r.at("measured").at("host_speed").get<double>());
    std::printf("\n");
    // A split that missed the step-time threshold while the host ran further from its calibrated
    // speed than that same threshold: the prediction was for another host speed.
    std::string drifted;
    for (const auto& r : doc.at("rows")) {
      if (!r.contains("measured") || !r.at("measured").contains("host_speed")) continue;
      const double hs = r.at("measured").at("host_speed").get<double>();
      if (std::fabs(r.at("step_time_error").get<double>()) > max_step && std::fabs(hs - 1.0) > max_step) {
        char one[64];
        std::snprintf(one, sizeof one, "%s%s (%.2fx)", drifted.empty() ? "" : ", ", label(r.at("plan")).c_str(), hs);
        drifted += one;
      }
    }
    if (!drifted.empty())
      std::printf("note: these splits missed the step-time threshold while the host ran more than %.0f%% away from its\n"
                  "calibrated speed: %s. Those misses are the host's change as much as the model's:\n"
                  "calibrate and validate again on a steady host (docs/calibration.md, \"Host speed\")\n",
                  100 * max_step, drifted.c_str());
  }
  if (doc.contains("predicted_best"))
    std::printf("predicted best: %s; measured best: %s (the predicted best is %.1f%% slower than the measured best; limit %.0f%%)\n",
                label(doc.at("predicted_best")).c_str(), label(doc.at("measured_best")).c_str(),
                100 * doc.at("ranking_gap").get<double>(), 100 * th.at("max_ranking_gap").get<double>());
}
}  // namespace planner::validation
