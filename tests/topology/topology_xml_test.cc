// hwloc XML of real machines (tests/data/topologies/README.md) and of a machine written here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/cluster_spec.h"
#include "core/error.h"
#include "core/units.h"
#include "topology/node_cluster.h"
#include "topology/probe.h"

using namespace planner;
using namespace planner::topo;

namespace {

const std::string kData = TOPOLOGY_TEST_DATA;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_file(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/topology-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

// The InputError message of f(), or "" if it does not throw one.
template <typename F>
std::string input_error(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// Gen3 x16 per direction: 8 GT/s x 128/130 x 16 lanes / 8 bits = 15.7538 GB/s.
constexpr double kGen3x16_Bps = 8e9 * 128.0 / 130.0 * 16 / 8;

}  // namespace

TEST(TopologyXml, Dgx2Has16V100sAllPairsThroughTheSwitchesAt6x25GBps) {
  NodeTopology t = read_hwloc_xml_file(kData + "/nvidia-dgx2.xml");
  EXPECT_EQ(t.host.machine, "NVIDIA DGX-2H");
  EXPECT_EQ(t.host.packages, 2);
  EXPECT_EQ(t.host.numa_nodes, 2);
  ASSERT_EQ(t.gpus.size(), 16u);  // the 12 NVSwitches are not GPUs
  ASSERT_EQ(t.planned_gpus().size(), 16u);
  for (size_t i = 0; i < 16; ++i) {
    const Gpu& g = t.gpus[i];
    EXPECT_EQ(g.name, "Tesla V100-SXM3-32GB-H");
    EXPECT_EQ(g.vendor_id, 0x10deu);
    EXPECT_EQ(g.package, i < 8 ? 0 : 1) << i;  // 8 GPUs per socket's PCIe tree
    // Six NVLink2 links, one into each NVSwitch of the GPU's baseboard: 6 x 25000 MB/s.
    ASSERT_EQ(g.nvlinks.size(), 6u) << i;
    for (const auto& l : g.nvlinks) {
      EXPECT_EQ(l.remote_kind, "nvswitch");
      EXPECT_EQ(l.links, 1);
      EXPECT_DOUBLE_EQ(l.bw_Bps, 25e9);
    }
    EXPECT_DOUBLE_EQ(g.nvlink_per_link_Bps, 25e9);
    EXPECT_NEAR(g.pci_path.front().link_Bps, kGen3x16_Bps, 1e3);  // pci_link_speed="15.753846"
  }
  EXPECT_TRUE(t.nvlink_known);
  GpuMatrix m = gpu_matrix(t);
  for (size_t a = 0; a < 16; ++a)
    for (size_t b = 0; b < 16; ++b) {
      if (a == b) continue;
      // Through the switch plane: min(6, 6) links x 25 GB/s = 150 GB/s, also across baseboards.
      EXPECT_EQ(m.pair[a][b].type, PathType::kNvSwitch) << a << "," << b;
      EXPECT_EQ(m.pair[a][b].nvlinks, 6);
      EXPECT_DOUBLE_EQ(m.pair[a][b].bw_Bps, 150e9);
    }
  auto rings = ring_bandwidths(m);
  ASSERT_EQ(rings.size(), 4u);  // 2, 4, 8, 16
  for (const auto& r : rings) EXPECT_DOUBLE_EQ(r.bw_Bps, 150e9) << r.group_size;
  EXPECT_EQ(rings.back().group_size, 16);
  // Skylake Xeon 8174 (family 6, model 85 = 0x55): NCCL's SKL_QPI_BW.
  EXPECT_DOUBLE_EQ(t.inter_socket_Bps, 10e9);
}

TEST(TopologyXml, Dgx2AsClusterFeedsTheSimulator) {
  NodeTopology t = read_hwloc_xml_file(kData + "/nvidia-dgx2.xml");
  ClusterOptions o;
  o.inter_node_gbps = 800;  // DGX-2: 8x 100 Gb/s EDR InfiniBand, not in the XML
  ClusterSpec c = cluster_from_topology(t, o);
  EXPECT_EQ(c.gpus_per_node, 16);
  EXPECT_EQ(c.backend, "nccl");
  EXPECT_EQ(c.device.name, "NVIDIA Tesla V100 SXM3 32GB");
  EXPECT_DOUBLE_EQ(c.device.memory_bytes, 32.0 * kGiB);
  EXPECT_DOUBLE_EQ(c.device.peak_bf16_flops_per_s, 125e12);
  EXPECT_DOUBLE_EQ(c.intra_node.bw_Bps, 150e9);
  EXPECT_NE(c.intra_node.name.find("NVLink2 via NVSwitch, 6 links x 25 GB/s"), std::string::npos) << c.intra_node.name;
  EXPECT_DOUBLE_EQ(c.intra_node.latency_s, 3.4e-6);
  // 800 Gb/s = 100 GB/s per node, over 16 GPUs = 6.25 GB/s per GPU.
  EXPECT_DOUBLE_EQ(c.inter_node.bw_Bps, 6.25e9);
  EXPECT_DOUBLE_EQ(c.inter_node.latency_s, 14e-6);
  // The file reads back as a cluster (planner-cluster/1).
  Json j = cluster_json_from_topology(t, c);
  ClusterSpec back = cluster_from_json(JsonReader(j, "probe.json"));
  EXPECT_DOUBLE_EQ(back.intra_node.bw_Bps, 150e9);
  EXPECT_EQ(back.gpus_per_node, 16);
}

TEST(TopologyXml, Dgx2AsClusterWithoutNicRatesAsksForTheFlag) {
  NodeTopology t = read_hwloc_xml_file(kData + "/nvidia-dgx2.xml");
  std::string e = input_error([&] { cluster_from_topology(t, ClusterOptions{}); });
  EXPECT_NE(e.find("--inter-node-gbps"), std::string::npos) << e;
}

TEST(TopologyXml, PcieServerPlansOnTheK40mAndReportsTheAmdGpu) {
  NodeTopology t = read_hwloc_xml_file(kData + "/dual-socket-pcie-k40m.xml");
  EXPECT_EQ(t.host.packages, 2);
  EXPECT_EQ(t.host.cores, 16);
  auto planned = t.planned_gpus();
  ASSERT_EQ(planned.size(), 1u);
  const Gpu& k40 = t.gpus[static_cast<size_t>(planned[0])];
  EXPECT_EQ(k40.name, "Tesla K40m");
  EXPECT_EQ(k40.busid, "0000:84:00.0");
  EXPECT_EQ(k40.package, 1);
  EXPECT_DOUBLE_EQ(k40.memory_bytes, 11796032.0 * 1024);  // CUDAGlobalMemorySize, KiB
  // The XML says pci_link_speed="0.000000": the K40m datasheet's PCIe Gen3 x16 fills in.
  EXPECT_NEAR(gpu_host_link_Bps(t, planned[0]), kGen3x16_Bps, 1e3);
  // The AMD Radeon (OpenCL device) is reported and not planned on.
  int amd = 0, nvidia_without_cuda = 0;
  for (const auto& g : t.gpus) {
    if (g.vendor == "AMD") {
      ++amd;
      EXPECT_FALSE(g.planned);
      EXPECT_NE(g.excluded_why.find("NVIDIA"), std::string::npos);
    }
    if (g.vendor_id == 0x10de && !g.planned) ++nvidia_without_cuda;
  }
  EXPECT_EQ(amd, 1);
  // 03:00.0 and 83:00.0 are NVIDIA PCI devices with no CUDA OS device (Tesla M2075, Fermi): not planned.
  EXPECT_EQ(nvidia_without_cuda, 2);
  EXPECT_FALSE(t.nvlink_known);
  // NICs: two I350 ports and a ConnectX-4 with its IPoIB netdev and verbs device on one function.
  ASSERT_EQ(t.nics.size(), 3u);
  int rdma = 0;
  for (const auto& n : t.nics)
    if (n.rdma) {
      ++rdma;
      EXPECT_EQ(n.name, "ib0 mlx5_0");
      EXPECT_EQ(n.kind, "InfiniBand");
    }
  EXPECT_EQ(rdma, 1);
  // E5-2650 (Sandy Bridge): NCCL's QPI_BW.
  EXPECT_DOUBLE_EQ(t.inter_socket_Bps, 6e9);
}

TEST(TopologyXml, PcieServerAsClusterUsesTheGen3x16HostLink) {
  NodeTopology t = read_hwloc_xml_file(kData + "/dual-socket-pcie-k40m.xml");
  ClusterOptions o;
  o.inter_node_gbps = 100;  // the ConnectX-4 at EDR 100 Gb/s
  ClusterSpec c = cluster_from_topology(t, o);
  EXPECT_EQ(c.gpus_per_node, 1);
  EXPECT_EQ(c.device.name, "NVIDIA Tesla K40m");
  EXPECT_NEAR(c.intra_node.bw_Bps, kGen3x16_Bps, 1e3);
  EXPECT_NE(c.intra_node.name.find("PCIe Gen3 x16"), std::string::npos) << c.intra_node.name;
  EXPECT_DOUBLE_EQ(c.intra_node.latency_s, 5.7e-6);
  EXPECT_DOUBLE_EQ(c.inter_node.bw_Bps, 12.5e9);  // 100 Gb/s / 8 bits / 1 GPU
}

TEST(TopologyXml, SummaryAndJsonNameTheFindings) {
  NodeTopology t = read_hwloc_xml_file(kData + "/nvidia-dgx2.xml");
  std::string s = summary_text(t);
  EXPECT_NE(s.find("16 found, 16 planned on"), std::string::npos) << s;
  EXPECT_NE(s.find("NVS:150"), std::string::npos);
  Json j = to_json(t);
  EXPECT_EQ(j["format"], "planner-topology/1");
  EXPECT_EQ(j["gpus"].size(), 16u);
  EXPECT_EQ(j["matrix"]["type"][0][1], "NVS");
  EXPECT_DOUBLE_EQ(j["matrix"]["bw_GBps"][0][1].get<double>(), 150.0);
  EXPECT_EQ(j["rings"].back()["group_size"], 16);
}

// ---- bad input: exit-2 errors that say what is wrong ----

TEST(TopologyXmlErrors, MissingFile) {
  std::string e = input_error([] { read_hwloc_xml_file("/nonexistent/topo.xml"); });
  EXPECT_NE(e.find("/nonexistent/topo.xml"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot read"), std::string::npos) << e;
}

TEST(TopologyXmlErrors, MalformedXml) {
  std::string xml = slurp(kData + "/nvidia-dgx2.xml");
  std::string path = temp_file("truncated.xml", xml.substr(0, xml.size() / 2));  // cut mid-element
  std::string e = input_error([&] { read_hwloc_xml_file(path); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("malformed"), std::string::npos) << e;
}

TEST(TopologyXmlErrors, NotTopologyXml) {
  std::string path = temp_file("not-topology.xml", "<?xml version=\"1.0\"?><cluster name=\"x\"/>\n");
  std::string e = input_error([&] { read_hwloc_xml_file(path); });
  EXPECT_NE(e.find("not an hwloc topology XML"), std::string::npos) << e;
}

TEST(TopologyXmlErrors, Hwloc3XmlSaysHowToConvert) {
  std::string xml = slurp(kData + "/nvidia-dgx2.xml");
  const std::string v2 = "<topology version=\"2.0\">";
  ASSERT_NE(xml.find(v2), std::string::npos);
  xml.replace(xml.find(v2), v2.size(), "<topology version=\"3.0\">");
  std::string path = temp_file("hwloc3.xml", xml);
  std::string e = input_error([&] { read_hwloc_xml_file(path); });
  EXPECT_NE(e.find("hwloc 3.x XML"), std::string::npos) << e;
  EXPECT_NE(e.find("--export-xml-flags v2"), std::string::npos) << e;
  EXPECT_NE(e.find("<topology version=\"2.0\">"), std::string::npos) << e;
}

// ---- a machine the fixtures do not have: 2 sockets, a PCIe switch per socket, 2 GPUs each ----

namespace {

std::string pcie_switch_server_xml() {
  // Written for this test in hwloc 2.x XML: per socket, host bridge -> switch upstream port
  // (Gen5 x16 = 63.0 GB/s) -> two downstream ports -> an H100 PCIe each (Gen5 x16).
  std::string x = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
 <object type="Machine" os_index="0" cpuset="0x0000000f" complete_cpuset="0x0000000f" allowed_cpuset="0x0000000f" nodeset="0x00000003" complete_nodeset="0x00000003" allowed_nodeset="0x00000003" gp_index="1">
  <info name="DMIProductName" value="Test PCIe switch server"/>
)";
  int gp = 10;
  for (int s = 0; s < 2; ++s) {
    const std::string cpus = s == 0 ? "0x00000003" : "0x0000000c";
    const std::string nodes = s == 0 ? "0x00000001" : "0x00000002";
    x += "  <object type=\"Package\" os_index=\"" + std::to_string(s) + "\" cpuset=\"" + cpus + "\" complete_cpuset=\"" + cpus +
         "\" nodeset=\"" + nodes + "\" complete_nodeset=\"" + nodes + "\" gp_index=\"" + std::to_string(gp++) + "\">\n";
    x += "   <info name=\"CPUVendor\" value=\"GenuineIntel\"/><info name=\"CPUFamilyNumber\" value=\"6\"/>"
         "<info name=\"CPUModelNumber\" value=\"143\"/><info name=\"CPUModel\" value=\"Intel(R) Xeon(R) Platinum 8480+\"/>\n";
    x += "   <object type=\"NUMANode\" os_index=\"" + std::to_string(s) + "\" cpuset=\"" + cpus + "\" complete_cpuset=\"" + cpus +
         "\" nodeset=\"" + nodes + "\" complete_nodeset=\"" + nodes + "\" gp_index=\"" + std::to_string(gp++) +
         "\" local_memory=\"274877906944\"/>\n";
    for (int c = 0; c < 2; ++c) {
      const int pu = s * 2 + c;
      char set[16];
      std::snprintf(set, sizeof set, "0x%08x", 1 << pu);
      x += "   <object type=\"Core\" os_index=\"" + std::to_string(pu) + "\" cpuset=\"" + set + "\" complete_cpuset=\"" + set +
           "\" nodeset=\"" + nodes + "\" complete_nodeset=\"" + nodes + "\" gp_index=\"" + std::to_string(gp++) + "\">\n";
      x += "    <object type=\"PU\" os_index=\"" + std::to_string(pu) + "\" cpuset=\"" + set + "\" complete_cpuset=\"" + set +
           "\" nodeset=\"" + nodes + "\" complete_nodeset=\"" + nodes + "\" gp_index=\"" + std::to_string(gp++) + "\"/>\n   </object>\n";
    }
    const int bus = s == 0 ? 0x10 : 0x90;
    char b[64];
    std::snprintf(b, sizeof b, "0000:[%02x-%02x]", bus, bus + 4);
    x += "   <object type=\"Bridge\" gp_index=\"" + std::to_string(gp++) + "\" bridge_type=\"0-1\" depth=\"0\" bridge_pci=\"" + b + "\">\n";
    std::snprintf(b, sizeof b, "0000:[%02x-%02x]", bus + 1, bus + 4);
    char id[32];
    std::snprintf(id, sizeof id, "0000:%02x:00.0", bus);
    x += "    <object type=\"Bridge\" gp_index=\"" + std::to_string(gp++) + "\" bridge_type=\"1-1\" depth=\"1\" bridge_pci=\"" + b +
         "\" pci_busid=\"" + id + "\" pci_type=\"0604 [1000:c030] [1000:a064] b0\" pci_link_speed=\"63.015385\">\n";
    for (int d = 0; d < 2; ++d) {
      const int sub = bus + 2 + d;
      std::snprintf(b, sizeof b, "0000:[%02x-%02x]", sub, sub);
      std::snprintf(id, sizeof id, "0000:%02x:%02x.0", bus + 1, d);
      x += "     <object type=\"Bridge\" gp_index=\"" + std::to_string(gp++) + "\" bridge_type=\"1-1\" depth=\"2\" bridge_pci=\"" + b +
           "\" pci_busid=\"" + id + "\" pci_type=\"0604 [1000:c030] [1000:a064] b0\" pci_link_speed=\"63.015385\">\n";
      std::snprintf(id, sizeof id, "0000:%02x:00.0", sub);
      x += "      <object type=\"PCIDev\" gp_index=\"" + std::to_string(gp++) + "\" pci_busid=\"" + id +
           "\" pci_type=\"0302 [10de:2331] [10de:1626] a1\" pci_link_speed=\"63.015385\">\n";
      x += "       <object type=\"OSDev\" gp_index=\"" + std::to_string(gp++) + "\" name=\"cuda" + std::to_string(s * 2 + d) +
           "\" subtype=\"CUDA\" osdev_type=\"5\"><info name=\"Backend\" value=\"CUDA\"/>"
           "<info name=\"GPUModel\" value=\"NVIDIA H100 PCIe\"/></object>\n      </object>\n     </object>\n";
    }
    x += "    </object>\n   </object>\n  </object>\n";
  }
  x += " </object>\n</topology>\n";
  return x;
}

}  // namespace

TEST(TopologyXml, UnseenPcieSwitchServerPricesPixInsideASocketAndSysAcross) {
  NodeTopology t = topology_from_hwloc_xml(pcie_switch_server_xml(), "pcie-switch-server.xml");
  ASSERT_EQ(t.planned_gpus().size(), 4u);
  GpuMatrix m = gpu_matrix(t);
  // Gen5 x16: 32 GT/s x 128/130 x 16 / 8 = 63.015 GB/s.
  const double gen5 = 32e9 * 128.0 / 130.0 * 16 / 8;
  EXPECT_EQ(m.pair[0][1].type, PathType::kPix);  // same switch
  EXPECT_NEAR(m.pair[0][1].bw_Bps, gen5, 1e6);
  EXPECT_EQ(m.pair[0][2].type, PathType::kSys);  // other socket
  EXPECT_DOUBLE_EQ(m.pair[0][2].bw_Bps, 10e9);   // Sapphire Rapids (model 143 >= 0x55): SKL_QPI_BW
  auto rings = ring_bandwidths(m);
  ASSERT_EQ(rings.size(), 2u);
  EXPECT_NEAR(rings[0].bw_Bps, gen5, 1e6);  // pairs {0,1} and {2,3} stay on their switch
  EXPECT_DOUBLE_EQ(rings[1].bw_Bps, 10e9);  // a ring of 4 crosses the sockets twice
  EXPECT_EQ(rings[1].bottleneck, PathType::kSys);
  ClusterOptions o;
  o.inter_node_gbps = 400;
  ClusterSpec c = cluster_from_topology(t, o);
  EXPECT_EQ(c.device.name, "NVIDIA H100 PCIe 80GB");
  EXPECT_DOUBLE_EQ(c.intra_node.bw_Bps, 10e9);
  EXPECT_DOUBLE_EQ(c.intra_node.latency_s, 5.7e-6);
  EXPECT_DOUBLE_EQ(c.inter_node.bw_Bps, 12.5e9);  // 400 Gb/s = 50 GB/s over 4 GPUs
}

TEST(TopologyXml, UnknownGpuNameAsksForTheGpuFlag) {
  std::string xml = pcie_switch_server_xml();
  for (size_t p; (p = xml.find("NVIDIA H100 PCIe")) != std::string::npos;) xml.replace(p, 16, "NVIDIA L40S");
  NodeTopology t = topology_from_hwloc_xml(xml, "l40s.xml");
  ClusterOptions o;
  o.inter_node_gbps = 400;
  std::string e = input_error([&] { cluster_from_topology(t, o); });
  EXPECT_NE(e.find("'NVIDIA L40S'"), std::string::npos) << e;
  EXPECT_NE(e.find("--gpu"), std::string::npos) << e;
  EXPECT_NE(e.find("--peak-bf16-tflops"), std::string::npos) << e;
  // With the datasheet numbers given, it plans.
  o.peak_bf16_tflops = 362.05;
  o.peak_fp32_tflops = 91.6;
  o.memory_gib = 48;
  o.mem_bw_GBps = 864;
  ClusterSpec c = cluster_from_topology(t, o);
  EXPECT_EQ(c.device.name, "NVIDIA L40S");
  EXPECT_DOUBLE_EQ(c.device.memory_bytes, 48 * kGiB);
}

// ---- XML that crashed libhwloc or loaded as another machine (topology/hwloc_xml_check.h) ----

namespace {

const std::string kFuzzSeed = std::string(TOPOLOGY_TEST_DATA) + "/../fuzz/hwloc/two-gpu-node.xml";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

std::string without_line(const std::vector<std::string>& lines, size_t skip) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i)
    if (i != skip) out += lines[i] + "\n";
  return out;
}

}  // namespace

TEST(TopologyXmlCheck, TheFixturesPass) {
  EXPECT_NO_THROW(read_hwloc_xml_file(kData + "/nvidia-dgx2.xml"));
  EXPECT_NO_THROW(read_hwloc_xml_file(kData + "/dual-socket-pcie-k40m.xml"));
  NodeTopology t = read_hwloc_xml_file(kFuzzSeed);
  EXPECT_EQ(t.host.pus, 4);
  EXPECT_EQ(t.planned_gpus().size(), 2u);
}

TEST(TopologyXmlCheck, AMissingCompleteCpusetIsAnErrorNotACrash) {
  std::string xml = slurp(kData + "/nvidia-dgx2.xml");
  const size_t at = xml.find(" complete_cpuset=\"0x00000001\"");  // the first Core's L2 cache
  ASSERT_NE(at, std::string::npos);
  xml.erase(at, std::string(" complete_cpuset=\"0x00000001\"").size());
  const std::string e = input_error([&] { topology_from_hwloc_xml(xml, "dgx2.xml"); });
  EXPECT_NE(e.find("dgx2.xml: field 'line 17': <object type=\"L2Cache\">: attribute complete_cpuset is missing"),
            std::string::npos)
      << e;
}

TEST(TopologyXmlCheck, DeepNestingIsAnErrorNotACrash) {
  std::string xml = slurp(kFuzzSeed);
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<object type=\"Group\">";
  xml.insert(xml.find("<object type=\"Bridge\""), deep);
  const std::string e = input_error([&] { topology_from_hwloc_xml(xml, "deep.xml"); });
  EXPECT_NE(e.find("elements nested deeper than 64 (the limit)"), std::string::npos) << e;
}

TEST(TopologyXmlCheck, EveryLineDeletedIsRejectedUnlessItOnlyAnnotates) {
  // The seed describes 4 PUs, 2 cores, 1 NUMA node and 2 GPUs linked by NVLink. Deleting any one
  // line must not load as another machine: it is rejected, unless the line carries no structure
  // (an <info> annotation, the XML declaration, the DOCTYPE).
  const std::vector<std::string> lines = lines_of(slurp(kFuzzSeed));
  ASSERT_GT(lines.size(), 30u);
  int rejected = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const bool annotation = l.find("<info ") != std::string::npos || l.rfind("<?xml", 0) == 0 || l.rfind("<!DOCTYPE", 0) == 0;
    const std::string e = input_error([&] { topology_from_hwloc_xml(without_line(lines, i), "cut.xml"); });
    if (annotation) {
      EXPECT_EQ(e, "") << "line " << i + 1 << ": " << l;
    } else {
      EXPECT_NE(e, "") << "deleting line " << i + 1 << " was accepted: " << l;
      ++rejected;
    }
  }
  EXPECT_GE(rejected, 25);
}

TEST(TopologyXmlCheck, AMissingPuNumaNodeOrGpuIsNamed) {
  const std::vector<std::string> lines = lines_of(slurp(kData + "/nvidia-dgx2.xml"));
  auto find = [&](const std::string& part) {
    for (size_t i = 0; i < lines.size(); ++i)
      if (lines[i].find(part) != std::string::npos) return i;
    ADD_FAILURE() << part;
    return size_t{0};
  };
  // A PU: its core's CPUs are held by no child.
  std::string e = input_error([&] { topology_from_hwloc_xml(without_line(lines, find("type=\"PU\" os_index=\"1\"")), "a.xml"); });
  EXPECT_NE(e.find("no child object holds these CPUs"), std::string::npos) << e;
  // A NUMA node: the machine's nodeset names a node no object is.
  e = input_error([&] { topology_from_hwloc_xml(without_line(lines, find("type=\"NUMANode\" os_index=\"1\"")), "b.xml"); });
  EXPECT_NE(e.find("a NUMA node missing?"), std::string::npos) << e;
  // A GPU's NVML device (a self-closing line would go unseen; this one is named by NVLinkBandwidth).
  std::string xml = slurp(kData + "/nvidia-dgx2.xml");
  const size_t a = xml.find("<object type=\"OSDev\" gp_index=\"802\"");
  const size_t b = xml.find("</object>", a) + std::string("</object>").size();
  xml.erase(a, b - a);
  e = input_error([&] { topology_from_hwloc_xml(xml, "c.xml"); });
  EXPECT_NE(e.find("names object OSDev:802 (gp_index), which the topology does not have"), std::string::npos) << e;
}

TEST(TopologyXmlCheck, SpecialFilesAreRefused) {
  std::string e = input_error([] { read_hwloc_xml_file("/dev/zero"); });
  EXPECT_NE(e.find("is not a regular file"), std::string::npos) << e;
}
