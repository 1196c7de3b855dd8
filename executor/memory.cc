#include "executor/memory.h"

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>
#ifdef PLANNER_HAVE_NCCL
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <atomic>
#include <cstring>

#include "core/error.h"

// LibTorch 2.3 made Allocator::allocate non-const and added a pure copy_data().
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define PLANNER_ALLOCATE_CONST
#define PLANNER_ALLOCATOR_HAS_COPY_DATA 1
#else
#define PLANNER_ALLOCATE_CONST const
#define PLANNER_ALLOCATOR_HAS_COPY_DATA 0
#endif

namespace planner::executor {

namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};

// Each allocation carries its size in a header in front of the data, so that the deleter can
// count it down from the data pointer alone: the DataPtr's context is the data pointer itself,
// which raw_allocate() requires (LibTorch's bf16 GEMM on the CPU allocates its scratch buffers
// through it). The header is kHeader bytes, a multiple of the 64-byte alignment LibTorch's CPU
// allocator gives, so the data stays aligned; it is not counted.
constexpr size_t kHeader = 64;
at::DeleterFnPtr g_inner_raw_deleter = nullptr;

void delete_counted(void* data) {
  if (data == nullptr) return;
  char* base = static_cast<char*>(data) - kHeader;
  g_current.fetch_sub(static_cast<int64_t>(*reinterpret_cast<size_t*>(base)));
  g_inner_raw_deleter(base);
}

class CountingAllocator : public at::Allocator {
 public:
  explicit CountingAllocator(at::Allocator* inner) : inner_(inner) {
    g_inner_raw_deleter = inner_->raw_deleter();
    PLANNER_CHECK(g_inner_raw_deleter != nullptr, "the CPU allocator has no raw deleter");
  }
  at::DataPtr allocate(size_t n) PLANNER_ALLOCATE_CONST override {
    void* base = inner_->raw_allocate(n + kHeader);
    *static_cast<size_t*>(base) = n;
    void* data = static_cast<char*>(base) + kHeader;
    const int64_t bytes = static_cast<int64_t>(n);
    const int64_t now = g_current.fetch_add(bytes) + bytes;
    int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
    return {data, data, &delete_counted, at::Device(at::kCPU)};
  }
  at::DeleterFnPtr raw_deleter() const override { return &delete_counted; }
#if PLANNER_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#endif

 private:
  at::Allocator* inner_;
};

CountingAllocator* g_allocator = nullptr;

}  // namespace

void install_counting_cpu_allocator() {
  if (g_allocator) return;
  g_allocator = new CountingAllocator(c10::GetCPUAllocator());
  c10::SetCPUAllocator(g_allocator, /*priority=*/100);
}

bool counting_cpu_allocator_installed() { return g_allocator != nullptr && c10::GetCPUAllocator() == g_allocator; }
int64_t cpu_allocated_bytes() { return g_current.load(); }
int64_t cpu_peak_allocated_bytes() { return g_peak.load(); }
void reset_cpu_peak() { g_peak.store(g_current.load()); }

#ifdef PLANNER_HAVE_NCCL
// Index 0 of the stat arrays is the aggregate over pools (StatType::AGGREGATE); the enum's
// namespace moved between LibTorch 2.x releases, its value did not.
int64_t cuda_peak_allocated_bytes(int device) {
  return c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device)).allocated_bytes[0].peak;
}
int64_t cuda_peak_reserved_bytes(int device) {
  return c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device)).reserved_bytes[0].peak;
}
#else
int64_t cuda_peak_allocated_bytes(int) { return -1; }
int64_t cuda_peak_reserved_bytes(int) { return -1; }
#endif

}  // namespace planner::executor
