// Peak tensor memory per rank. On CPU a counting allocator wraps LibTorch's CPU allocator
// (c10::SetCPUAllocator, priority above the default), so every tensor allocation is counted;
// on GPU the CUDA caching allocator's own peak allocated / reserved counters are used.
#pragma once
#include <cstdint>

namespace planner::executor {

// Installs the counting allocator (idempotent). Tensors allocated before stay uncounted.
void install_counting_cpu_allocator();
bool counting_cpu_allocator_installed();
int64_t cpu_allocated_bytes();       // live bytes now
int64_t cpu_peak_allocated_bytes();  // peak since the last reset
void reset_cpu_peak();               // peak := current

// The CUDA caching allocator's counters of one device (aggregate over pools), as
// torch.cuda.max_memory_allocated() / max_memory_reserved() report them. Only in CUDA LibTorch
// builds (PLANNER_HAVE_NCCL); elsewhere they return -1.
int64_t cuda_peak_allocated_bytes(int device);
int64_t cuda_peak_reserved_bytes(int device);

}  // namespace planner::executor
