#include "simulator/collectives.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace planner {

bool group_crosses_nodes(const ClusterSpec& c, int64_t size, int64_t stride) {
  return size * stride > c.gpus_per_node;
}

// The link of a group inside one node: the intra-node link, or on a mesh fabric the group's share.
static const LinkSpec& node_link(const ClusterSpec& c, int64_t size, LinkSpec* scratch) {
  if (c.intra_node_fabric != "mesh" || size >= c.gpus_per_node || c.gpus_per_node < 2) return c.intra_node;
  // Each GPU's links are split evenly over its gpus_per_node - 1 peers; NCCL's rings over the
  // group use the links to the group's other size - 1 members (docs/cost-model.md, "Collectives").
  scratch->latency_s = c.intra_node.latency_s;
  scratch->efficiency = c.intra_node.efficiency;
  scratch->bw_Bps = c.intra_node.bw_Bps * static_cast<double>(std::max<int64_t>(size - 1, 1)) /
                    static_cast<double>(c.gpus_per_node - 1);
  return *scratch;
}

int64_t group_members_per_node(const ClusterSpec& c, int64_t size, int64_t stride) {
  return std::clamp<int64_t>(c.gpus_per_node / std::max<int64_t>(stride, 1), 1, std::max<int64_t>(size, 1));
}

const LinkSpec& group_link(const ClusterSpec& c, int64_t size, int64_t stride, LinkSpec* scratch) {
  if (!group_crosses_nodes(c, size, stride)) return node_link(c, size, scratch);
  // A ring over a group that spans nodes crosses each node boundary once per channel, and NCCL
  // spreads its channels over the NICs of the group's k members in the node: every byte of the
  // ring leaves the node once, through k NICs' share of the node's bandwidth, while each member
  // forwards the intra-node hops over NVLink. Per member: B = min(k * B_inter, B_intra(k))
  // (docs/cost-model.md, "Layout of ranks and links"). k = 1 (one member per node, e.g. the DP
  // groups of a TP group that fills the node) is the inter-node link itself.
  const int64_t k = group_members_per_node(c, size, stride);
  if (k <= 1) return c.inter_node;
  LinkSpec intra_scratch;
  const LinkSpec& intra = node_link(c, k, &intra_scratch);
  const double effective_Bps =
      std::min(static_cast<double>(k) * c.inter_node.effective_bw_Bps(), intra.effective_bw_Bps());
  scratch->latency_s = c.inter_node.latency_s;
  scratch->efficiency = c.inter_node.efficiency;
  scratch->bw_Bps = effective_Bps / scratch->efficiency;
  return *scratch;
}

// The table entries for a collective: those of the exact stride, else those of the first stride
// with the same placement (consecutive or strided); empty when the table has none or the group
// crosses nodes. Several entries differ in the compute measured before them (after_compute_s).
static std::vector<const CollectiveFitSpec*> table_entries(const ClusterSpec& c, CollectiveKind kind, int64_t size,
                                                           int64_t stride) {
  std::vector<const CollectiveFitSpec*> out;
  if (c.collectives.empty() || size <= 1 || group_crosses_nodes(c, size, stride)) return out;
  const char* name = to_string(kind);
  int64_t chosen = -1;  // the stride whose entries are used
  for (const auto& f : c.collectives) {
    if (f.group_size != size || f.kind != name) continue;
    if (f.stride == stride) {
      chosen = stride;
      break;
    }
    if ((f.stride == 1) == (stride == 1) && chosen < 0) chosen = f.stride;
  }
  for (const auto& f : c.collectives)
    if (f.group_size == size && f.kind == name && f.stride == chosen) out.push_back(&f);
  return out;
}

// Without a compute time: the entry measured after the most compute (the longest wait for the
// last member), or the only one.
static const CollectiveFitSpec* table_entry(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride) {
  const CollectiveFitSpec* best = nullptr;
  for (const CollectiveFitSpec* e : table_entries(c, kind, size, stride))
    if (!best || e->after_compute_s > best->after_compute_s) best = e;
  return best;
}

const LinkSpec& collective_link(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                                LinkSpec* scratch) {
  const CollectiveFitSpec* e = table_entry(c, kind, size, stride);
  return e ? e->link : group_link(c, size, stride, scratch);
}

const LinkSpec& collective_link_after(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                                      double after_compute_s, LinkSpec* scratch) {
  std::vector<const CollectiveFitSpec*> es = table_entries(c, kind, size, stride);
  if (es.size() < 2 || es.front()->after_compute_s < 0) return collective_link(c, kind, size, stride, scratch);
  std::sort(es.begin(), es.end(), [](const CollectiveFitSpec* a, const CollectiveFitSpec* b) {
    return a->after_compute_s < b->after_compute_s;
  });
  if (after_compute_s <= es.front()->after_compute_s) return es.front()->link;
  if (after_compute_s >= es.back()->after_compute_s) return es.back()->link;
  size_t i = 1;
  while (es[i]->after_compute_s < after_compute_s) ++i;
  const CollectiveFitSpec& lo = *es[i - 1];
  const CollectiveFitSpec& hi = *es[i];
  const double w = (after_compute_s - lo.after_compute_s) / (hi.after_compute_s - lo.after_compute_s);
  // The numbers only: copying the name would allocate on the search's hot path.
  scratch->efficiency = hi.link.efficiency;
  scratch->latency_s = (1 - w) * lo.link.latency_s + w * hi.link.latency_s;
  // Seconds per byte interpolate linearly, not bandwidths.
  const double spb = (1 - w) / lo.link.effective_bw_Bps() + w / hi.link.effective_bw_Bps();
  scratch->bw_Bps = 1.0 / (spb * scratch->efficiency);
  return *scratch;
}

LinkSpec collective_link_after(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                               double after_compute_s) {
  LinkSpec scratch;
  return collective_link_after(c, kind, size, stride, after_compute_s, &scratch);
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

const char* to_string(CollectiveKind k) {
  switch (k) {
    case CollectiveKind::all_gather: return "all_gather";
    case CollectiveKind::reduce_scatter: return "reduce_scatter";
    case CollectiveKind::all_reduce: return "all_reduce";
    case CollectiveKind::all_to_all: return "all_to_all";
  }
  return "?";
}

CollectiveAlgorithm ring_algorithm(CollectiveKind kind, int64_t n) {
  if (n <= 1) return {0.0, 0.0};
  const double steps = static_cast<double>(n - 1);
  const double nd = static_cast<double>(n);
  switch (kind) {
    case CollectiveKind::all_gather:      // n-1 steps, each sending output_bytes / n
    case CollectiveKind::reduce_scatter:  // n-1 steps, each sending and summing input_bytes / n
    case CollectiveKind::all_to_all:      // pairwise: each rank sends (n-1)/n of its input
      return {steps, steps / nd};
    case CollectiveKind::all_reduce:      // a reduce_scatter, then an all_gather
      return {2.0 * steps, 2.0 * steps / nd};
  }
  return {0.0, 0.0};
}

double collective_seconds(CollectiveKind kind, int64_t n, double bytes, const LinkSpec& link) {
  if (n <= 1) return 0.0;
  const CollectiveAlgorithm a = ring_algorithm(kind, n);
  return a.steps * link.latency_s + a.bus_factor * bytes * beta(link);
}

double all_gather_seconds(int64_t n, double output_bytes, const LinkSpec& link) {
  return collective_seconds(CollectiveKind::all_gather, n, output_bytes, link);
}

double reduce_scatter_seconds(int64_t n, double input_bytes, const LinkSpec& link) {
  return collective_seconds(CollectiveKind::reduce_scatter, n, input_bytes, link);
}

double all_reduce_seconds(int64_t n, double bytes, const LinkSpec& link) {
  return collective_seconds(CollectiveKind::all_reduce, n, bytes, link);
}

double all_to_all_seconds(int64_t n, double input_bytes, const LinkSpec& link) {
  return collective_seconds(CollectiveKind::all_to_all, n, input_bytes, link);
}

double gloo_reduce_scatter_seconds(int64_t n, double input_bytes, const LinkSpec& link, double mem_bw_Bps) {
  if (n <= 1) return 0.0;
  PLANNER_CHECK(mem_bw_Bps > 0, "mem_bw_Bps=" << mem_bw_Bps);
  return all_to_all_seconds(n, input_bytes, link) + gloo_local_sum_bytes(n, input_bytes) / mem_bw_Bps;
}

double gloo_local_sum_bytes(int64_t n, double input_bytes) { return input_bytes + input_bytes / static_cast<double>(n); }

double backend_reduce_scatter_seconds(const ClusterSpec& c, int64_t n, double input_bytes, const LinkSpec& link) {
  if (c.backend == "gloo")
    return gloo_reduce_scatter_seconds(n, input_bytes, link, c.device.mem_bw_Bps * c.efficiency.memory);
  return reduce_scatter_seconds(n, input_bytes, link);
}

}  // namespace planner
