#include "simulator/collectives.h"

#include "core/error.h"

namespace planner {

bool group_crosses_nodes(const ClusterSpec& c, int64_t size, int64_t stride) {
  return size * stride > c.gpus_per_node;
}

const LinkSpec& group_link(const ClusterSpec& c, int64_t size, int64_t stride) {
  return group_crosses_nodes(c, size, stride) ? c.inter_node : c.intra_node;
}

// The table entry for a collective: the exact stride, else the same placement (consecutive or
// strided); nullptr when the table has none or the group crosses nodes.
static const CollectiveFitSpec* table_entry(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride) {
  if (c.collectives.empty() || size <= 1 || group_crosses_nodes(c, size, stride)) return nullptr;
  const char* name = kind == CollectiveKind::all_gather       ? "all_gather"
                     : kind == CollectiveKind::reduce_scatter ? "reduce_scatter"
                                                              : "all_reduce";
  const CollectiveFitSpec* same_placement = nullptr;
  for (const auto& f : c.collectives) {
    if (f.group_size != size || f.kind != name) continue;
    if (f.stride == stride) return &f;
    if ((f.stride == 1) == (stride == 1) && !same_placement) same_placement = &f;
  }
  return same_placement;
}

const LinkSpec& collective_link(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride) {
  const CollectiveFitSpec* e = table_entry(c, kind, size, stride);
  return e ? e->link : group_link(c, size, stride);
}

double collective_hidden_fraction(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                                  double fallback) {
  const CollectiveFitSpec* e = table_entry(c, kind, size, stride);
  return e && e->hidden_fraction >= 0 ? e->hidden_fraction : fallback;
}

static double beta(const LinkSpec& l) {
  PLANNER_CHECK(l.effective_bw_Bps() > 0, "link '" << l.name << "' has no bandwidth");
  return 1.0 / l.effective_bw_Bps();
}

double all_gather_seconds(int64_t n, double output_bytes, const LinkSpec& link) {
  if (n <= 1) return 0.0;
  const double steps = static_cast<double>(n - 1);
  return steps * link.latency_s + steps / static_cast<double>(n) * output_bytes * beta(link);
}

double reduce_scatter_seconds(int64_t n, double input_bytes, const LinkSpec& link) {
  if (n <= 1) return 0.0;
  const double steps = static_cast<double>(n - 1);
  return steps * link.latency_s + steps / static_cast<double>(n) * input_bytes * beta(link);
}

double all_reduce_seconds(int64_t n, double bytes, const LinkSpec& link) {
  if (n <= 1) return 0.0;
  const double steps = static_cast<double>(n - 1);
  return 2.0 * steps * link.latency_s + 2.0 * steps / static_cast<double>(n) * bytes * beta(link);
}

double all_to_all_seconds(int64_t n, double input_bytes, const LinkSpec& link) {
  if (n <= 1) return 0.0;
  const double steps = static_cast<double>(n - 1);
  return steps * link.latency_s + steps / static_cast<double>(n) * input_bytes * beta(link);
}

double gloo_reduce_scatter_seconds(int64_t n, double input_bytes, const LinkSpec& link, double mem_bw_Bps) {
  if (n <= 1) return 0.0;
  PLANNER_CHECK(mem_bw_Bps > 0, "mem_bw_Bps=" << mem_bw_Bps);
  const double local_sum_bytes = input_bytes + input_bytes / static_cast<double>(n);
  return all_to_all_seconds(n, input_bytes, link) + local_sum_bytes / mem_bw_Bps;
}

double backend_reduce_scatter_seconds(const ClusterSpec& c, int64_t n, double input_bytes, const LinkSpec& link) {
  if (c.backend == "gloo")
    return gloo_reduce_scatter_seconds(n, input_bytes, link, c.device.mem_bw_Bps * c.efficiency.memory);
  return reduce_scatter_seconds(n, input_bytes, link);
}

}  // namespace planner
