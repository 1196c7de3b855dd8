// `planner calibrate`'s profile from the executor's samples: the fits (validation/fit.h) applied
// to a base cluster, the side document with every sample, its fitted value and residual, and the
// host it was measured on. No LibTorch: the executor measures (executor/measure.h), this fits and
// writes. docs/calibration.md.
#pragma once
#include <string>
#include <vector>

#include "core/cluster_spec.h"
#include "core/json_io.h"
#include "executor/samples.h"
#include "validation/fit.h"

namespace planner::validation {

using executor::CalibrationSamples;
using executor::HostIdentity;

// ---------------- Host identity ----------------
Json host_to_json(const HostIdentity& h);
HostIdentity host_from_json(const JsonReader& r);
// "" when same machine; otherwise which field differs, quoting both values.
std::string host_mismatch(const HostIdentity& profile, const HostIdentity& here);
// The side document next to a profile: "profile.json" -> "profile.calibration.json".
std::string calibration_doc_path(const std::string& profile_path);

// ---------------- The fit ----------------
// The cluster the fits start from (its device peaks and inter-node link are kept): base_cluster
// "" = this host's CPU/Gloo profile for `ranks` ranks (the only choice with --backend gloo's
// default); otherwise a preset or `planner probe --as-cluster` file, as one node of `ranks`.
// InputError names --base.
ClusterSpec calibration_base_cluster(const std::string& base_cluster, const std::string& backend, int ranks);

// The fitted profile: base cluster with the fitted efficiency, memory bandwidth and intra-node link.
// eager_op_s > 0: the measured fixed cost of an eager op in training (efficiency.op_overhead_s);
// 0 keeps the GEMM fit's per-call overhead there.
struct CalibrationResult {
  ClusterSpec profile;
  Json document;  // "planner-calibration/1": host, raw samples, fits, residuals
};
CalibrationResult fit_calibration(const ClusterSpec& base, const HostIdentity& host,
                                  const std::vector<GemmSample>& gemms, const std::vector<GemmSample>& attention,
                                  const std::vector<MemorySample>& memory,
                                  const std::vector<CollectiveSample>& collectives, double eager_op_s = 0,
                                  const std::vector<OverlapSample>& overlaps = {});
// fit_calibration of one calibration's samples; the document also records the threads per rank
// and the compute phases (--phase-gemms) the collectives were timed after.
CalibrationResult fit_calibration(const ClusterSpec& base, const CalibrationSamples& s, const std::vector<int>& phase_gemms);

// Writes the side document (calibration_doc_path(out_path)) and then the profile, each atomically:
// the profile's rename commits the calibration. The profile's "source" names the host, the ranks,
// the date and the side document.
void write_calibration(const CalibrationResult& r, const HostIdentity& host, int ranks, const std::string& out_path);
// The readable summary on stdout: each fit with its residuals, the collectives per kind and group,
// every collective sample with verbose, the overlap samples.
void print_calibration_summary(const CalibrationResult& r, const CalibrationSamples& s, int ranks,
                               const std::string& out_path, bool verbose);

// ---------------- The host's speed now ----------------
// Calibration time over probe time (> 1: the host ran faster than when calibrated), the geometric
// mean over the probes the calibration document also measured; 0 when it measured none of them.
// `probe`: a run record's speed_probe (`planner train --speed-probe`, executor/measure.h).
double speed_vs_calibration(const Json& calibration_doc, const Json& probe);

// Before `planner calibrate` measures: a warning when the host is busy (the 1-minute load average,
// less the ranks calibrate starts itself, above half the cores): other work slows the GEMM and
// collective samples and the profile with them. "" when the load is low.
std::string busy_host_warning(double load_avg_1min, int64_t cores);

}  // namespace planner::validation
