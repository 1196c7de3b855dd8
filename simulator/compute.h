// Compute cost of one kernel on one device (docs/cost-model.md, "Compute").
#pragma once
#include <cstdint>

#include "core/cluster_spec.h"

namespace planner {

// Dense peak FLOP/s for the element size of the math (2 bytes: bf16 tensor cores; 4: fp32).
double peak_flops_per_s(const ClusterSpec& c, int bytes_per_elt);

// Fraction of the GEMM library's best rate a (m x k) @ (k x n) GEMM reaches from tile padding and
// wave quantization: output tiles of gemm_tile_m x gemm_tile_n spread over compute_units.
double gemm_shape_efficiency(const DeviceSpec& d, int64_t m, int64_t n);

// C[m,n] = A[m,k] B[k,n]: t = overhead + max(2mnk / (peak * eff.gemm * shape_eff),
//                                           (mk + kn + mn) * bytes / (mem_bw * eff.memory))
double gemm_seconds(const ClusterSpec& c, int64_t m, int64_t n, int64_t k, int bytes_per_elt);
// Forward (y = x W^T, x: m x k, W: n x k) plus backward (dgrad m x k, wgrad n x k) of one Linear.
double linear_forward_seconds(const ClusterSpec& c, int64_t tokens, int64_t out, int64_t in, int bytes_per_elt);
double linear_backward_seconds(const ClusterSpec& c, int64_t tokens, int64_t out, int64_t in, int bytes_per_elt,
                               bool input_needs_grad);
// Memory-bound kernels (norms, activations, residual adds, optimizer): bytes read + written.
double memory_bound_seconds(const ClusterSpec& c, double bytes);
// Fused (flash) attention at eff.attention of peak.
double attention_seconds(const ClusterSpec& c, double flops, int bytes_per_elt);

}  // namespace planner
