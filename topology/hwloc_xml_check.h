// A check of hwloc XML before libhwloc reads it. libhwloc trusts its input: an object without
// complete_cpuset, or a tree nested thousands deep, crashes it, and a file with one line deleted
// (a PU, a NUMA node, a GPU named by the NVLink matrix) loads as another machine. This check
// parses the XML itself (bounded: size, depth, element count) and applies hwloc's own invariants
// (hwloc_topology_check in hwloc's topology.c) to the object tree:
//  - every CPU-side object has cpuset, complete_cpuset, nodeset and complete_nodeset, parseable,
//    with cpuset within complete_cpuset and nodeset within complete_nodeset;
//  - a PU's cpuset is exactly its os_index, a NUMA node's nodeset exactly its os_index;
//  - an object's cpuset is the disjoint union of its normal children's cpusets (a missing PU or
//    core leaves CPUs no child holds), its memory children's cpusets lie within it;
//  - the machine's nodeset is the union of its NUMA nodes' nodesets (a missing NUMA node);
//  - a distances matrix has nbobjs indexes and nbobjs^2 values, and every object it names exists.
// Any failure is an InputError naming the file and the line.
#pragma once
#include <string>

namespace planner::topo {

constexpr int kMaxXmlDepth = 64;              // hwloc trees nest ~20 deep (Machine ... PCI ... OSDev)
constexpr size_t kMaxXmlElements = 1 << 20;   // a 4,096-CPU machine writes ~30,000 elements
constexpr size_t kMaxBitmapWords = 4096;      // 131,072 CPUs or NUMA nodes

void check_hwloc_xml(const std::string& xml, const std::string& where);

}  // namespace planner::topo
