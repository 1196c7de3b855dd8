// `planner probe` through the real binary: output, exit codes, the cluster file, and probe -> plan.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/cluster_spec.h"
#include "core/json_io.h"

#include "support/run_binary.h"

namespace {

const std::string kData = TOPOLOGY_TEST_DATA;

struct Result {
  int rc = -1;
  std::string out;  // stdout and stderr together
};

// Runs the planner binary with `args` (shell words); bounded by `timeout 120`.
Result run_planner(const std::string& args, const std::string& env = "") {
  const auto r = ::planner::testing::run_planner(args, 120, env);
  return {r.exit_code, r.output};
}

// Per-process names: several builds may run their suites at once.
std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/probe-cli-" + std::to_string(::getpid()) + "-" + name;
}

}  // namespace

TEST(ProbeCli, DescribesThisMachine) {
  Result r = run_planner("probe");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("Host:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NVLink:"), std::string::npos) << r.out;
  Result j = run_planner("probe --format json -o " + tmp("this.json"));
  ASSERT_EQ(j.rc, 0) << j.out;
  planner::Json parsed = planner::read_json_file(tmp("this.json"));
  EXPECT_EQ(parsed["format"], "planner-topology/1");
  EXPECT_GE(parsed["host"]["cores"].get<int>(), 1);
}

TEST(ProbeCli, CpuHostClusterFile) {
  const std::string path = tmp("cpu-host.json");
  Result r = run_planner("probe --as-cluster --ranks 2 -o " + path);
  ASSERT_EQ(r.rc, 0) << r.out;
  planner::ClusterSpec c = planner::read_cluster_file(path);
  // This host has no GPU (if it had one, the probe would plan on it and refuse --ranks).
  EXPECT_EQ(c.backend, "gloo");
  EXPECT_EQ(c.gpus_per_node, 2);
}

TEST(ProbeCli, FakeNvmlGpusBecomeTheNode) {
  const std::string path = tmp("fake-h100.json");
  Result r = run_planner("probe --nvml-library " + std::string(FAKE_NVML_LIBRARY) + " --as-cluster --inter-node-gbps 3200 -o " + path,
                  "FAKE_NVML_CONFIG=" + kData + "/fake-nvml-hgx-h100.txt");
  ASSERT_EQ(r.rc, 0) << r.out;
  planner::ClusterSpec c = planner::read_cluster_file(path);
  EXPECT_EQ(c.gpus_per_node, 8);
  EXPECT_DOUBLE_EQ(c.intra_node.bw_Bps, 450e9);  // 18 links x 25 GB/s
  EXPECT_DOUBLE_EQ(c.inter_node.bw_Bps, 50e9);   // 3200 Gb/s / 8 / 8 GPUs
}

TEST(ProbeCli, BadInputExitsTwoWithAClearError) {
  Result missing = run_planner("probe --xml /nonexistent/x.xml");
  EXPECT_EQ(missing.rc, 2) << missing.out;
  EXPECT_NE(missing.out.find("error: /nonexistent/x.xml"), std::string::npos) << missing.out;

  {
    std::ifstream in(kData + "/nvidia-dgx2.xml");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string xml = ss.str();
    std::ofstream(tmp("half.xml")) << xml.substr(0, 5000);  // cut inside an element
    xml.replace(xml.find("version=\"2.0\""), 13, "version=\"3.0\"");
    std::ofstream(tmp("v3.xml")) << xml;
  }
  Result v3 = run_planner("probe --xml " + tmp("v3.xml"));
  EXPECT_EQ(v3.rc, 2) << v3.out;
  EXPECT_NE(v3.out.find("--export-xml-flags v2"), std::string::npos) << v3.out;
  Result half = run_planner("probe --xml " + tmp("half.xml"));
  EXPECT_EQ(half.rc, 2) << half.out;
  EXPECT_NE(half.out.find("malformed"), std::string::npos) << half.out;

  std::ofstream(tmp("paste.txt")) << "GPU0 GPU1\nGPU0 X NVX\nGPU1 NV2 X\n";
  Result smi = run_planner("probe --nvidia-smi-topo " + tmp("paste.txt"));
  EXPECT_EQ(smi.rc, 2) << smi.out;
  EXPECT_NE(smi.out.find("'NVX'"), std::string::npos) << smi.out;

  Result unknown_gpu = run_planner("probe --nvidia-smi-topo " + kData + "/hgx-h100.topo.txt --gpu h100-sxm9");
  EXPECT_EQ(unknown_gpu.rc, 2) << unknown_gpu.out;
  EXPECT_NE(unknown_gpu.out.find("h100-sxm5-80gb"), std::string::npos) << unknown_gpu.out;
}

// End to end: the probed file is what `planner plan --cluster` takes.
TEST(ProbeCli, ProbedCpuHostPlans) {
  const std::string path = tmp("cpu-node.json");
  ASSERT_EQ(run_planner("probe --as-cluster --ranks 2 -o " + path).rc, 0);
  Result plan = run_planner("plan --cluster " + path + " --nodes 1 --model llama-tiny");
  EXPECT_EQ(plan.rc, 0) << plan.out;
  EXPECT_FALSE(plan.out.empty());
}

TEST(ProbeCli, ProbedDgx2PlansOn16Nodes) {
  const std::string path = tmp("dgx2-node.json");
  Result probe = run_planner("probe --xml " + kData + "/nvidia-dgx2.xml --as-cluster --inter-node-gbps 800 -o " + path);
  ASSERT_EQ(probe.rc, 0) << probe.out;
  Result plan = run_planner("plan --cluster " + path + " --nodes 16 --model llama3-8b");
  EXPECT_EQ(plan.rc, 0) << plan.out;
  EXPECT_FALSE(plan.out.empty());
}
