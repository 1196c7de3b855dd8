#include "executor/data.h"

#include <vector>

#include "executor/seed.h"

namespace planner::executor {

Batch make_batch(const ModelSpec& model, int64_t seq_len, int64_t global_batch, int64_t dp, int dp_index,
                 int64_t micro_batch, int64_t micro_index, int64_t step, uint64_t seed) {
  const int64_t per_dp = global_batch / dp;
  const int64_t first = dp_index * per_dp + micro_index * micro_batch;
  std::vector<at::Tensor> ins, tgts;
  for (int64_t j = 0; j < micro_batch; ++j) {
    const uint64_t g = static_cast<uint64_t>(first + j);
    auto gen = seeded_generator(
        splitmix64(splitmix64(seed ^ 0xDA7AULL) ^ splitmix64(static_cast<uint64_t>(step) * 1000003ULL + g)));
    if (model.kind == ModelKind::feedforward) {
      ins.push_back(at::normal(0.0, 1.0, {seq_len, model.dim}, gen));
      tgts.push_back(at::normal(0.0, 1.0, {seq_len, model.dim}, gen));
    } else {
      at::Tensor tok = at::randint(0, model.vocab_size, {seq_len + 1}, gen, at::kLong);
      ins.push_back(tok.narrow(0, 0, seq_len));
      tgts.push_back(tok.narrow(0, 1, seq_len));
    }
  }
  return {at::stack(ins), at::stack(tgts)};
}

}  // namespace planner::executor
