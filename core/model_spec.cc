#include "core/model_spec.h"

#include <fstream>
#include <sys/stat.h>

#include "core/error.h"
#include "core/limits.h"

namespace planner {

std::string to_string(ModelKind k) { return k == ModelKind::feedforward ? "feedforward" : "llama"; }

std::vector<TensorSpec> parameter_tensors(const ModelSpec& m) {
  std::vector<TensorSpec> t;
  if (m.kind == ModelKind::feedforward) {
    // FeedForward(dim, hidden): w1, w3: dim -> hidden; w2: hidden -> dim; no bias.
    t.push_back({"w1", ModuleType::linear, m.ffn_hidden, m.dim, 1, true});
    t.push_back({"w2", ModuleType::linear, m.dim, m.ffn_hidden, 1, true});
    t.push_back({"w3", ModuleType::linear, m.ffn_hidden, m.dim, 1, true});
    return t;
  }
  const int64_t L = m.n_layers;
  t.push_back({"tok_embeddings", ModuleType::embedding, m.vocab_size, m.dim, 1, false});
  t.push_back({"layers.*.attention_norm", ModuleType::norm, m.dim, 1, L, true});
  t.push_back({"layers.*.attention.wq", ModuleType::linear, m.q_dim(), m.dim, L, true});
  t.push_back({"layers.*.attention.wk", ModuleType::linear, m.kv_dim(), m.dim, L, true});
  t.push_back({"layers.*.attention.wv", ModuleType::linear, m.kv_dim(), m.dim, L, true});
  t.push_back({"layers.*.attention.wo", ModuleType::linear, m.dim, m.q_dim(), L, true});
  t.push_back({"layers.*.ffn_norm", ModuleType::norm, m.dim, 1, L, true});
  t.push_back({"layers.*.feed_forward.w1", ModuleType::linear, m.ffn_hidden, m.dim, L, true});
  t.push_back({"layers.*.feed_forward.w2", ModuleType::linear, m.dim, m.ffn_hidden, L, true});
  t.push_back({"layers.*.feed_forward.w3", ModuleType::linear, m.ffn_hidden, m.dim, L, true});
  t.push_back({"norm", ModuleType::norm, m.dim, 1, 1, false});
  if (!m.tie_word_embeddings) t.push_back({"output", ModuleType::linear, m.vocab_size, m.dim, 1, false});
  return t;
}

int64_t parameter_count(const ModelSpec& m) {
  int64_t n = 0;
  for (const auto& t : parameter_tensors(m)) n += t.numel() * t.count;
  return n;
}

int64_t matmul_parameter_count(const ModelSpec& m) {
  int64_t n = 0;
  for (const auto& t : parameter_tensors(m))
    if (t.type == ModuleType::linear) n += t.numel() * t.count;
  if (m.kind == ModelKind::llama && m.tie_word_embeddings) n += m.vocab_size * m.dim;  // tied head
  return n;
}

static ModelSpec llama3(const std::string& name, int64_t dim, int64_t ffn, int64_t layers,
                        int64_t heads, int64_t kv) {
  ModelSpec m;
  m.name = name;
  m.kind = ModelKind::llama;
  m.dim = dim;
  m.ffn_hidden = ffn;
  m.n_layers = layers;
  m.n_heads = heads;
  m.n_kv_heads = kv;
  m.head_dim = dim / heads;
  m.vocab_size = 128256;
  m.tie_word_embeddings = false;
  m.rope_theta = 500000.0;
  m.norm_eps = 1e-5;
  return m;
}

static ModelSpec feedforward(int64_t dim, int64_t hidden) {
  ModelSpec m;
  m.name = "feedforward:" + std::to_string(dim) + "x" + std::to_string(hidden);
  m.kind = ModelKind::feedforward;
  m.dim = dim;
  m.ffn_hidden = hidden;
  m.n_layers = 1;
  return m;
}

std::vector<std::string> model_preset_names() {
  return {"feedforward", "feedforward:DIMxHIDDEN", "llama3-8b", "llama3-70b", "llama3-405b",
          "llama3.1-8b", "llama3.1-70b", "llama3.1-405b", "llama-tiny"};
}

// Something at that path (not a preset name): read as a file, so that a directory, a FIFO or a
// device is refused by name (core/json_io.h, read_input_file) instead of "no such file".
static bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

ModelSpec resolve_model(const std::string& name, const std::string& flag) {
  // Sizes from Meta's published config.json files (meta-llama/Meta-Llama-3-8B etc.).
  if (name == "llama3-8b" || name == "llama3.1-8b") return llama3(name, 4096, 14336, 32, 32, 8);
  if (name == "llama3-70b" || name == "llama3.1-70b") return llama3(name, 8192, 28672, 80, 64, 8);
  if (name == "llama3-405b" || name == "llama3.1-405b") return llama3(name, 16384, 53248, 126, 128, 8);
  if (name == "llama-tiny") {
    // Small enough to train on 2 CPU cores in seconds; every dim divisible by tp up to 4.
    ModelSpec m;
    m.name = "llama-tiny";
    m.kind = ModelKind::llama;
    m.dim = 256;
    m.ffn_hidden = 768;
    m.n_layers = 4;
    m.n_heads = 8;
    m.n_kv_heads = 4;
    m.head_dim = 32;
    m.vocab_size = 2048;
    m.rope_theta = 10000.0;
    return m;
  }
  if (name == "feedforward") return feedforward(8192, 8192);
  if (name.rfind("feedforward:", 0) == 0) {
    std::string dims = name.substr(12);
    size_t x = dims.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument("no x");
      size_t p1 = 0, p2 = 0;
      long long d = std::stoll(dims.substr(0, x), &p1);
      long long h = std::stoll(dims.substr(x + 1), &p2);
      if (p1 != x || p2 != dims.size() - x - 1 || d <= 0 || h <= 0 || d > limits::kMaxModelDim ||
          h > limits::kMaxModelDim)
        throw std::invalid_argument("bad");
      return feedforward(d, h);
    } catch (const std::exception&) {
      throw InputError(flag, "", "'" + quote_for_error(name) +
                                     "': expected feedforward:DIMxHIDDEN with integers in [1, " +
                                     std::to_string(limits::kMaxModelDim) + "], e.g. feedforward:8192x8192");
    }
  }
  if (is_file(name)) {
    Json j = read_json_file(name);
    // A Hugging Face config names its model_type; one of another architecture (gpt2 has n_embd, not
    // hidden_size) is rejected for its model_type rather than read as our own format.
    if (j.is_object() && (j.contains("hidden_size") || j.contains("model_type"))) return model_from_hf_config(j, name);
    JsonReader r(j, name);
    return model_from_json(r);
  }
  if (name.find('/') != std::string::npos || (name.size() > 5 && name.substr(name.size() - 5) == ".json"))
    throw InputError(name, "", "no such file (a model is a preset name or a path to a JSON file)");
  if (name.size() > limits::kMaxQuotedChars)  // no preset is this long: not worth listing them
    throw InputError(flag, "", "unknown model '" + quote_for_error(name) + "'");
  std::string valid;
  for (const auto& p : model_preset_names()) valid += (valid.empty() ? "" : ", ") + p;
  throw InputError(flag, "", "unknown model '" + name + "'; valid presets: " + valid +
                                 ", or a path to a Hugging Face config.json");
}

void validate_model(const ModelSpec& m, const std::string& where) {
  auto need = [&](bool ok, const std::string& field, const std::string& msg) {
    if (!ok) throw InputError(where, field, msg);
  };
  // Upper bounds (core/limits.h) keep every product of the shapes inside int64.
  auto in = [&](int64_t v, int64_t hi, const std::string& field) {
    need(v > 0 && v <= hi, field, "must be in [1, " + std::to_string(hi) + "], got " + std::to_string(v));
  };
  in(m.dim, limits::kMaxModelDim, "hidden_size");
  in(m.ffn_hidden, limits::kMaxModelDim, "intermediate_size");
  in(m.n_layers, limits::kMaxLayers, "num_hidden_layers");
  if (m.kind == ModelKind::llama) {
    in(m.n_heads, limits::kMaxHeads, "num_attention_heads");
    in(m.n_kv_heads, limits::kMaxHeads, "num_key_value_heads");
    in(m.head_dim, limits::kMaxModelDim, "head_dim");
    in(m.vocab_size, limits::kMaxVocab, "vocab_size");
    // heads <= 2^16 and head_dim <= 2^20: the products below fit.
    in(m.q_dim(), limits::kMaxModelDim, "num_attention_heads * head_dim");
    need(m.n_heads % m.n_kv_heads == 0, "num_key_value_heads",
         std::to_string(m.n_kv_heads) + " does not divide num_attention_heads " + std::to_string(m.n_heads));
    need(m.head_dim > 0 && m.head_dim % 2 == 0, "head_dim",
         "must be a positive even number (rotary embedding), got " + std::to_string(m.head_dim));
  }
}

ModelSpec model_from_hf_config(const Json& j, const std::string& file) {
  JsonReader r(j, file);
  std::string type = r.get_string("model_type", "llama");
  if (type != "llama" && type != "mistral")
    throw InputError(file, "model_type",
                     "'" + type + "' is not a Llama-style decoder this tool models; allowed: 'llama', 'mistral'");
  if (r.get_bool("attention_bias", false))
    throw InputError(file, "attention_bias", "true is not supported (Llama-style models have no biases)");
  if (r.get_bool("mlp_bias", false))
    throw InputError(file, "mlp_bias", "true is not supported (Llama-style models have no biases)");
  ModelSpec m;
  m.kind = ModelKind::llama;
  const size_t slash = file.find_last_of('/');
  m.name = slash == std::string::npos ? file : file.substr(slash + 1);  // the file's name, not its path
  m.dim = r.get_int("hidden_size", 1);
  m.ffn_hidden = r.get_int("intermediate_size", 1);
  m.n_layers = r.get_int("num_hidden_layers", 1);
  m.n_heads = r.get_int("num_attention_heads", 1);
  m.n_kv_heads = r.get_int("num_key_value_heads", 1, m.n_heads);
  if (m.dim % m.n_heads != 0 && !r.has("head_dim"))
    throw InputError(file, "head_dim", "missing, and hidden_size " + std::to_string(m.dim) +
                                           " is not divisible by num_attention_heads " + std::to_string(m.n_heads));
  m.head_dim = r.get_int("head_dim", 1, m.dim / m.n_heads);
  m.vocab_size = r.get_int("vocab_size", 1);
  m.tie_word_embeddings = r.get_bool("tie_word_embeddings", false);
  m.rope_theta = r.get_number("rope_theta", 0.0, false, 10000.0);
  m.norm_eps = r.get_number("rms_norm_eps", 0.0, false, 1e-6);
  validate_model(m, file);
  return m;
}

Json model_to_json(const ModelSpec& m) {
  Json j;
  j["name"] = m.name;
  j["kind"] = to_string(m.kind);
  j["dim"] = m.dim;
  j["ffn_hidden"] = m.ffn_hidden;
  j["n_layers"] = m.n_layers;
  if (m.kind == ModelKind::llama) {
    j["n_heads"] = m.n_heads;
    j["n_kv_heads"] = m.n_kv_heads;
    j["head_dim"] = m.head_dim;
    j["vocab_size"] = m.vocab_size;
    j["tie_word_embeddings"] = m.tie_word_embeddings;
    j["rope_theta"] = m.rope_theta;
    j["norm_eps"] = m.norm_eps;
  }
  j["parameter_count"] = parameter_count(m);
  return j;
}

ModelSpec model_from_json(const JsonReader& r) {
  ModelSpec m;
  m.name = r.get_string("name", r.file());
  m.kind = r.get_enum("kind", {"feedforward", "llama"}) == "feedforward" ? ModelKind::feedforward
                                                                         : ModelKind::llama;
  m.dim = r.get_int("dim", 1);
  m.ffn_hidden = r.get_int("ffn_hidden", 1);
  if (m.kind == ModelKind::llama) {
    m.n_layers = r.get_int("n_layers", 1);
    m.n_heads = r.get_int("n_heads", 1);
    m.n_kv_heads = r.get_int("n_kv_heads", 1);
    m.head_dim = r.get_int("head_dim", 1);
    m.vocab_size = r.get_int("vocab_size", 1);
    m.tie_word_embeddings = r.get_bool("tie_word_embeddings", false);
    m.rope_theta = r.get_number("rope_theta", 0.0, false, 500000.0);
    m.norm_eps = r.get_number("norm_eps", 0.0, false, 1e-5);
  } else {
    m.n_layers = r.get_int("n_layers", 1, 1);
    if (m.n_layers != 1) throw InputError(r.file(), r.field_path("n_layers"), "feedforward has exactly 1 layer");
  }
  validate_model(m, r.file());
  return m;
}

}  // namespace planner
