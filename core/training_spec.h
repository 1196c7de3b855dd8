// What the user trains with (TrainingSpec) and how one candidate splits it (Plan).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/parallel_plan.h"

namespace planner {

enum class Precision {
  bf16_mixed,  // FSDP2 MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32): fp32 master
               // params, grads and AdamW states; bf16 compute and all-gather; fp32 reduce-scatter
  bf16,        // everything bf16: params, grads, AdamW states, collectives
  fp32,        // everything fp32
};

// The dtype gradients are reduce-scattered in (FSDP2 MixedPrecisionPolicy.reduce_dtype).
enum class ReduceDtype {
  automatic,  // the precision's own: fp32 for bf16-mixed and fp32, bf16 for bf16
  fp32,       // e.g. bf16 params and states with fp32 gradient reduction (KempnerForge)
  bf16,       // e.g. fp32 master weights with bf16 gradient reduction (fms-fsdp, Composer PURE)
};

// The dtype the cross-entropy loss runs in (the model's output recipe, not searched).
enum class LossDtype {
  fp32,     // the model returns logits.float() and the loss runs on them (torchtitan's Transformer,
            // Lightning's example)
  compute,  // the loss takes the logits as the output matmul gave them, bf16 under bf16 or
            // bf16-mixed (KempnerForge: F.cross_entropy on its OutputHead's output)
};

enum class ActivationCheckpointing {
  none,       // every op's saved tensors kept for backward
  selective,  // matmul and attention outputs kept, norms and elementwise ops recomputed
  full,       // only each block's input kept, the block recomputed in backward
};

// What `ac = selective` keeps (the framework's policy, not searched).
enum class SelectiveAc {
  keep_matmuls,   // every matmul and attention output kept, norms and elementwise ops recomputed
                  // (the executor's, Megatron-like)
  torchtitan_op,  // torchtitan's op-level policy: mm, SDPA and reduce-scatter outputs saved
                  // except every second mm of a block (wk, wo, w3 recomputed), the rest recomputed
};

enum class GradSync {
  every_micro_batch,  // reduce-scatter after every micro-batch's backward
  last_micro_batch,   // no_sync for all but the last: unsharded grads stay allocated in between
};

struct TrainingSpec {
  int64_t seq_len = 2048;       // tokens per sequence (feedforward: rows per sample, usually 1)
  int64_t global_batch = 512;   // sequences per optimizer step, across all dp ranks
  Precision precision = Precision::bf16_mixed;
  ReduceDtype reduce_dtype = ReduceDtype::automatic;
  LossDtype loss_dtype = LossDtype::fp32;
  SelectiveAc selective_ac = SelectiveAc::keep_matmuls;
  // The vocabulary ends of the TP plan (the framework's choice, not searched).
  TpPlanOptions tp_plan;
  // torch.compile fuses RMSNorm and the elementwise ops (fewer saved tensors, fewer passes over
  // memory). Off: eager kernels, as PyTorch runs them by default and as our LibTorch executor runs.
  bool compiled = false;
};

// One candidate: the 2D split and the knobs. Ranks are laid out as (dp, tp) with TP groups of
// consecutive ranks (Lightning's ModelParallelStrategy).
struct Plan {
  int64_t dp = 1;
  int64_t tp = 1;
  int64_t micro_batch = 1;  // sequences per dp rank per forward/backward
  ActivationCheckpointing ac = ActivationCheckpointing::none;
  bool sequence_parallel = false;
  bool reshard_after_forward = true;
  GradSync grad_sync = GradSync::every_micro_batch;

  int64_t world() const { return dp * tp; }
  // gradient accumulation steps = global / (dp * micro_batch)
  int64_t grad_accum(const TrainingSpec& t) const { return t.global_batch / (dp * micro_batch); }
};

std::string to_string(Precision p);
std::string to_string(ReduceDtype r);
std::string to_string(LossDtype l);
std::string to_string(ActivationCheckpointing a);
std::string to_string(GradSync g);
const std::vector<std::string>& precision_names();
const std::vector<std::string>& reduce_dtype_names();  // "auto", "fp32", "bf16"
const std::vector<std::string>& loss_dtype_names();    // "fp32", "compute"
const std::vector<std::string>& tp_input_gather_names();  // "shared", "per-linear" (TpPlanOptions)
const std::vector<std::string>& selective_ac_names();     // "keep-matmuls", "torchtitan-op"
std::string to_string(SelectiveAc s);
SelectiveAc selective_ac_from_string(const std::string& s, const std::string& where, const std::string& field);
const std::vector<std::string>& ac_names();
const std::vector<std::string>& grad_sync_names();
Precision precision_from_string(const std::string& s, const std::string& where, const std::string& field);
ReduceDtype reduce_dtype_from_string(const std::string& s, const std::string& where, const std::string& field);
LossDtype loss_dtype_from_string(const std::string& s, const std::string& where, const std::string& field);
ActivationCheckpointing ac_from_string(const std::string& s, const std::string& where, const std::string& field);
GradSync grad_sync_from_string(const std::string& s, const std::string& where, const std::string& field);

// Bytes per element of each tensor class under a precision policy.
struct PrecisionBytes {
  int master_param;   // sharded parameter kept by the optimizer
  int grad;           // sharded gradient after reduce-scatter
  int optimizer_state;  // each of AdamW's exp_avg and exp_avg_sq
  int compute;        // all-gathered params, activations, unsharded grads
  int reduce;         // reduce-scatter payload
};
PrecisionBytes precision_bytes(Precision p);
// The precision's bytes with the training's reduce dtype (reduce; the rest is the precision's).
PrecisionBytes precision_bytes(const TrainingSpec& t);

Json training_to_json(const TrainingSpec& t);
TrainingSpec training_from_json(const JsonReader& r);
Json plan_to_json(const Plan& p);
Plan plan_from_json(const JsonReader& r);
std::string plan_label(const Plan& p);  // "dp=2 tp=2 mb=1 ac=none sp=off reshard=on sync=every"

}  // namespace planner
