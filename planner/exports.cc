#include "planner/exports.h"

#include <sstream>

namespace planner {

namespace {

const char* kTorchtitanToml = "torchtitan v0.2.2 (TOML job config, the last TOML release)";
const char* kTorchtitanPy = "torchtitan main after pytorch/torchtitan#2386 (Python config, Trainer.Config)";
const char* kLightning =
    "Lightning >= 2.4 (lightning.pytorch ModelParallelStrategy) with PyTorch >= 2.6 (public fully_shard and DTensor)";

// The dtype gradients are reduce-scattered in once "auto" is resolved.
bool reduces_in_bf16(const TrainingSpec& t) {
  if (t.reduce_dtype == ReduceDtype::bf16) return true;
  return t.reduce_dtype == ReduceDtype::automatic && t.precision == Precision::bf16;
}

const char* py_bool(bool b) { return b ? "True" : "False"; }
const char* toml_bool(bool b) { return b ? "true" : "false"; }

// torchtitan's llama3 flavors ("8B", "70B", "405B") for our presets; "" when the model is not one.
std::string torchtitan_flavor(const ModelSpec& m) {
  if (m.kind != ModelKind::llama) return "";
  if (m.name == "llama3-8b" || m.name == "llama3.1-8b") return "8B";
  if (m.name == "llama3-70b" || m.name == "llama3.1-70b") return "70B";
  if (m.name == "llama3-405b" || m.name == "llama3.1-405b") return "405B";
  return "";
}

std::string header_comment(const Plan& p, const TrainingSpec& t, const std::string& prefix) {
  return prefix + " planner plan: " + plan_label(p) + ", " + to_string(t.precision) + (t.compiled ? ", compiled" : "") +
         "\n";
}

// Knobs torchtitan cannot express, shared by both torchtitan exports. `sp_field` is false where the
// release has no sequence-parallel switch (v0.2.2 applies SequenceParallel whenever tp > 1).
std::vector<std::string> torchtitan_warnings(const Plan& p, const TrainingSpec& t, const ModelSpec& m, bool sp_field) {
  std::vector<std::string> w;
  if (torchtitan_flavor(m).empty())
    w.push_back("model '" + m.name + "' is not a torchtitan llama3 flavor (8B, 70B, 405B): set the model yourself");
  if (!sp_field && p.tp > 1 && !p.sequence_parallel)
    w.push_back("sequence_parallel=off cannot be expressed: torchtitan v0.2.2 always applies SequenceParallel when "
                "tensor_parallel_degree > 1 (the plan was priced without it)");
  if (p.grad_sync == GradSync::last_micro_batch)
    w.push_back("grad_sync=last cannot be expressed: torchtitan reduce-scatters gradients after every micro-batch "
                "(the plan was priced with one reduce-scatter per step)");
  if (!t.tp_plan.shard_embedding && p.tp > 1)
    w.push_back("shard_embedding=off cannot be expressed: torchtitan always shards tok_embeddings by vocabulary rows");
  if (t.tp_plan.gather_per_linear && p.tp > 1)
    w.push_back("tp_input_gather=per-linear cannot be expressed: torchtitan gathers a sub-layer's input once "
                "(PrepareModuleInput), so the run has fewer TP collectives than were priced");
  if (p.ac == ActivationCheckpointing::selective && t.selective_ac == SelectiveAc::keep_matmuls)
    w.push_back("selective_ac=keep-matmuls cannot be expressed: torchtitan's op-level selective AC also recomputes "
                "every second matmul of a block (price it with --selective-ac torchtitan-op)");
  if (reduces_in_bf16(t))
    w.push_back("reduce dtype bf16 cannot be expressed: training.mixed_precision_reduce accepts only \"float32\"");
  if (t.precision == Precision::bf16_mixed && p.dp == 1 && p.tp > 1)
    w.push_back("bf16-mixed with dp=1: torchtitan applies mixed_precision_param through fully_shard only when "
                "data_parallel_shard_degree > 1, so this split trains in float32");
  return w;
}

const char* tt_dtype(const TrainingSpec& t) { return t.precision == Precision::bf16 ? "bfloat16" : "float32"; }
const char* tt_param_dtype(const TrainingSpec& t) { return t.precision == Precision::fp32 ? "float32" : "bfloat16"; }

}  // namespace

std::string lightning_strategy(const Plan& p) {
  return "ModelParallelStrategy(data_parallel_size=" + std::to_string(p.dp) +
         ", tensor_parallel_size=" + std::to_string(p.tp) + ")";
}

Export torchtitan_toml_export(const Plan& p, const TrainingSpec& t, const ModelSpec& m) {
  Export e{"torchtitan-toml", kTorchtitanToml, "toml", "", torchtitan_warnings(p, t, m, false)};
  std::ostringstream os;
  os << "# " << kTorchtitanToml << ": CONFIG_FILE=this.toml ./run_train.sh\n"
     << header_comment(p, t, "#");
  const std::string flavor = torchtitan_flavor(m);
  if (!flavor.empty()) os << "\n[model]\nname = \"llama3\"\nflavor = \"" << flavor << "\"\n";
  os << "\n[parallelism]\n"
     << "data_parallel_shard_degree = " << p.dp << "\n"
     << "tensor_parallel_degree = " << p.tp << "\n"
     << "fsdp_reshard_after_forward = \"" << (p.reshard_after_forward ? "always" : "never") << "\"\n"
     << "disable_loss_parallel = " << toml_bool(!t.tp_plan.loss_parallel) << "\n"
     << "\n[training]\n"
     << "local_batch_size = " << p.micro_batch << "\n"
     << "global_batch_size = " << t.global_batch << "\n"
     << "seq_len = " << t.seq_len << "\n"
     << "dtype = \"" << tt_dtype(t) << "\"\n"
     << "mixed_precision_param = \"" << tt_param_dtype(t) << "\"\n"
     << "mixed_precision_reduce = \"float32\"\n"
     << "\n[activation_checkpoint]\n"
     << "mode = \"" << to_string(p.ac) << "\"\n";
  // selective is torchtitan's op-level policy (not its layer-level one, selective_ac_option = "2":
  // every 2nd layer), which planner prices with --selective-ac torchtitan-op (the default,
  // keep-matmuls, is warned about above).
  if (p.ac == ActivationCheckpointing::selective) os << "selective_ac_option = \"op\"\n";
  os << "\n[compile]\n"
     << "enable = " << toml_bool(t.compiled) << "\n";
  e.text = os.str();
  return e;
}

Export torchtitan_python_export(const Plan& p, const TrainingSpec& t, const ModelSpec& m) {
  Export e{"torchtitan-py", kTorchtitanPy, "python", "", torchtitan_warnings(p, t, m, true)};
  const std::string flavor = torchtitan_flavor(m);
  const std::string base = flavor.empty() ? "llama3_debugmodel"
                           : flavor == "8B"  ? "llama3_8b"
                           : flavor == "70B" ? "llama3_70b"
                                             : "llama3_405b";
  const std::string fn = "planner_dp" + std::to_string(p.dp) + "_tp" + std::to_string(p.tp);
  std::ostringstream os;
  os << "# " << kTorchtitanPy << "\n"
     << header_comment(p, t, "#")
     << "# Add to torchtitan/models/llama3/config_registry.py, then: MODEL=llama3 CONFIG=" << fn << " ./run_train.sh\n"
     << "from torchtitan.config import ActivationCheckpointConfig, CompileConfig, ParallelismConfig, TrainingConfig\n"
     << "\n\n"
     << "def " << fn << "() -> Trainer.Config:\n"
     << "    config = " << base << "()\n"
     << "    config.parallelism = ParallelismConfig(\n"
     << "        data_parallel_shard_degree=" << p.dp << ",\n"
     << "        tensor_parallel_degree=" << p.tp << ",\n"
     << "        enable_sequence_parallel=" << py_bool(p.sequence_parallel) << ",\n"
     << "        fsdp_reshard_after_forward=\"" << (p.reshard_after_forward ? "always" : "never") << "\",\n"
     << "        disable_loss_parallel=" << py_bool(!t.tp_plan.loss_parallel) << ",\n"
     << "    )\n"
     << "    config.training = TrainingConfig(\n"
     << "        local_batch_size=" << p.micro_batch << ",\n"
     << "        global_batch_size=" << t.global_batch << ",\n"
     << "        seq_len=" << t.seq_len << ",\n"
     << "        steps=config.training.steps,\n"
     << "        dtype=\"" << tt_dtype(t) << "\",\n"
     << "        mixed_precision_param=\"" << tt_param_dtype(t) << "\",\n"
     << "        mixed_precision_reduce=\"float32\",\n"
     << "    )\n"
     // After #2386 "selective" is the per-op policy (the layer-level selective_ac_option is gone).
     << "    config.activation_checkpoint = ActivationCheckpointConfig(mode=\"" << to_string(p.ac) << "\")\n"
     << "    config.compile = CompileConfig(enable=" << py_bool(t.compiled) << ")\n"
     << "    return config\n";
  e.text = os.str();
  return e;
}

Export lightning_export(const Plan& p, const TrainingSpec& t, const ModelSpec& m, int64_t gpus_per_node,
                        int64_t num_nodes) {
  Export e{"lightning", kLightning, "python", "", {}};
  const int64_t ga = t.global_batch / std::max<int64_t>(1, p.dp * p.micro_batch);
  if (t.global_batch % std::max<int64_t>(1, p.dp * p.micro_batch) != 0)
    e.warnings.push_back("global_batch " + std::to_string(t.global_batch) + " is not a multiple of dp x micro_batch = " +
                         std::to_string(p.dp * p.micro_batch) + ": accumulate_grad_batches rounds down to " +
                         std::to_string(ga));
  const bool llama = m.kind == ModelKind::llama;
  const bool sp = p.sequence_parallel && p.tp > 1;
  if (t.tp_plan.gather_per_linear && p.tp > 1)
    e.warnings.push_back("tp_input_gather=per-linear: the script gathers a sub-layer's input once (PrepareModuleInput), "
                         "so the run has fewer TP collectives than were priced");
  if (p.ac == ActivationCheckpointing::selective && t.selective_ac == SelectiveAc::torchtitan_op)
    e.warnings.push_back("selective_ac=torchtitan-op: the script's selective AC keeps every matmul output "
                         "(keep-matmuls), so it recomputes less and saves more than was priced");
  std::ostringstream os;
  os << "# " << kLightning << "\n" << header_comment(p, t, "#");
  os << "# Run on each of the " << num_nodes << " node(s): python train.py (Lightning starts " << gpus_per_node
     << " processes per node;\n# set MASTER_ADDR, MASTER_PORT and NODE_RANK, or launch under SLURM or torchrun)\n";
  if (llama)
    os << "# The model is Hugging Face's LlamaForCausalLM built from the planned shape (pip install transformers);\n"
          "# random tokens stand in for your data.\n";
  os << "import functools\n\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
     << "import lightning as L\nfrom lightning.pytorch.strategies import ModelParallelStrategy\n"
     << "from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard\n"
     << "from torch.distributed.tensor import Replicate, Shard\n"
     << "from torch.distributed.tensor.parallel import (\n    ColwiseParallel, PrepareModuleInput, RowwiseParallel, "
        "SequenceParallel, loss_parallel, parallelize_module)\n"
     << "from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper\n"
     << "from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts\n";
  if (llama) os << "from transformers import LlamaConfig, LlamaForCausalLM\n";
  os << "\nDP, TP, MICRO_BATCH, ACCUMULATE = " << p.dp << ", " << p.tp << ", " << p.micro_batch << ", " << ga << "\n"
     << "SEQ_LEN, STEPS = " << t.seq_len << ", 100\n";
  if (llama) {
    os << "VOCAB = " << m.vocab_size << "\n\n\n"
       << "def build_model():\n"
       << "    return LlamaForCausalLM(LlamaConfig(\n"
       << "        hidden_size=" << m.dim << ", intermediate_size=" << m.ffn_hidden << ", num_hidden_layers=" << m.n_layers
       << ",\n        num_attention_heads=" << m.n_heads << ", num_key_value_heads=" << m.n_kv_heads
       << ", head_dim=" << m.head_dim << ",\n        vocab_size=" << m.vocab_size << ", rope_theta=" << m.rope_theta
       << ", rms_norm_eps=" << m.norm_eps << ",\n        tie_word_embeddings=" << py_bool(m.tie_word_embeddings)
       << ", max_position_embeddings=SEQ_LEN))\n\n\n";
    // The torchtitan Llama plan in Hugging Face's module names (docs/cost-model.md, "TP plan").
    os << "def tensor_parallel(model, tp_mesh):\n"
       << "    top = {\n";
    // Sequence parallel starts at the first block, so Hugging Face derives positions and the causal
    // mask from the full sequence; norms are SequenceParallel, block outputs stay sequence-sharded.
    if (t.tp_plan.shard_embedding) os << "        \"model.embed_tokens\": RowwiseParallel(input_layouts=Replicate()),\n";
    if (sp)
      os << "        \"model.layers.0\": PrepareModuleInput(input_layouts=(Replicate(),), desired_input_layouts=(Shard(1),),\n"
            "                                            use_local_output=True),\n"
         << "        \"model.norm\": SequenceParallel(),\n";
    os << "        \"lm_head\": ColwiseParallel(" << (sp ? "input_layouts=Shard(1), " : "")
       << (t.tp_plan.loss_parallel ? "output_layouts=Shard(-1), use_local_output=False" : "output_layouts=Replicate()")
       << "),\n    }\n"
       << "    parallelize_module(model, tp_mesh, top)\n"
       << "    for layer in model.model.layers:\n"
       << "        plan = {\n";
    if (sp)
      os << "            \"input_layernorm\": SequenceParallel(),\n"
         << "            \"self_attn\": PrepareModuleInput(input_kwarg_layouts={\"hidden_states\": Shard(1)},\n"
         << "                                            desired_input_kwarg_layouts={\"hidden_states\": Replicate()},\n"
         << "                                            use_local_output=True),\n"
         << "            \"post_attention_layernorm\": SequenceParallel(),\n"
         << "            \"mlp\": PrepareModuleInput(input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),),\n"
         << "                                      use_local_output=True),\n";
    os << "            \"self_attn.q_proj\": ColwiseParallel(), \"self_attn.k_proj\": ColwiseParallel(),\n"
       << "            \"self_attn.v_proj\": ColwiseParallel(),\n"
       << "            \"self_attn.o_proj\": RowwiseParallel(" << (sp ? "output_layouts=Shard(1)" : "") << "),\n"
       << "            \"mlp.gate_proj\": ColwiseParallel(), \"mlp.up_proj\": ColwiseParallel(),\n"
       << "            \"mlp.down_proj\": RowwiseParallel(" << (sp ? "output_layouts=Shard(1)" : "") << "),\n"
       << "        }\n"
       << "        parallelize_module(layer, tp_mesh, plan)\n\n\n";
  } else {
    os << "\n\nclass FeedForward(nn.Module):  # Lightning's tensor-parallel example model\n"
       << "    def __init__(self, dim=" << m.dim << ", hidden=" << m.ffn_hidden << "):\n"
       << "        super().__init__()\n"
       << "        self.w1 = nn.Linear(dim, hidden, bias=False)\n"
       << "        self.w2 = nn.Linear(hidden, dim, bias=False)\n"
       << "        self.w3 = nn.Linear(dim, hidden, bias=False)\n\n"
       << "    def forward(self, x):\n"
       << "        return self.w2(F.silu(self.w1(x)) * self.w3(x))\n\n\n"
       << "def build_model():\n    return FeedForward()\n\n\n"
       << "def tensor_parallel(model, tp_mesh):\n"
       << "    parallelize_module(model, tp_mesh, {\"w1\": ColwiseParallel(), \"w2\": RowwiseParallel(), "
          "\"w3\": ColwiseParallel()})\n\n\n";
    if (p.sequence_parallel && p.tp > 1)
      e.warnings.push_back("sequence_parallel=on has no effect on the FeedForward (no norms to shard over the sequence)");
  }
  // Activation checkpointing: planner's selective keeps matmul and attention outputs.
  os << "def save_matmuls(ctx, op, *args, **kwargs):  # planner's selective AC: keep matmul/attention outputs\n"
     << "    keep = {torch.ops.aten.mm.default, torch.ops.aten._scaled_dot_product_flash_attention.default,\n"
     << "            torch.ops.aten._scaled_dot_product_efficient_attention.default}\n"
     << "    return CheckpointPolicy.MUST_SAVE if op in keep else CheckpointPolicy.PREFER_RECOMPUTE\n\n\n";
  const char* param_dtype = t.precision == Precision::fp32 ? "torch.float32" : "torch.bfloat16";
  const char* reduce = reduces_in_bf16(t) ? "torch.bfloat16" : "torch.float32";
  // Random samples made on demand: STEPS optimizer steps on every dp rank (the sampler splits the
  // dataset over the data_parallel axis).
  os << "class RandomData(torch.utils.data.Dataset):  # stands in for your data\n"
     << "    def __len__(self):\n"
     << "        return MICRO_BATCH * ACCUMULATE * STEPS * DP\n\n"
     << "    def __getitem__(self, i):\n"
     << (llama ? "        return torch.randint(0, VOCAB, (SEQ_LEN + 1,))\n"
               : "        return torch.randn(SEQ_LEN, " + std::to_string(m.dim) + ")\n")
     << "\n\n";
  os << "class PlannedModule(L.LightningModule):\n"
     << "    def __init__(self):\n"
     << "        super().__init__()\n"
     << "        with torch.device(\"meta\"):\n"
     << "            self.model = build_model()\n";
  if (t.precision == Precision::bf16) os << "        self.model.to(torch.bfloat16)  # bf16 params, grads and AdamW states\n";
  if (llama)
    os << "\n    def on_train_start(self):  # meta-device init: Lightning ran reset_parameters(); norms and RoPE have none\n"
       << "        from transformers.models.llama.modeling_llama import LlamaRMSNorm\n"
       << "        with torch.no_grad():\n"
       << "            for module in self.model.modules():\n"
       << "                if isinstance(module, LlamaRMSNorm):\n"
       << "                    module.weight.fill_(1.0)\n"
       << "            rope = self.model.model.rotary_emb\n"
       << "            rope.inv_freq.copy_(rope.rope_init_fn(rope.config, self.device)[0])\n";
  os << "\n    def configure_model(self):\n"
     << "        tp_mesh, dp_mesh = self.device_mesh[\"tensor_parallel\"], self.device_mesh[\"data_parallel\"]\n"
     << "        if TP > 1:\n"
     << "            tensor_parallel(self.model, tp_mesh)\n"
     << "        mp = MixedPrecisionPolicy(param_dtype=" << param_dtype << ", reduce_dtype=" << reduce << ")\n";
  if (llama) {
    os << "        layers = self.model.model.layers\n"
       << "        for i, layer in enumerate(layers):\n";
    if (p.ac == ActivationCheckpointing::full) os << "            layer = checkpoint_wrapper(layer, preserve_rng_state=False)\n";
    if (p.ac == ActivationCheckpointing::selective)
      os << "            layer = checkpoint_wrapper(layer, context_fn=functools.partial(\n"
            "                create_selective_checkpoint_contexts, save_matmuls), preserve_rng_state=False)\n";
    if (t.compiled) os << "            layer = torch.compile(layer)\n";
    os << "            layers[i] = layer\n"
       << "            fully_shard(layer, mesh=dp_mesh, mp_policy=mp, reshard_after_forward="
       << py_bool(p.reshard_after_forward) << ")\n";
  } else {
    if (p.ac == ActivationCheckpointing::full) os << "        self.model = checkpoint_wrapper(self.model, preserve_rng_state=False)\n";
    if (p.ac == ActivationCheckpointing::selective)
      os << "        self.model = checkpoint_wrapper(self.model, context_fn=functools.partial(\n"
            "            create_selective_checkpoint_contexts, save_matmuls), preserve_rng_state=False)\n";
    if (t.compiled) os << "        self.model = torch.compile(self.model)\n";
  }
  os << "        fully_shard(self.model, mesh=dp_mesh, mp_policy=mp, reshard_after_forward="
     << py_bool(p.reshard_after_forward) << ")\n\n"
     << "    def training_step(self, batch, batch_idx):\n";
  if (p.grad_sync == GradSync::last_micro_batch)
    os << "        # grad_sync=last: reduce-scatter only on the last micro-batch of the step\n"
          "        # (Fabric: `with fabric.no_backward_sync(model, enabled=not last):`)\n"
          "        last = (batch_idx + 1) % self.trainer.accumulate_grad_batches == 0\n"
          "        self.model.set_requires_gradient_sync(last)\n";
  if (llama) {
    os << "        inputs, labels = batch[:, :-1], batch[:, 1:]\n"
       << "        logits = self.model(input_ids=inputs).logits\n";
    if (t.tp_plan.loss_parallel && p.tp > 1)
      os << "        with loss_parallel():  # logits stay vocab-sharded\n"
            "            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(0, 1))\n";
    else
      os << "        loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(0, 1))\n";
  } else {
    os << "        loss = self.model(batch).float().sum()\n";
  }
  os << "        return loss\n\n"
     << "    def configure_optimizers(self):\n"
     << "        return torch.optim.AdamW(self.parameters(), lr=3e-4, foreach=True)\n\n"
     << "    def train_dataloader(self):\n";
  os << "        return torch.utils.data.DataLoader(RandomData(), batch_size=MICRO_BATCH)\n\n\n"
     << "if __name__ == \"__main__\":\n"
     << "    trainer = L.Trainer(\n"
     << "        accelerator=\"cuda\",\n"
     << "        devices=" << gpus_per_node << ",\n"
     << "        num_nodes=" << num_nodes << ",\n"
     << "        strategy=" << lightning_strategy(p) << ",\n"
     << "        precision=\"" << (t.precision == Precision::bf16 ? "bf16-true" : "32-true") << "\",\n"
     << "        accumulate_grad_batches=ACCUMULATE,\n"
     << "        max_steps=STEPS,\n"
     << "    )\n"
     << "    trainer.fit(PlannedModule())\n";
  e.text = os.str();
  return e;
}

std::vector<Export> all_exports(const Plan& p, const TrainingSpec& t, const ModelSpec& m, int64_t gpus_per_node,
                                int64_t num_nodes) {
  return {lightning_export(p, t, m, gpus_per_node, num_nodes), torchtitan_toml_export(p, t, m),
          torchtitan_python_export(p, t, m)};
}

std::vector<std::string> export_names() { return {"lightning", "torchtitan-toml", "torchtitan-py"}; }

Json exports_to_json(const std::vector<Export>& es) {
  Json a = Json::array();
  for (const auto& e : es)
    a.push_back({{"name", e.name}, {"target", e.target}, {"format", e.format}, {"text", e.text}, {"warnings", e.warnings}});
  return a;
}

}  // namespace planner
