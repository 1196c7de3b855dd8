// Every key an export writes exists in the field list of the release it is pinned to
// (tests/data/exports/, transcribed from the source with its origin), every value has that field's
// type or one of its allowed literals, and every knob the release cannot express is named in a
// warning. Plans cover each knob in both states, so a key that only appears for one of them is
// checked too.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "core/model_spec.h"
#include "planner/exports.h"
#include "support/run_binary.h"

namespace planner {
namespace {

struct Field {
  std::string type;
  std::vector<std::string> allowed;  // literal values
};
using FieldList = std::map<std::string, Field>;

FieldList read_fields(const std::string& file) {
  FieldList out;
  std::ifstream in(std::string(PLANNER_TEST_DATA) + "/exports/" + file);
  EXPECT_TRUE(in.good()) << file;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name;
    Field f;
    ls >> name >> f.type;
    for (std::string v; ls >> v;) f.allowed.push_back(v);
    out[name] = f;
  }
  EXPECT_GT(out.size(), 10u) << file;
  return out;
}

std::string unquote(const std::string& v) {
  return v.size() >= 2 && v.front() == '"' && v.back() == '"' ? v.substr(1, v.size() - 2) : v;
}

// A value against a field: ints, bools (TOML true/false or Python True/False), quoted literals.
void check_value(const FieldList& fields, const std::string& key, const std::string& raw, bool python,
                 const std::string& where) {
  auto it = fields.find(key);
  ASSERT_NE(it, fields.end()) << where << ": '" << key << "' is not a field of this release";
  const Field& f = it->second;
  const std::string v = unquote(raw);
  if (f.type == "int") {
    EXPECT_TRUE(std::regex_match(raw, std::regex("-?[0-9]+")) || raw.find("config.") == 0 ||
                raw.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 0)
        << where << ": " << key << " = " << raw << " is not an int";
  } else if (f.type == "bool") {
    EXPECT_TRUE(python ? (raw == "True" || raw == "False") : (raw == "true" || raw == "false"))
        << where << ": " << key << " = " << raw << " is not a bool";
  } else if (f.type == "literal") {
    EXPECT_TRUE(raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') << where << ": " << key << " = " << raw
                                                                             << " must be a quoted string";
    EXPECT_NE(std::find(f.allowed.begin(), f.allowed.end(), v), f.allowed.end())
        << where << ": " << key << " = " << raw << " is not one of the allowed values";
  } else if (f.type == "str") {
    EXPECT_TRUE(raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') << where << ": " << key << " = " << raw;
  }
}

// TOML: [section] headers, then key = value lines; comments and blank lines skipped.
int check_toml(const std::string& text, const FieldList& fields, const std::string& where) {
  std::istringstream in(text);
  std::string line, section;
  int keys = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    const size_t eq = line.find(" = ");
    EXPECT_NE(eq, std::string::npos) << where << ": not a key = value line: " << line;
    if (eq == std::string::npos) continue;
    check_value(fields, section + "." + line.substr(0, eq), line.substr(eq + 3), false, where);
    ++keys;
  }
  return keys;
}

// The Python config: `config.ATTR = Class(` blocks of `key=value,` lines, `Class(key=value)` on
// one line, and `config = FUNCTION()`.
int check_python_config(const std::string& text, const FieldList& fields, const std::string& where) {
  std::istringstream in(text);
  std::string line, cls;
  int keys = 0;
  const std::regex assign(R"(^    config\.(\w+) = (\w+)\((.*)$)"), base(R"(^    config = (\w+)\(\)$)"),
      kv(R"(^\s*(\w+)=([^,]+),?$)"), inline_kv(R"((\w+)=([^,)]+))");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, base)) {
      EXPECT_TRUE(fields.count("registry." + m[1].str())) << where << ": no registry function " << m[1];
    } else if (std::regex_match(line, m, assign)) {
      const auto it = fields.find("Trainer.Config." + m[1].str());
      EXPECT_NE(it, fields.end()) << where << ": Trainer.Config has no '" << m[1] << "'";
      if (it == fields.end()) continue;
      EXPECT_EQ(it->second.allowed, std::vector<std::string>{m[2].str()}) << where << ": config." << m[1];
      cls = m[2];
      const std::string rest = m[3];
      if (!rest.empty()) {  // Class(key=value)
        for (std::sregex_iterator i(rest.begin(), rest.end(), inline_kv), e; i != e; ++i, ++keys)
          check_value(fields, cls + "." + (*i)[1].str(), (*i)[2].str(), true, where);
        cls.clear();
      }
    } else if (!cls.empty() && std::regex_match(line, m, kv)) {
      check_value(fields, cls + "." + m[1].str(), m[2].str(), true, where);
      ++keys;
    } else if (line == "    )") {
      cls.clear();
    }
  }
  return keys;
}

// The Lightning script: the keyword arguments of ModelParallelStrategy(...) and of L.Trainer(...).
int check_lightning(const std::string& text, const FieldList& fields, const std::string& where) {
  int keys = 0;
  std::smatch m;
  const std::regex strategy(R"(ModelParallelStrategy\(([^)]*)\))"), inline_kv(R"((\w+)=([^,)]+))");
  std::string::const_iterator from = text.begin();
  while (std::regex_search(from, text.end(), m, strategy)) {
    const std::string args = m[1];
    for (std::sregex_iterator i(args.begin(), args.end(), inline_kv), e; i != e; ++i, ++keys)
      check_value(fields, "ModelParallelStrategy." + (*i)[1].str(), (*i)[2].str(), true, where);
    from = m[0].second;
  }
  const size_t t0 = text.find("L.Trainer(\n");
  EXPECT_NE(t0, std::string::npos) << where;
  if (t0 == std::string::npos) return keys;
  std::istringstream in(text.substr(t0, text.find("\n    )", t0) - t0));
  std::string line;
  std::getline(in, line);
  const std::regex kv(R"(^\s*(\w+)=(.+),$)");
  while (std::getline(in, line))
    if (std::regex_match(line, m, kv)) {
      const std::string key = m[1], value = m[2];
      // Upper-case names are the script's own constants (ACCUMULATE, STEPS): ints by construction.
      check_value(fields, "Trainer." + key, value.rfind("ModelParallelStrategy", 0) == 0 ? "x" : value, true, where);
      ++keys;
    }
  return keys;
}

struct Case {
  std::string name;
  Plan plan;
  TrainingSpec training;
  ModelSpec model;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto add = [&](const std::string& name, const std::string& model, auto&& edit) {
    Case c{name, Plan{}, TrainingSpec{}, resolve_model(model)};
    c.plan.dp = 4;
    c.plan.tp = 8;
    c.plan.micro_batch = 2;
    c.plan.ac = ActivationCheckpointing::selective;
    c.plan.sequence_parallel = true;
    c.plan.reshard_after_forward = true;
    c.plan.grad_sync = GradSync::every_micro_batch;
    c.training.seq_len = 8192;
    c.training.global_batch = 512;
    edit(c);
    out.push_back(c);
  };
  add("llama3-70b default", "llama3-70b", [](Case&) {});
  add("no ac, sp off, sync last", "llama3-70b", [](Case& c) {
    c.plan.ac = ActivationCheckpointing::none;
    c.plan.sequence_parallel = false;
    c.plan.grad_sync = GradSync::last_micro_batch;
    c.plan.reshard_after_forward = false;
  });
  add("full ac, pure bf16, compiled", "llama3-8b", [](Case& c) {
    c.plan.ac = ActivationCheckpointing::full;
    c.training.precision = Precision::bf16;
    c.training.compiled = true;
  });
  add("fp32, gathered logits, replicated embedding", "llama3-405b", [](Case& c) {
    c.training.precision = Precision::fp32;
    c.training.tp_plan.loss_parallel = false;
    c.training.tp_plan.shard_embedding = false;
  });
  add("feedforward", "feedforward", [](Case& c) {
    c.plan.tp = 2;
    c.plan.dp = 2;
    c.training.seq_len = 1;
    c.training.global_batch = 8;
  });
  return out;
}

TEST(Exports, TorchtitanTomlKeysAreFieldsOfV022) {
  const FieldList fields = read_fields("torchtitan-v0.2.2-toml.fields");
  for (const auto& c : cases()) {
    const Export e = torchtitan_toml_export(c.plan, c.training, c.model);
    // parallelism 4 + training 6 + activation_checkpoint 1 + compile 1 at least.
    EXPECT_GE(check_toml(e.text, fields, c.name), 12) << e.text;
  }
}

TEST(Exports, TorchtitanPythonKeysAreFieldsOfMain) {
  const FieldList fields = read_fields("torchtitan-main-python.fields");
  for (const auto& c : cases()) {
    const Export e = torchtitan_python_export(c.plan, c.training, c.model);
    // ParallelismConfig 5 + TrainingConfig 7 + ActivationCheckpointConfig 1 + CompileConfig 1.
    EXPECT_EQ(check_python_config(e.text, fields, c.name), 14) << e.text;
  }
}

TEST(Exports, LightningArgumentsAreThoseOfLightning24) {
  const FieldList fields = read_fields("lightning-2.4.fields");
  for (const auto& c : cases()) {
    const Export e = lightning_export(c.plan, c.training, c.model, 8, 4);
    // ModelParallelStrategy 2 (in the Trainer call) + Trainer 7.
    EXPECT_GE(check_lightning(e.text, fields, c.name), 9) << e.text;
  }
}

TEST(Exports, ValuesFollowThePlan) {
  const auto cs = cases();
  // dp 4, tp 8, micro_batch 2, selective (op-level), sp on, reshard on, bf16-mixed, not compiled.
  const std::string toml = torchtitan_toml_export(cs[0].plan, cs[0].training, cs[0].model).text;
  for (const char* want : {"data_parallel_shard_degree = 4\n", "tensor_parallel_degree = 8\n",
                           "fsdp_reshard_after_forward = \"always\"\n", "local_batch_size = 2\n",
                           "global_batch_size = 512\n", "seq_len = 8192\n", "mixed_precision_param = \"bfloat16\"\n",
                           "dtype = \"float32\"\n", "mode = \"selective\"\n", "selective_ac_option = \"op\"\n",
                           "[compile]\nenable = false\n", "flavor = \"70B\"\n"})
    EXPECT_NE(toml.find(want), std::string::npos) << want << " not in\n" << toml;
  EXPECT_EQ(toml.find("enable_sequence_parallel"), std::string::npos) << "not a v0.2.2 field";
  const std::string py = torchtitan_python_export(cs[1].plan, cs[1].training, cs[1].model).text;
  for (const char* want : {"enable_sequence_parallel=False,", "fsdp_reshard_after_forward=\"never\",",
                           "ActivationCheckpointConfig(mode=\"none\")", "config = llama3_70b()"})
    EXPECT_NE(py.find(want), std::string::npos) << want << " not in\n" << py;
  // Pure bf16 compiled: training.dtype bfloat16 and compile on in both torchtitan releases.
  const Export t2 = torchtitan_toml_export(cs[2].plan, cs[2].training, cs[2].model);
  EXPECT_NE(t2.text.find("dtype = \"bfloat16\"\n"), std::string::npos);
  EXPECT_NE(t2.text.find("[compile]\nenable = true\n"), std::string::npos);
  EXPECT_NE(t2.text.find("mode = \"full\"\n"), std::string::npos);
  // Lightning: global_batch 512 / (dp 4 x micro_batch 2) = 64 micro-batches per step.
  const std::string l = lightning_export(cs[0].plan, cs[0].training, cs[0].model, 8, 4).text;
  for (const char* want : {"DP, TP, MICRO_BATCH, ACCUMULATE = 4, 8, 2, 64\n", "devices=8,", "num_nodes=4,",
                           "ModelParallelStrategy(data_parallel_size=4, tensor_parallel_size=8)",
                           "create_selective_checkpoint_contexts", "reshard_after_forward=True",
                           "MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)",
                           "SequenceParallel()", "def configure_model(self):", "layers = self.model.model.layers\n",
                           "return MICRO_BATCH * ACCUMULATE * STEPS * DP\n"})
    EXPECT_NE(l.find(want), std::string::npos) << want << " not in\n" << l;
  const std::string l1 = lightning_export(cs[1].plan, cs[1].training, cs[1].model, 8, 4).text;
  EXPECT_NE(l1.find("self.model.set_requires_gradient_sync(last)"), std::string::npos) << l1;
  EXPECT_EQ(l1.find("SequenceParallel()"), std::string::npos) << "sp off";
  EXPECT_EQ(l1.find("checkpoint_wrapper(layer"), std::string::npos) << "ac none";
}

// Python parses every script and TOML file as written (syntax only: neither torch, Lightning nor
// torchtitan is installed here). Skipped where python3 (>= 3.11, for tomllib) is absent.
TEST(Exports, PythonParsesEveryExport) {
  if (testing::run_shell("python3 -c 'import tomllib' 2>&1").exit_code != 0) GTEST_SKIP() << "no python3 >= 3.11";
  int n = 0;
  for (const auto& c : cases())
    for (const Export& e : all_exports(c.plan, c.training, c.model, 8, 4)) {
      const std::string path = ::testing::TempDir() + "/export-" + std::to_string(n++) + (e.format == "toml" ? ".toml" : ".py");
      std::ofstream(path) << e.text;
      const std::string check = e.format == "toml"
                                    ? "python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], \"rb\"))' " + path
                                    : "python3 -m py_compile " + path;
      const auto r = testing::run_shell(check + " 2>&1");
      EXPECT_EQ(r.exit_code, 0) << c.name << " / " << e.name << ":\n" << r.output << "\n" << e.text;
    }
  EXPECT_EQ(n, 15);  // 5 plans x 3 exports
}

bool has_warning(const Export& e, const std::string& part) {
  for (const auto& w : e.warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

TEST(Exports, KnobsATargetCannotExpressAreNamed) {
  const auto cs = cases();
  // planner's default selective AC (keep-matmuls) is not torchtitan's op-level policy: named; with
  // --selective-ac torchtitan-op the torchtitan exports say nothing and Lightning's script (which
  // keeps every matmul) names it.
  for (const Export& e : {torchtitan_toml_export(cs[0].plan, cs[0].training, cs[0].model),
                          torchtitan_python_export(cs[0].plan, cs[0].training, cs[0].model)}) {
    ASSERT_EQ(e.warnings.size(), 1u) << e.name;
    EXPECT_TRUE(has_warning(e, "selective_ac=keep-matmuls cannot be expressed")) << e.name;
  }
  EXPECT_TRUE(lightning_export(cs[0].plan, cs[0].training, cs[0].model, 8, 4).warnings.empty());
  Case op = cs[0];
  op.training.selective_ac = SelectiveAc::torchtitan_op;
  EXPECT_TRUE(torchtitan_toml_export(op.plan, op.training, op.model).warnings.empty());
  EXPECT_TRUE(torchtitan_python_export(op.plan, op.training, op.model).warnings.empty());
  EXPECT_TRUE(has_warning(lightning_export(op.plan, op.training, op.model, 8, 4), "selective_ac=torchtitan-op"));
  // sp off: v0.2.2 has no switch, main has one; sync=last: neither.
  const Export t1 = torchtitan_toml_export(cs[1].plan, cs[1].training, cs[1].model);
  EXPECT_TRUE(has_warning(t1, "sequence_parallel=off")) << t1.text;
  EXPECT_TRUE(has_warning(t1, "grad_sync=last"));
  const Export p1 = torchtitan_python_export(cs[1].plan, cs[1].training, cs[1].model);
  EXPECT_FALSE(has_warning(p1, "sequence_parallel"));
  EXPECT_TRUE(has_warning(p1, "grad_sync=last"));
  // Pure bf16 reduces in bf16: torchtitan's mixed_precision_reduce takes only float32.
  EXPECT_TRUE(has_warning(torchtitan_toml_export(cs[2].plan, cs[2].training, cs[2].model), "reduce dtype bf16"));
  // A replicated embedding is not a torchtitan option; a model not among its flavors is named.
  EXPECT_TRUE(has_warning(torchtitan_toml_export(cs[3].plan, cs[3].training, cs[3].model), "shard_embedding=off"));
  EXPECT_TRUE(has_warning(torchtitan_python_export(cs[4].plan, cs[4].training, cs[4].model), "not a torchtitan llama3"));
}

}  // namespace
}  // namespace planner
