#pragma once
// Template body of for_each_plan (included by search.h).
namespace planner {

template <typename Fn>
void for_each_plan(const TrainingSpec& t, int64_t world, const SearchSpace& space, Fn&& fn) {
  static const std::vector<ActivationCheckpointing> all_acs{ActivationCheckpointing::none,
                                                            ActivationCheckpointing::selective,
                                                            ActivationCheckpointing::full};
  static const std::vector<bool> both{false, true};
  static const std::vector<bool> on_off{true, false};
  static const std::vector<GradSync> all_syncs{GradSync::every_micro_batch, GradSync::last_micro_batch};
  const std::vector<int64_t> tps = space.tps.empty() ? divisors(world) : space.tps;
  const auto& acs = space.acs.empty() ? all_acs : space.acs;
  const auto& sps = space.sequence_parallel.empty() ? both : space.sequence_parallel;
  const auto& reshards = space.reshard_after_forward.empty() ? on_off : space.reshard_after_forward;
  const auto& syncs = space.grad_syncs.empty() ? all_syncs : space.grad_syncs;
  for (int64_t tp : tps) {
    if (tp < 1 || world % tp != 0) continue;
    const int64_t dp = world / tp;
    std::vector<int64_t> mbs;
    if (space.micro_batches.empty()) {
      if (t.global_batch % dp == 0) {
        for (int64_t m : divisors(t.global_batch / dp))
          if (m <= space.max_micro_batch) mbs.push_back(m);
      } else {
        mbs.push_back(1);  // evaluated to report the batch divisibility reason
      }
    } else {
      mbs = space.micro_batches;
    }
    for (int64_t mb : mbs) {
      const int64_t ga = (t.global_batch % (dp * mb) == 0) ? t.global_batch / (dp * mb) : 1;
      for (auto ac : acs)
        for (bool sp : sps) {
          if (sp && tp == 1 && space.sequence_parallel.empty()) continue;  // no-op at tp=1
          for (bool rs : reshards)
            for (auto sync : syncs) {
              if (sync == GradSync::last_micro_batch && ga == 1 && space.grad_syncs.empty()) continue;
              Plan p;
              p.dp = dp;
              p.tp = tp;
              p.micro_batch = mb;
              p.ac = ac;
              p.sequence_parallel = sp;
              p.reshard_after_forward = rs;
              p.grad_sync = sync;
              fn(p);
            }
        }
    }
  }
}

}  // namespace planner
