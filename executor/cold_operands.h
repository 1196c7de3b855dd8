// Operands for timing kernels from memory rather than from cache (planner calibrate, and the
// benchmark that measures the difference: bench/executor/bench_gemm_cold.cc).
#pragma once
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>

namespace planner::executor {

// Operands are read from memory, not from cache. In a training step every weight, saved
// activation and gradient is read once per pass, after the rest of the step (and, with more
// ranks than cores, the other ranks) went through the caches; a kernel timed in a loop on the
// same operands runs from cache. Each timed call therefore takes its operands from the next slot
// of a 128 MiB buffer (larger than a CPU's last-level cache per core complex and an H100's 50 MB
// L2), as cache-flushing benchmarks do. Measured on this 2-core host, one rank, one thread: the
// GEMMs of llama-tiny take longer cold than hot (bench/executor/bench_gemm_cold, docs/calibration.md).
constexpr int64_t kColdPoolBytes = int64_t{128} << 20;

class ColdOperands {
 public:
  explicit ColdOperands(const at::TensorOptions& opts)
      : buf_(at::rand({kColdPoolBytes / 4}, opts)) {}  // uniform [0, 1): no denormals, no overflow
  // Call i's operands: the pool cut into slots of `slot_numel` floats, slot i (mod the count);
  // `count` floats from `offset` in it, shaped `sizes`. Operands larger than the pool (a large
  // model's GEMMs on a GPU) get a pool of one slot: they do not fit in a cache anyway.
  at::Tensor take(int64_t i, int64_t slot_numel, int64_t offset, at::IntArrayRef sizes) {
    if (slot_numel > buf_.numel()) buf_ = at::rand({slot_numel}, buf_.options());
    const int64_t slots = std::max<int64_t>(1, buf_.numel() / slot_numel);
    int64_t count = 1;
    for (auto d : sizes) count *= d;
    return buf_.narrow(0, (i % slots) * slot_numel + offset, count).view(sizes);
  }

 private:
  at::Tensor buf_;
};

}  // namespace planner::executor
