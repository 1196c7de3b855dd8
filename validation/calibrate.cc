#include "validation/calibrate.h"

#include "core/error.h"
#include "validation/calibration.h"

namespace planner::validation {

int run_calibration(const CalibrateOptions& o) {
  if (o.out_path.empty()) throw InputError("--out", "", "required: where to write the profile");
  const executor::MeasureOptions& m = o.measure;
  const executor::CalibrationSamples work = executor::plan_measurement(m);  // InputError on bad options or a bad model
  (void)calibration_base_cluster(o.base_cluster, m.backend, m.ranks);      // and on a bad --base
  return executor::run_measurement(m, work, [&o, &m](const executor::CalibrationSamples& samples) {
    // On rank 0, with every rank's measurements in.
    const ClusterSpec base = calibration_base_cluster(o.base_cluster, m.backend, m.ranks);
    const CalibrationResult res = fit_calibration(base, samples, m.phase_gemms);
    write_calibration(res, samples.host, m.ranks, o.out_path);
    print_calibration_summary(res, samples, m.ranks, o.out_path, o.verbose);
    return 0;
  });
}

}  // namespace planner::validation
