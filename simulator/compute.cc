#include "simulator/compute.h"

#include <algorithm>

namespace planner {

double peak_flops_per_s(const ClusterSpec& c, int bytes_per_elt) {
  return bytes_per_elt <= 2 ? c.device.peak_bf16_flops_per_s : c.device.peak_fp32_flops_per_s;
}

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

double gemm_shape_efficiency(const DeviceSpec& d, int64_t m, int64_t n) {
  const int64_t tiles_m = ceil_div(m, d.gemm_tile_m);
  const int64_t tiles_n = ceil_div(n, d.gemm_tile_n);
  // Tile padding: the last row/column of tiles computes padding.
  const double padding = static_cast<double>(m) * static_cast<double>(n) /
                         (static_cast<double>(tiles_m * d.gemm_tile_m) * static_cast<double>(tiles_n * d.gemm_tile_n));
  // Wave quantization: tiles run in waves of compute_units; the last wave may be partly idle.
  // With fewer tiles than units the library splits K across units (split-K), filling them.
  const int64_t tiles = tiles_m * tiles_n;
  const int64_t waves = ceil_div(tiles, d.compute_units);
  const double wave = tiles < d.compute_units ? 1.0 : static_cast<double>(tiles) / static_cast<double>(waves * d.compute_units);
  return padding * wave;
}

double gemm_seconds(const ClusterSpec& c, int64_t m, int64_t n, int64_t k, int bytes_per_elt) {
  if (m <= 0 || n <= 0 || k <= 0) return 0.0;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const double rate = peak_flops_per_s(c, bytes_per_elt) * c.efficiency.gemm * gemm_shape_efficiency(c.device, m, n);
  const double bytes = (static_cast<double>(m) * k + static_cast<double>(k) * n + static_cast<double>(m) * n) * bytes_per_elt;
  return c.efficiency.gemm_overhead_s + std::max(flops / rate, bytes / (c.device.mem_bw_Bps * c.efficiency.memory));
}

double linear_forward_seconds(const ClusterSpec& c, int64_t tokens, int64_t out, int64_t in, int bytes_per_elt) {
  return gemm_seconds(c, tokens, out, in, bytes_per_elt);
}

double linear_backward_seconds(const ClusterSpec& c, int64_t tokens, int64_t out, int64_t in, int bytes_per_elt,
                               bool input_needs_grad) {
  const double wgrad = gemm_seconds(c, out, in, tokens, bytes_per_elt);    // dW = dy^T x
  const double dgrad = input_needs_grad ? gemm_seconds(c, tokens, in, out, bytes_per_elt) : 0.0;  // dx = dy W
  return wgrad + dgrad;
}

double memory_bound_seconds(const ClusterSpec& c, double bytes) {
  return bytes / (c.device.mem_bw_Bps * c.efficiency.memory);
}

double attention_seconds(const ClusterSpec& c, double flops, int bytes_per_elt) {
  return flops / (peak_flops_per_s(c, bytes_per_elt) * c.efficiency.attention);
}

}  // namespace planner
