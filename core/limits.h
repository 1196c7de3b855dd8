// Bounds on every user-controlled quantity (flags and JSON fields), so that no product the
// simulator, the search or the outputs form can overflow int64 or run unbounded, and a value
// out of them is an InputError naming the flag or field (docs/formats.md, "Limits").
// Each bound is far above any real model or cluster; the products in the comments are the
// largest the code forms from them.
#pragma once
#include <cstdint>
#include <string>

namespace planner {

namespace limits {

// Model shapes: hidden_size, intermediate_size, head_dim and n_heads * head_dim (Llama-3-405B:
// 16,384 and 53,248). A parameter tensor then has at most 2^20 * 2^24 (vocab) = 2^44 elements,
// times 2^16 layers = 2^60, and the dozen tensors of a model stay below 2^63.
constexpr int64_t kMaxModelDim = int64_t{1} << 20;       // 1,048,576
constexpr int64_t kMaxLayers = int64_t{1} << 16;         // 65,536 (Llama-3-405B: 126)
constexpr int64_t kMaxHeads = int64_t{1} << 16;          // 65,536 (405B: 128)
constexpr int64_t kMaxVocab = int64_t{1} << 24;          // 16,777,216 (Llama 3: 128,256)
// Training: micro_batch * seq_len (tokens of a micro-batch) <= 2^48; global_batch * seq_len
// (tokens per step) <= 2^48.
constexpr int64_t kMaxSeqLen = int64_t{1} << 24;         // 16,777,216 tokens
constexpr int64_t kMaxBatch = int64_t{1} << 24;          // global_batch and micro_batch, sequences
// Cluster: nodes * gpus_per_node (the world) <= 2^20 ranks; dp * micro_batch <= 2^44.
constexpr int64_t kMaxWorld = int64_t{1} << 20;          // 1,048,576 GPUs
constexpr int64_t kMaxGpusPerNode = int64_t{1} << 12;    // 4,096 ranks on one node
// Search: the largest micro-batch `plan`/`suggest` enumerate (each value is one more simulation
// per split and knob setting).
constexpr int64_t kMaxSearchMicroBatch = int64_t{1} << 16;
// Readers: the largest input file, the deepest JSON nesting, and the longest value quoted in an
// error message.
constexpr int64_t kMaxInputBytes = int64_t{256} << 20;   // 256 MiB
constexpr int kMaxJsonDepth = 128;                       // the project's documents nest <= 8
constexpr size_t kMaxQuotedChars = 200;

}  // namespace limits

// `v` as text for an error message: at most limits::kMaxQuotedChars characters, then
// "... (N bytes)", so a 100 MB value never becomes a 100 MB message.
std::string quote_for_error(const std::string& v);

// Throws InputError(where, field, ...) unless lo <= v <= hi; the message names the range.
int64_t check_range(int64_t v, int64_t lo, int64_t hi, const std::string& where, const std::string& field);

// a * b, or InputError(where, field, what overflows) when the product does not fit int64.
int64_t checked_mul(int64_t a, int64_t b, const std::string& where, const std::string& field);

}  // namespace planner
