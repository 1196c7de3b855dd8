#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/cluster_spec.h"
#include "core/error.h"
#include "core/json_io.h"
#include "support/input_error.h"
#include "core/plan_file.h"
#include "topology/cluster_presets.h"

namespace planner {
namespace {


TEST(JsonReader, ErrorsNameFileFieldValueAndRange) {
  Json j = Json::parse(R"({"a": -3, "b": "x", "c": {"d": true}, "e": "blue"})");
  JsonReader r(j, "f.json");
  EXPECT_EQ(testing::input_error_message([&] { r.get_int("a", 1); }), "f.json: field 'a': value -3 is out of range; must be >= 1");
  EXPECT_EQ(testing::input_error_message([&] { r.get_int("b", 1); }), "f.json: field 'b': expected an integer, got a string (\"x\")");
  EXPECT_EQ(testing::input_error_message([&] { r.get_int("zz", 1); }), "f.json: field 'zz': missing (required)");
  EXPECT_EQ(testing::input_error_message([&] { r.child("c").get_number("d", 0.0); }),
            "f.json: field 'c.d': expected a number, got a boolean (true)");
  EXPECT_EQ(testing::input_error_message([&] { r.get_enum("e", {"red", "green"}); }),
            "f.json: field 'e': value 'blue' is not allowed; allowed: 'red', 'green'");
}

TEST(ClusterJson, RoundTripOfEveryPreset) {
  for (const auto& name : cluster_preset_names()) {
    ClusterSpec c = resolve_cluster(name);
    Json j = cluster_to_json(c);
    ClusterSpec back = cluster_from_json(JsonReader(j, name));
    EXPECT_DOUBLE_EQ(back.device.peak_bf16_flops_per_s, c.device.peak_bf16_flops_per_s) << name;
    EXPECT_DOUBLE_EQ(back.device.memory_bytes, c.device.memory_bytes) << name;
    EXPECT_DOUBLE_EQ(back.intra_node.bw_Bps, c.intra_node.bw_Bps) << name;
    EXPECT_DOUBLE_EQ(back.inter_node.latency_s, c.inter_node.latency_s) << name;
    EXPECT_EQ(back.gpus_per_node, c.gpus_per_node) << name;
  }
}

TEST(ClusterJson, IncompleteAndUnknownFields) {
  Json j = cluster_to_json(resolve_cluster("h100-sxm"));
  j["device"].erase("memory_gib");
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(j, "node.json")); }),
            "node.json: field 'device.memory_gib': missing (required)");
  j = cluster_to_json(resolve_cluster("h100-sxm"));
  j["intra_node"]["bandwidth"] = 3;
  EXPECT_NE(testing::input_error_message([&] { cluster_from_json(JsonReader(j, "node.json")); }).find("field 'intra_node.bandwidth': unknown field"),
            std::string::npos);
  j = cluster_to_json(resolve_cluster("h100-sxm"));
  j["efficiency"]["gemm"] = 1.5;
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(j, "node.json")); }),
            "node.json: field 'efficiency.gemm': must be in (0, 1], got 1.500000");
}

TEST(ClusterJson, EagerOpOverheadDefaultsToTheGemmOverhead) {
  Json j = cluster_to_json(resolve_cluster("cpu-gloo"));
  j["efficiency"]["gemm_overhead_us"] = 7.0;
  j["efficiency"].erase("op_overhead_us");  // a profile written before the field existed
  EXPECT_DOUBLE_EQ(cluster_from_json(JsonReader(j, "old.json")).efficiency.op_overhead_s, 7e-6);
  j["efficiency"]["op_overhead_us"] = 25.0;
  EXPECT_DOUBLE_EQ(cluster_from_json(JsonReader(j, "new.json")).efficiency.op_overhead_s, 25e-6);
}

TEST(ClusterJson, CalibratedCollectiveTable) {
  Json j = cluster_to_json(resolve_cluster("cpu-gloo"));
  j["collectives"] = Json::parse(R"([
    {"kind": "all_reduce", "group_size": 4, "stride": 1, "latency_us": 300, "bw_GBps": 0.9},
    {"kind": "all_gather", "group_size": 2, "stride": 2, "latency_us": 250, "bw_GBps": 1.5}])");
  ClusterSpec c = cluster_from_json(JsonReader(j, "profile.json"));
  ASSERT_EQ(c.collectives.size(), 2u);
  EXPECT_EQ(c.collectives[1].kind, "all_gather");
  EXPECT_EQ(c.collectives[1].stride, 2);
  EXPECT_DOUBLE_EQ(c.collectives[0].link.latency_s, 300e-6);
  EXPECT_DOUBLE_EQ(c.collectives[0].link.bw_Bps, 0.9e9);
  EXPECT_DOUBLE_EQ(c.collectives[0].link.efficiency, 1.0);
  // Written back as read.
  ClusterSpec back = cluster_from_json(JsonReader(cluster_to_json(c), "again.json"));
  ASSERT_EQ(back.collectives.size(), 2u);
  EXPECT_DOUBLE_EQ(back.collectives[1].link.bw_Bps, 1.5e9);

  Json bad = j;
  bad["collectives"][1]["kind"] = "broadcast";
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }),
            "profile.json: field 'collectives[1].kind': value 'broadcast' is not allowed; allowed: 'all_gather', "
            "'reduce_scatter', 'all_reduce'");
  bad = j;
  bad["collectives"][0]["bw_GBps"] = 0;
  EXPECT_NE(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }).find("'collectives[0].bw_GBps'"),
            std::string::npos);
  bad = j;
  bad["collectives"] = Json::object();
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }),
            "profile.json: field 'collectives': expected an array of objects, got an object");
  bad = j;
  bad["collectives"][1] = bad["collectives"][0];
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }),
            "profile.json: field 'collectives[1].kind': a second entry for all_reduce group_size 4 stride 1");
}

TEST(ClusterJson, EntriesAfterDifferentComputeAreOneGroupEach) {
  Json j = cluster_to_json(resolve_cluster("cpu-gloo"));
  j["collectives"] = Json::parse(R"([
    {"kind": "all_reduce", "group_size": 2, "stride": 1, "latency_us": 400, "bw_GBps": 0.6, "after_compute_us": 0},
    {"kind": "all_reduce", "group_size": 2, "stride": 1, "latency_us": 900, "bw_GBps": 0.5, "after_compute_us": 3500}])");
  ClusterSpec c = cluster_from_json(JsonReader(j, "profile.json"));
  ASSERT_EQ(c.collectives.size(), 2u);
  EXPECT_DOUBLE_EQ(c.collectives[0].after_compute_s, 0.0);
  EXPECT_DOUBLE_EQ(c.collectives[1].after_compute_s, 3.5e-3);
  Json again = cluster_to_json(c);
  EXPECT_DOUBLE_EQ(again["collectives"][1]["after_compute_us"].get<double>(), 3500.0);
  Json bad = j;
  bad["collectives"][1]["after_compute_us"] = 0;
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }),
            "profile.json: field 'collectives[1].after_compute_us': a second entry for all_reduce group_size 2 stride 1 "
            "after_compute_us 0.000000");
  bad = j;
  bad["collectives"][1].erase("after_compute_us");
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }),
            "profile.json: field 'collectives[1].after_compute_us': given for some entries of all_reduce group_size 2 "
            "stride 1 but not all: give it on every entry of a group or on none");
  bad = j;
  bad["collectives"][0]["after_compute_us"] = -1;
  EXPECT_NE(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }).find("'collectives[0].after_compute_us'"),
            std::string::npos);
}

TEST(ClusterJson, HiddenFractionIsOptionalAndBounded) {
  Json j = cluster_to_json(resolve_cluster("cpu-gloo"));
  j["collectives"] = Json::parse(R"([
    {"kind": "all_gather", "group_size": 4, "stride": 1, "latency_us": 300, "bw_GBps": 0.9, "hidden_fraction": 0.25},
    {"kind": "all_reduce", "group_size": 4, "stride": 1, "latency_us": 300, "bw_GBps": 0.9}])");
  ClusterSpec c = cluster_from_json(JsonReader(j, "profile.json"));
  EXPECT_DOUBLE_EQ(c.collectives[0].hidden_fraction, 0.25);
  EXPECT_LT(c.collectives[1].hidden_fraction, 0);  // not measured
  Json again = cluster_to_json(c);
  EXPECT_DOUBLE_EQ(again["collectives"][0]["hidden_fraction"].get<double>(), 0.25);
  EXPECT_FALSE(again["collectives"][1].contains("hidden_fraction"));
  Json bad = j;
  bad["collectives"][0]["hidden_fraction"] = 1.5;
  EXPECT_EQ(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }),
            "profile.json: field 'collectives[0].hidden_fraction': must be between 0 and 1 (the fraction of the "
            "collective hidden behind compute), got 1.500000");
  bad["collectives"][0]["hidden_fraction"] = -0.5;
  EXPECT_NE(testing::input_error_message([&] { cluster_from_json(JsonReader(bad, "profile.json")); }).find("'collectives[0].hidden_fraction'"),
            std::string::npos);
}

TEST(PlanFile, WriteReadAtomic) {
  PlanFile f;
  f.model = resolve_model("llama-tiny");
  f.training.seq_len = 64;
  f.training.global_batch = 8;
  f.training.precision = Precision::fp32;
  f.plan.dp = 2;
  f.plan.tp = 2;
  f.plan.ac = ActivationCheckpointing::full;
  std::string path = ::testing::TempDir() + "/plan.json";
  write_plan_file(path, f);
  PlanFile g = read_plan_file(path);
  EXPECT_EQ(g.plan.dp, 2);
  EXPECT_EQ(g.plan.ac, ActivationCheckpointing::full);
  EXPECT_EQ(g.training.precision, Precision::fp32);
  EXPECT_EQ(g.model.n_kv_heads, 4);
  std::ifstream tmp(path + ".tmp." + std::to_string(::getpid()));
  EXPECT_FALSE(tmp.good()) << "temporary file left behind";
}

}  // namespace
}  // namespace planner

namespace planner {
namespace {

TEST(TrainingJson, ReduceDtypeIsWrittenOnlyWhenSetAndRoundTrips) {
  TrainingSpec t;
  EXPECT_FALSE(training_to_json(t).contains("reduce_dtype"));  // the precision's own: older documents read alike
  t.precision = Precision::bf16;
  t.reduce_dtype = ReduceDtype::fp32;
  const Json j = training_to_json(t);
  EXPECT_EQ(j["reduce_dtype"], "fp32");
  const TrainingSpec back = training_from_json(JsonReader(j, "plan.json", "training"));
  EXPECT_EQ(back.reduce_dtype, ReduceDtype::fp32);
  EXPECT_EQ(precision_bytes(back).reduce, 4);
  EXPECT_EQ(precision_bytes(back).compute, 2);
  Json bad = j;
  bad["reduce_dtype"] = "fp16";
  try {
    training_from_json(JsonReader(bad, "plan.json", "training"));
    FAIL() << "accepted reduce_dtype fp16";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("plan.json: field 'training.reduce_dtype'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'auto', 'fp32', 'bf16'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace planner
