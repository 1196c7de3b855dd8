#include "simulator/timeline.h"

#include <algorithm>
#include <cmath>

namespace planner {

namespace {

// The comm stream: one queue, collectives in issue order (docs/cost-model.md, "Timeline").
struct CommStream {
  double free_at = 0;
  double issue(double ready_s, double duration_s) {
    const double start = std::max(free_at, ready_s);
    free_at = start + duration_s;
    return free_at;
  }
};

}  // namespace

StepTimes schedule_step(const UnitCosts& u, const TimelineSpec& spec, std::vector<TraceEvent>* trace) {
  const UnitTimes& blk = u.block;
  const UnitTimes& pre = u.pre;
  const UnitTimes& post = u.post;
  const double ag_block = u.ag_block_s, ag_block_pack = u.ag_block_pack_s;
  const double ag_root = u.ag_root_s, ag_root_pack = u.ag_root_pack_s;
  const double rs_block = u.rs_block_s, rs_root = u.rs_root_s;
  const double opt_s = u.optimizer_s;
  const int64_t L = spec.n_layers;
  const int64_t ga = spec.grad_accum;
  const bool llama = spec.llama;
  const bool has_root = spec.has_root;
  const bool overlap = spec.comm_overlaps_compute;
  const bool gloo_prefetch = spec.gloo_prefetch;
  const double ag_hidden_given = spec.ag_hidden_fraction;

  auto micro_step = [&](bool sync, int64_t mb_index, double t0, StepTimes* st) -> double {
    double t = t0;
    CommStream comm;
    comm.free_at = t0;
    // Event names are built only when tracing (the hot path must not allocate).
    auto ev = [&](const char* what, int64_t layer, const char* stream, double start, double dur) {
      if (!trace || dur <= 0) return;
      std::string name = what;
      if (layer >= 0) name += llama ? " layers." + std::to_string(layer) : " feed_forward";
      trace->push_back({name, stream, start, dur, mb_index});
    };
    // Run a collective: on the comm stream (overlapped) or inline on the compute stream.
    auto collective = [&](const char* name, int64_t layer, double ready, double dur) -> double {
      if (!overlap) {
        const double start = std::max(ready, t);
        ev(name, layer, "compute", start, dur);
        t = start + dur;
        st->exposed_s += dur;
        return t;
      }
      const double end = comm.issue(ready, dur);
      ev(name, layer, "comm", end - dur, dur);
      return end;
    };
    auto wait_for = [&](double ready) {
      if (ready > t) {
        st->exposed_s += ready - t;
        t = ready;
      }
    };
    auto compute = [&](const char* name, int64_t layer, double math_s, double tp_s, double* bucket) {
      ev(name, layer, "compute", t, math_s + tp_s);
      t += math_s + tp_s;
      *bucket += math_s;
      st->tp_s += tp_s;
    };
    auto inline_comm = [&](const char* name, int64_t layer, double dur) {
      if (dur <= 0) return;
      ev(name, layer, "compute", t, dur);
      t += dur;
      st->exposed_s += dur;
    };
    // An FSDP all-gather: returns when its unit can be used (packing done where it is inline).
    // tp_window_s: the TP collectives' time in the compute that runs before it is waited for.
    auto gather = [&](const char* name, int64_t layer, double ready, double wire_s, double pack_s,
                      double tp_window_s) -> double {
      if (!gloo_prefetch && !overlap) return collective(name, layer, ready, wire_s + pack_s);
      const double issued = std::max(ready, t);
      const double hidden_s = ag_hidden_given >= 0 ? ag_hidden_given * wire_s
                              : gloo_prefetch     ? std::min(wire_s, tp_window_s)
                                                  : wire_s;
      inline_comm(name, layer, wire_s - hidden_s);  // the part that does not hide
      const double end = comm.issue(issued, gloo_prefetch ? wire_s : wire_s + pack_s);
      ev(name, layer, "comm", end - wire_s, wire_s);
      return end;
    };
    auto unpack = [&](const char* name, int64_t layer, double pack_s) {
      if (gloo_prefetch) inline_comm(name, layer, pack_s);
    };
    auto reduce = [&](const char* name, int64_t layer, double dur) {
      if (!gloo_prefetch) {
        collective(name, layer, t, dur);
        return;
      }
      wait_for(comm.free_at);  // Gloo runs a group's collectives in order: the prefetch first
      inline_comm(name, layer, dur);
      comm.free_at = t;
    };
    // Forward.
    double root_ready = t;
    if (has_root) {
      root_ready = gather("AG root", -1, t, ag_root, ag_root_pack, 0.0);  // waited for at once
      st->ag_s += ag_root + ag_root_pack;
      if (gloo_prefetch) {  // the executor gathers the root, then prefetches the first block
        wait_for(root_ready);
        unpack("unpack root", -1, ag_root_pack);
      }
    }
    // Prefetched with the root, in flight during the embedding.
    double next_ag = gather("AG", 0, t, ag_block, ag_block_pack, has_root ? pre.fwd_tp_s : 0.0);
    st->ag_s += ag_block + ag_block_pack;
    if (has_root) {
      wait_for(root_ready);
      compute("F tok_embeddings", -1, pre.fwd_s, pre.fwd_tp_s, &st->fwd_s);
    }
    double prev_t = 0, prev_c = 0, prev_x = 0, d_t = -1, d_c = -1, d_x = -1;
    for (int64_t i = 0; i < L; ++i) {
      wait_for(next_ag);
      unpack("unpack", i, ag_block_pack);
      const double start = t;
      if (i + 1 < L) {
        next_ag = gather("AG", i + 1, start, ag_block, ag_block_pack, blk.fwd_tp_s);
        st->ag_s += ag_block + ag_block_pack;
      }
      compute("F", i, blk.fwd_s, blk.fwd_tp_s, &st->fwd_s);
      // Identical layers reach a periodic state: extrapolate the rest (not when tracing).
      if (!trace && overlap && i >= 2 && i + 2 < L) {
        const double nt = t - prev_t, nc = comm.free_at - prev_c, nx = st->exposed_s - prev_x;
        if (std::fabs(nt - d_t) < 1e-12 && std::fabs(nc - d_c) < 1e-12 && std::fabs(nx - d_x) < 1e-12) {
          const double k = static_cast<double>(L - 2 - i);  // layers i+1 .. L-2 advance by the period
          t += k * nt;
          comm.free_at += k * nc;
          next_ag += k * nc;
          st->exposed_s += k * nx;
          st->fwd_s += k * blk.fwd_s;
          st->tp_s += k * blk.fwd_tp_s;
          st->ag_s += k * (ag_block + ag_block_pack);
          i = L - 2;
          prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
          continue;
        }
        d_t = nt; d_c = nc; d_x = nx;
      } else if (i >= 1) {
        d_t = t - prev_t; d_c = comm.free_at - prev_c; d_x = st->exposed_s - prev_x;
      }
      prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
    }
    compute(has_root ? "F norm+output+loss" : "F loss", -1, post.fwd_s, post.fwd_tp_s, &st->fwd_s);
    // Backward.
    double ready = t;
    // The executor gathers the last block when its output's gradient arrives, after the loss.
    if (spec.reshard_after_forward && L > 0 && !gloo_prefetch) {
      ready = gather("AG (bwd)", L - 1, t, ag_block, ag_block_pack, post.bwd_tp_s);
      st->ag_s += ag_block + ag_block_pack;
    }
    compute(has_root ? "B norm+output+loss" : "B loss", -1, post.bwd_s, post.bwd_tp_s, &st->bwd_s);
    if (spec.reshard_after_forward && L > 0 && gloo_prefetch) {
      ready = gather("AG (bwd)", L - 1, t, ag_block, ag_block_pack, 0.0);  // waited for at once
      st->ag_s += ag_block + ag_block_pack;
    }
    prev_t = prev_c = prev_x = 0; d_t = d_c = d_x = -1;
    for (int64_t i = L - 1; i >= 0; --i) {
      wait_for(ready);
      if (spec.reshard_after_forward) unpack("unpack (bwd)", i, ag_block_pack);
      const double start = t;
      if (spec.reshard_after_forward && i >= 1) {
        ready = gather("AG (bwd)", i - 1, start, ag_block, ag_block_pack, blk.recompute_tp_s + blk.bwd_tp_s);
        st->ag_s += ag_block + ag_block_pack;
      } else {
        ready = start;
      }
      if (blk.recompute_s + blk.recompute_tp_s > 0) compute("R", i, blk.recompute_s, blk.recompute_tp_s, &st->recompute_s);
      compute("B", i, blk.bwd_s, blk.bwd_tp_s, &st->bwd_s);
      if (sync) {
        reduce("RS", i, rs_block);
        st->rs_s += rs_block;
      }
      const int64_t j = L - 1 - i;  // layers done
      if (!trace && overlap && j >= 2 && i >= 2) {
        const double nt = t - prev_t, nc = comm.free_at - prev_c, nx = st->exposed_s - prev_x;
        if (std::fabs(nt - d_t) < 1e-12 && std::fabs(nc - d_c) < 1e-12 && std::fabs(nx - d_x) < 1e-12) {
          const double k = static_cast<double>(i - 1);  // layers i-1 .. 1 advance by the period
          t += k * nt;
          comm.free_at += k * nc;
          ready += k * nt;
          st->exposed_s += k * nx;
          st->bwd_s += k * blk.bwd_s;
          st->recompute_s += k * blk.recompute_s;
          st->tp_s += k * (blk.bwd_tp_s + blk.recompute_tp_s);
          if (spec.reshard_after_forward) st->ag_s += k * (ag_block + ag_block_pack);
          if (sync) st->rs_s += k * rs_block;
          i = 1;
          prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
          continue;
        }
        d_t = nt; d_c = nc; d_x = nx;
      } else if (j >= 1) {
        d_t = t - prev_t; d_c = comm.free_at - prev_c; d_x = st->exposed_s - prev_x;
      }
      prev_t = t; prev_c = comm.free_at; prev_x = st->exposed_s;
    }
    if (has_root) {
      compute("B tok_embeddings", -1, pre.bwd_s, pre.bwd_tp_s, &st->bwd_s);
      if (sync) {
        reduce("RS root", -1, rs_root);
        st->rs_s += rs_root;
      }
    }
    wait_for(comm.free_at);  // the step cannot end before its reduce-scatters land
    return t;
  };

  StepTimes st;
  double t = 0;
  if (trace) {
    for (int64_t mb = 0; mb < ga; ++mb) {
      const bool sync = spec.grad_sync == GradSync::every_micro_batch || mb == ga - 1;
      t = micro_step(sync, mb, t, &st);
    }
  } else {
    StepTimes one_sync;
    const double t_sync = micro_step(true, 0, 0.0, &one_sync);
    StepTimes one_nosync;
    double t_nosync = 0;
    const int64_t n_nosync = spec.grad_sync == GradSync::last_micro_batch ? ga - 1 : 0;
    if (n_nosync > 0) t_nosync = micro_step(false, 0, 0.0, &one_nosync);
    const double n_sync = static_cast<double>(ga - n_nosync);
    auto add = [&](const StepTimes& a, double k) {
      st.fwd_s += k * a.fwd_s;
      st.bwd_s += k * a.bwd_s;
      st.recompute_s += k * a.recompute_s;
      st.tp_s += k * a.tp_s;
      st.ag_s += k * a.ag_s;
      st.rs_s += k * a.rs_s;
      st.exposed_s += k * a.exposed_s;
    };
    add(one_sync, n_sync);
    add(one_nosync, static_cast<double>(n_nosync));
    t = n_sync * t_sync + static_cast<double>(n_nosync) * t_nosync;
  }
  if (trace) trace->push_back({"optimizer (AdamW)", "compute", t, opt_s, ga - 1});
  t += opt_s;

  st.step_s = t;
  st.optimizer_s = opt_s;
  return st;
}

}  // namespace planner
