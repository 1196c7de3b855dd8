// Limits on user input (core/limits.h) and safe reading and writing of files (core/json_io.h):
// every case of the reliability issue that a unit reaches -- deep nesting, huge values in
// messages, integers past int64 or past a bound, special files as input and as output.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/cluster_spec.h"
#include "core/error.h"
#include "core/json_io.h"
#include "support/input_error.h"
#include "core/limits.h"
#include "core/model_spec.h"
#include "core/plan_file.h"

namespace planner {
namespace {


bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/limits-" + std::to_string(::getpid()) + "-" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(JsonLimits, NestingDeeperThanTheLimitIsAnErrorNotAStackOverflow) {
  // 100,000 nested arrays crashed every reader (nlohmann's recursion) before the limit.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string e = testing::input_error_message([&] { parse_json_text(deep, "deep.json"); });
  EXPECT_TRUE(has(e, "deep.json: malformed JSON at byte 129: nested deeper than 128")) << e;
  // At the limit: parsed. Brackets inside strings do not count.
  const std::string ok = std::string(128, '[') + std::string(128, ']');
  EXPECT_NO_THROW(parse_json_text(ok, "ok.json"));
  EXPECT_NO_THROW(parse_json_text("{\"a\": \"" + std::string(1000, '[') + "\"}", "s.json"));
}

TEST(JsonLimits, AHugeValueIsCutInTheMessage) {
  // A 10 MB string where an enum is expected: the message quotes 200 characters and the size.
  const Json j = {{"kind", std::string(10 << 20, 'x')}};
  const std::string e = testing::input_error_message([&] { JsonReader(j, "m.json").get_enum("kind", {"llama", "feedforward"}); });
  EXPECT_LT(e.size(), 1000u);
  EXPECT_TRUE(has(e, "m.json: field 'kind': value 'xxx")) << e.substr(0, 300);
  EXPECT_TRUE(has(e, "... (10485760 bytes)")) << e.substr(0, 300);
  // Any InputError is capped: where and field at 512 characters, the message at 8 KiB.
  const InputError big(std::string(1 << 20, 'w'), "", std::string(1 << 20, 'm'));
  EXPECT_LT(std::string(big.what()).size(), 9000u);
}

TEST(JsonLimits, IntegersPastInt64AndPastTheirBound) {
  const Json j = Json::parse(R"({"u": 18446744073709551615, "big": 9223372036854775807, "ok": 4096})");
  JsonReader r(j, "n.json");
  EXPECT_EQ(testing::input_error_message([&] { r.get_int("u", 1); }),
            "n.json: field 'u': value 18446744073709551615 is out of range; must fit a 64-bit signed integer");
  EXPECT_EQ(testing::input_error_message([&] { r.get_int_in("big", 1, limits::kMaxSeqLen); }),
            "n.json: field 'big': value 9223372036854775807 is out of range; must be in [1, 16777216]");
  EXPECT_EQ(r.get_int_in("ok", 1, 4096), 4096);
  EXPECT_EQ(testing::input_error_message([&] { checked_mul(int64_t{1} << 32, int64_t{1} << 31, "--x", ""); }),
            "--x: 4294967296 x 2147483648 does not fit a 64-bit integer");
  EXPECT_EQ(checked_mul(int64_t{1} << 31, int64_t{1} << 31, "--x", ""), int64_t{1} << 62);
}

TEST(JsonLimits, ATypeErrorDeepInADocumentNamesItsJsonPointer) {
  const Json doc = Json::parse(R"({"rows": [{"step_s": 1.0}, {"step_s": "slow"}]})");
  try {
    (void)doc.at("rows").at(1).at("step_s").get<double>();
    FAIL() << "no type error";
  } catch (const Json::exception& e) {
    const std::string m = json_exception_error(e, "v.json", "not a valid document: ").what();
    EXPECT_EQ(m, "v.json: field '/rows/1/step_s': not a valid document: type must be number, but is string");
  }
}

TEST(ModelLimits, ShapesPastTheBoundsNameTheField) {
  Json hf = {{"hidden_size", int64_t{1} << 40}, {"intermediate_size", 14336}, {"num_hidden_layers", 32},
             {"num_attention_heads", 32}, {"vocab_size", 128256}};
  EXPECT_TRUE(has(testing::input_error_message([&] { model_from_hf_config(hf, "c.json"); }),
                  "c.json: field 'hidden_size': must be in [1, 1048576], got 1099511627776"));
  hf["hidden_size"] = 4096;
  hf["num_hidden_layers"] = int64_t{1} << 62;
  EXPECT_TRUE(has(testing::input_error_message([&] { model_from_hf_config(hf, "c.json"); }), "field 'num_hidden_layers': must be in [1, 65536]"));
  // Each bound holds but heads x head_dim = 65536 x 1024 = 2^26 is past 2^20.
  hf["num_hidden_layers"] = 32;
  hf["num_attention_heads"] = 65536;
  hf["head_dim"] = 1024;
  EXPECT_TRUE(has(testing::input_error_message([&] { model_from_hf_config(hf, "c.json"); }),
                  "field 'num_attention_heads * head_dim': must be in [1, 1048576], got 67108864"));
  EXPECT_TRUE(has(testing::input_error_message([] { resolve_model("feedforward:99999999999999999999x8"); }), "feedforward:DIMxHIDDEN"));
  EXPECT_TRUE(has(testing::input_error_message([] { resolve_model(std::string(100000, 'q')); }), "(100000 bytes)"));
}

TEST(PlanLimits, SeqLenPastTheBoundIsRefusedNotNegativeTokens) {
  // seq_len 2^63 - 1 used to give negative tokens per step and a "feasible" plan.
  PlanFile f;
  f.model = resolve_model("llama-tiny");
  Json j = plan_file_to_json(f);
  j["training"]["seq_len"] = INT64_MAX;
  EXPECT_EQ(testing::input_error_message([&] { plan_file_from_json(j, "p.json"); }),
            "p.json: field 'training.seq_len': value 9223372036854775807 is out of range; must be in [1, 16777216]");
  j = plan_file_to_json(f);
  j["plan"]["micro_batch"] = int64_t{1} << 40;
  EXPECT_TRUE(has(testing::input_error_message([&] { plan_file_from_json(j, "p.json"); }), "field 'plan.micro_batch'"));
}

TEST(ClusterLimits, TheWorldIsBounded) {
  ClusterSpec c;
  c.device.memory_bytes = 80e9;
  c.gpus_per_node = 8;
  c.num_nodes = int64_t{1} << 20;  // 8 x 2^20 GPUs: past the 2^20 world
  EXPECT_EQ(testing::input_error_message([&] { validate_cluster(c, "c.json"); }),
            "c.json: field 'num_nodes': 1048576 nodes x 8 GPUs = 8388608 ranks; the limit is 1048576");
}

TEST(InputFiles, SpecialFilesAreRefusedAtOnce) {
  // A FIFO nobody writes to used to block the reader forever; /dev/zero read forever.
  const std::string fifo = temp_path("fifo.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(has(testing::input_error_message([&] { read_json_file(fifo); }), "is not a regular file (a FIFO, a device or a socket)"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  ::unlink(fifo.c_str());
  EXPECT_TRUE(has(testing::input_error_message([] { read_json_file("/dev/zero"); }), "/dev/zero: is not a regular file"));
  EXPECT_TRUE(has(testing::input_error_message([] { read_json_file("/"); }), "/: is a directory"));
  EXPECT_TRUE(has(testing::input_error_message([] { read_json_file("/nonexistent/x.json"); }), "cannot read a JSON file: No such file"));
}

// A null device of the test's own (mknod as root), else /dev/null while it is one; "" if neither.
// The test does not write to /dev/null when it can avoid it: a build of planner before this fix,
// run as root by another test on the same machine, replaces /dev/null with a regular file.
std::string null_device() {
  const std::string own = temp_path("null");
  ::unlink(own.c_str());
  if (::mknod(own.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) return own;
  struct stat st {};
  return ::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) ? "/dev/null" : "";
}

TEST(OutputFiles, ADeviceIsWrittenToNotReplaced) {
  // Atomic write by rename used to turn /dev/null into a regular file (run as root).
  const std::string dev = null_device();
  if (dev.empty()) GTEST_SKIP() << "no character device to write to (not root, and /dev/null is not one)";
  write_file_atomic(dev, "text\n");
  struct stat st {};
  ASSERT_EQ(::stat(dev.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << dev;
  // A FIFO nobody reads: an error at once, not a hang, and still a FIFO.
  const std::string fifo = temp_path("out.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(has(testing::input_error_message([&] { write_file_atomic(fifo, "x"); }), "cannot open for writing (not a regular file)"));
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ::unlink(fifo.c_str());
}

TEST(OutputFiles, ASymlinkIsFollowedAndKept) {
  const std::string target = temp_path("target.txt"), link = temp_path("link.txt");
  std::ofstream(target) << "old\n";
  ::unlink(link.c_str());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ::chmod(target.c_str(), 0640);
  write_file_atomic(link, "new\n");
  struct stat st {};
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));  // still the link
  EXPECT_EQ(slurp(target), "new\n");  // the file it points to has the new text
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);  // with its permissions
  // A dangling link is refused.
  const std::string dangling = temp_path("dangling.txt");
  ::unlink(dangling.c_str());
  ASSERT_EQ(::symlink("/nonexistent/dir/x", dangling.c_str()), 0);
  EXPECT_TRUE(has(testing::input_error_message([&] { write_file_atomic(dangling, "x"); }), "is a symbolic link that cannot be followed"));
  ::unlink(link.c_str());
  ::unlink(dangling.c_str());
  ::unlink(target.c_str());
  EXPECT_TRUE(has(testing::input_error_message([] { write_file_atomic("/", "x"); }), "is a directory"));
}

}  // namespace
}  // namespace planner
