// One cost function per collective (alpha-beta, ring algorithms). Derivations and sources are in
// docs/cost-model.md, "Collectives"; bus-bandwidth factors as nccl-tests defines them
// (nccl-tests doc/PERFORMANCE.md): all_gather and reduce_scatter (n-1)/n, all_reduce 2(n-1)/n.
// `link` is the link a group's ring crosses (group_link); its effective bandwidth is per GPU, per
// direction.
#pragma once
#include <cstdint>

#include "core/cluster_spec.h"

namespace planner {

// The link a group's collectives cross. Group members are ranks base + i * stride (i < size):
// TP groups are consecutive ranks (stride 1), DP groups stride tp (Lightning's mesh layout).
// Inside one node: cluster.intra_node. On a node whose GPUs are meshed by direct links
// (ClusterSpec::intra_node_fabric "mesh", HGX 4-GPU boards), a group of k of the node's n GPUs
// uses only the links to its k - 1 peers: intra_node's bandwidth times (k - 1) / (n - 1).
// Spanning nodes with k members in each node: cluster.inter_node (the per-GPU share of the node's
// NICs; all ranks of a node run their DP collectives at once) when k = 1; else the ring leaves
// each node through its k members' NICs, min(k * inter_node, the k members' intra-node link).
// A computed link is written into *scratch (its numbers only).
const LinkSpec& group_link(const ClusterSpec& c, int64_t size, int64_t stride, LinkSpec* scratch);
bool group_crosses_nodes(const ClusterSpec& c, int64_t size, int64_t stride);
// Members of a group of `size` ranks `stride` apart in one node: gpus_per_node / stride, within [1, size].
int64_t group_members_per_node(const ClusterSpec& c, int64_t size, int64_t stride);

enum class CollectiveKind { all_gather, reduce_scatter, all_reduce, all_to_all };
const char* to_string(CollectiveKind k);  // "all_gather", ... (the names of calibrated table entries)

// The one table of collectives, used to price them here and to fit alpha and B to measured
// samples (`planner calibrate`): each collective over n ranks runs its ring algorithm in `steps`
// latency-bound steps and moves `bus_factor` times the logical buffer through every rank's link
// (nccl-tests doc/PERFORMANCE.md, "bus bandwidth"):
//   t = steps * alpha + bus_factor * bytes / B
// with bytes the all_gather output, the reduce_scatter and all_to_all input, the all_reduce buffer.
//   all_gather, reduce_scatter, all_to_all: steps = n-1,    bus_factor = (n-1)/n
//   all_reduce (reduce_scatter + all_gather): steps = 2(n-1), bus_factor = 2(n-1)/n
// Changing a collective's cost formula is a change to this table (collectives.cc) alone.
struct CollectiveAlgorithm {
  double steps = 0;       // latency-bound ring steps (each pays link.latency_s)
  double bus_factor = 0;  // bytes through each rank's link per byte of the logical buffer
};
CollectiveAlgorithm ring_algorithm(CollectiveKind kind, int64_t n);
// t = steps * alpha + bus_factor * bytes / B (0 for n <= 1).
double collective_seconds(CollectiveKind kind, int64_t n, double bytes, const LinkSpec& link);
// The link one kind of collective over this group is priced on: the calibrated entry
// (ClusterSpec::collectives, `planner calibrate`) for this kind, size and stride inside a node;
// failing that, the entry of the same kind and size with the same placement (consecutive:
// stride 1, or strided: stride > 1); failing that, group_link(). Where the table has entries
// measured after different compute phases (after_compute_s), the one after the most compute.
const LinkSpec& collective_link(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                                LinkSpec* scratch);
// The link for such a collective whose members ran `after_compute_s` seconds of compute right
// before it: the entries collective_link chooses from, interpolated linearly in after_compute_s
// (latency, and seconds per byte), clamped to the range measured; collective_link() where the
// entries carry no after_compute_s. On a host with more ranks than cores a collective waits for
// its last member to be scheduled, longer after more compute (docs/cost-model.md, "Compute before
// a collective").
LinkSpec collective_link_after(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                               double after_compute_s);
// The same without a copy (the search's hot path): a reference into the cluster, or into
// *scratch when interpolated (its name is then left as it was).
const LinkSpec& collective_link_after(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                                      double after_compute_s, LinkSpec* scratch);
// The measured fraction of such a collective that hides behind compute issued after it (the
// table entry collective_link would use, when it carries one); `fallback` otherwise.
double collective_hidden_fraction(const ClusterSpec& c, CollectiveKind kind, int64_t size, int64_t stride,
                                  double fallback);

// Ring all_gather: every rank ends with output_bytes; n-1 steps each sending output_bytes/n.
//   t = (n-1) * alpha + (n-1)/n * output_bytes / B
double all_gather_seconds(int64_t n, double output_bytes, const LinkSpec& link);
// Ring reduce_scatter: every rank starts with input_bytes, ends with input_bytes/n.
//   t = (n-1) * alpha + (n-1)/n * input_bytes / B
double reduce_scatter_seconds(int64_t n, double input_bytes, const LinkSpec& link);
// Ring all_reduce = reduce_scatter + all_gather:
//   t = 2(n-1) * alpha + 2(n-1)/n * bytes / B
double all_reduce_seconds(int64_t n, double bytes, const LinkSpec& link);
// Pairwise all_to_all with equal splits: each rank sends (n-1)/n of its input.
//   t = (n-1) * alpha + (n-1)/n * input_bytes / B
double all_to_all_seconds(int64_t n, double input_bytes, const LinkSpec& link);
// Gloo has no reduce_scatter: the executor runs all_to_all (same traffic as a ring
// reduce_scatter) and then sums the n received chunks locally (memory bound: reads input_bytes,
// writes input_bytes/n at mem_bw_Bps).
double gloo_reduce_scatter_seconds(int64_t n, double input_bytes, const LinkSpec& link, double mem_bw_Bps);

// Bytes Gloo's local sum reads and writes after that all_to_all: the input, and 1/n of it.
double gloo_local_sum_bytes(int64_t n, double input_bytes);

// The reduce_scatter the cluster's backend actually runs (NCCL ring, or Gloo's emulation).
double backend_reduce_scatter_seconds(const ClusterSpec& c, int64_t n, double input_bytes, const LinkSpec& link);

}  // namespace planner
