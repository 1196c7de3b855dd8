// ModelSpec: the architecture of a model, shared by the simulator and the executor.
// Model code never mentions ranks; how a model is sharded lives in core/parallel_plan.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace planner {

enum class ModelKind {
  feedforward,  // the seed's bias-free SwiGLU FeedForward(dim, hidden): w2(silu(w1 x) * w3 x)
  llama,        // Llama-style decoder: RMSNorm, rotary GQA attention, SwiGLU MLP
};

struct ModelSpec {
  std::string name;
  ModelKind kind = ModelKind::llama;
  int64_t dim = 0;         // hidden_size
  int64_t ffn_hidden = 0;  // intermediate_size
  int64_t n_layers = 1;    // num_hidden_layers (feedforward: 1)
  int64_t n_heads = 0;     // num_attention_heads (llama only)
  int64_t n_kv_heads = 0;  // num_key_value_heads (llama only)
  int64_t head_dim = 0;    // head_dim (llama only)
  int64_t vocab_size = 0;  // llama only
  bool tie_word_embeddings = false;
  double rope_theta = 500000.0;
  double norm_eps = 1e-5;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

enum class ModuleType { linear, embedding, norm };

// One parameter tensor, llm.c-style: the memory table is built line by line from these.
// A Linear weight is (out_features, in_features) as in torch.nn.Linear; an Embedding is (vocab, dim).
struct TensorSpec {
  std::string module;  // module name with "*" for the layer index, e.g. "layers.*.attention.wq"
  ModuleType type;
  int64_t rows;        // dim 0
  int64_t cols;        // dim 1 (1 for a norm weight)
  int64_t count;       // how many such tensors (n_layers for per-layer tensors, else 1)
  bool per_layer;      // belongs to a transformer block (one FSDP unit per block)
  int64_t numel() const { return rows * cols; }
};

// Parameter tensors in module order (torchtitan names).
std::vector<TensorSpec> parameter_tensors(const ModelSpec& m);
int64_t parameter_count(const ModelSpec& m);
// Parameters that are in matmuls per token (everything but embeddings and norms), per Kaplan et
// al. 2020 "N" used in 6N FLOPs/token; the output head counts, the input embedding does not.
int64_t matmul_parameter_count(const ModelSpec& m);

// Presets: "feedforward" (8192x8192), "feedforward:DIMxHIDDEN", "llama3-8b", "llama3-70b",
// "llama3-405b", "llama3.1-8b|70b|405b", "llama-tiny" (CPU-trainable).
std::vector<std::string> model_preset_names();
// Resolves a preset name or a path to a Hugging Face config.json / our model JSON.
// `flag` names the option it came from, for errors.
ModelSpec resolve_model(const std::string& name_or_path, const std::string& flag = "--model");
// Hugging Face config.json of a Llama-style decoder.
ModelSpec model_from_hf_config(const Json& j, const std::string& file);
Json model_to_json(const ModelSpec& m);
ModelSpec model_from_json(const JsonReader& r);  // our format (as written by model_to_json)
void validate_model(const ModelSpec& m, const std::string& where);

std::string to_string(ModelKind k);

}  // namespace planner
