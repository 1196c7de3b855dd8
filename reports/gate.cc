#include "reports/gate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "reports/documents.h"

namespace planner::reports {

namespace {

std::string g(double v, int sig = 6) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", sig, v);
  return b;
}
std::string pct(double f, bool sign = true) {
  char b[64];
  std::snprintf(b, sizeof b, sign ? "%+.2f%%" : "%.2f%%", 100.0 * f);
  return b;
}

void benchmark_gate(const Json& base, const std::string& bn, const Json& cur, const std::string& cn, const GateThresholds& t,
                    GateResult* out) {
  const auto bs = read_benchmarks(base, bn), cs = read_benchmarks(cur, cn);
  auto find = [](const std::vector<BenchmarkEntry>& v, const std::string& name) -> const BenchmarkEntry* {
    for (const auto& e : v)
      if (e.name == name) return &e;
    return nullptr;
  };
  int compared = 0;
  for (const auto& b : bs) {
    if (b.error) continue;  // nothing to compare against
    const BenchmarkEntry* c = find(cs, b.name);
    if (!c) {
      out->lines.push_back({b.name, "present", "missing", "", "", false});
      continue;
    }
    if (c->error) {
      out->lines.push_back({b.name, "ok", "error: " + c->error_message, "", "", false});
      continue;
    }
    auto it = t.benchmark_overrides.find(b.name);
    const double thr_real = it != t.benchmark_overrides.end() ? it->second.first : t.benchmark_real_time;
    const double thr_cpu = it != t.benchmark_overrides.end() ? it->second.second : t.benchmark_cpu_time;
    auto line = [&](const char* metric, double bv, double cv, double thr) {
      const double change = bv > 0 ? cv / bv - 1.0 : (cv > 0 ? INFINITY : 0.0);
      out->lines.push_back({b.name + " " + metric + " (ns, " + c->statistic + ")", g(bv), g(cv), pct(change), "<= " + pct(thr),
                            change <= thr});
    };
    line("real_time", b.real_time_ns, c->real_time_ns, thr_real);
    line("cpu_time", b.cpu_time_ns, c->cpu_time_ns, thr_cpu);
    ++compared;
  }
  for (const auto& c : cs)
    if (!find(bs, c.name)) out->lines.push_back({c.name, "missing", c.error ? "error" : g(c.real_time_ns), "new", "", !c.error});
  out->summary = std::to_string(compared) + " benchmark(s) compared on real_time and cpu_time";
}

void validate_gate(const Json* base, const std::string& bn, const Json& cur, const std::string& cn, const GateThresholds& t,
                   GateResult* out) {
  const ValidateDoc c = read_validate(cur, cn);
  std::optional<ValidateDoc> b;
  if (base) b = read_validate(*base, bn);
  auto base_row = [&](const Plan& p) -> const ValidateRow* {
    if (!b) return nullptr;
    for (const auto& x : b->rows)
      if (same_plan(x.plan, p)) return &x;
    return nullptr;
  };
  for (const auto& x : c.rows) {
    const ValidateRow* y = base_row(x.plan);
    const std::string label = plan_label(x.plan);
    out->lines.push_back({label + " memory_error", y ? pct(y->memory_error) : "", pct(x.memory_error),
                          y ? pct(std::fabs(x.memory_error) - std::fabs(y->memory_error)) : "", "|e| <= " + pct(t.memory_error, false),
                          std::fabs(x.memory_error) <= t.memory_error});
    out->lines.push_back({label + " step_time_error", y ? pct(y->step_time_error) : "", pct(x.step_time_error),
                          y ? pct(std::fabs(x.step_time_error) - std::fabs(y->step_time_error)) : "",
                          "|e| <= " + pct(t.step_time_error, false), std::fabs(x.step_time_error) <= t.step_time_error});
  }
  if (b)
    for (const auto& y : b->rows) {
      bool present = false;
      for (const auto& x : c.rows) present = present || same_plan(x.plan, y.plan);
      if (!present) out->lines.push_back({plan_label(y.plan), "validated", "missing", "", "", false});
    }
  auto regret = [](const ValidateDoc& d) {
    double pb = 0, mb = 0;
    for (const auto& x : d.rows) {
      if (same_plan(x.plan, d.predicted_best)) pb = x.measured_step_s;
      if (same_plan(x.plan, d.measured_best)) mb = x.measured_step_s;
    }
    return pb / mb - 1.0;
  };
  const double rc = regret(c);
  out->lines.push_back({"ranking: predicted best measured slower than measured best by", b ? pct(regret(*b)) : "", pct(rc), "",
                        "<= " + pct(t.ranking_regret, false), rc <= t.ranking_regret});
  out->summary = std::to_string(c.rows.size()) + " plan(s) of " + c.model + " validated" +
                 (b ? " (baseline " + std::to_string(b->rows.size()) + ")" : " (no baseline)");
}

// Golden outputs: a structural diff with a relative tolerance on numbers.
struct Diff {
  double rel;
  std::vector<GateLine>* lines;
  int64_t numbers = 0, others = 0, differences = 0;
  static constexpr int64_t kMaxLines = 40;
  void add(const std::string& path, const std::string& b, const std::string& c, const std::string& change) {
    ++differences;
    if (differences <= kMaxLines) lines->push_back({path.empty() ? "(top level)" : path, b, c, change, "", false});
  }
  void walk(const Json& b, const Json& c, const std::string& path) {
    if (b.is_number() && c.is_number()) {
      ++numbers;
      const double x = b.get<double>(), y = c.get<double>();
      const double scale = std::max(std::fabs(x), std::fabs(y));
      if (x == y || std::fabs(x - y) <= rel * scale) return;
      add(path, g(x, 12), g(y, 12), scale > 0 && x != 0 ? pct(y / x - 1.0) : "");
      return;
    }
    if (b.type() != c.type()) {
      add(path, json_type_name(b), json_type_name(c), "type");
      return;
    }
    if (b.is_object()) {
      for (auto it = b.begin(); it != b.end(); ++it) {
        const std::string p = path.empty() ? it.key() : path + "." + it.key();
        if (!c.contains(it.key())) {
          add(p, "present", "missing", "");
          continue;
        }
        walk(it.value(), c.at(it.key()), p);
      }
      for (auto it = c.begin(); it != c.end(); ++it)
        if (!b.contains(it.key())) add(path.empty() ? it.key() : path + "." + it.key(), "missing", "present", "");
      return;
    }
    if (b.is_array()) {
      if (b.size() != c.size()) add(path, std::to_string(b.size()) + " elements", std::to_string(c.size()) + " elements", "");
      for (size_t i = 0; i < std::min(b.size(), c.size()); ++i) walk(b[i], c[i], path + "[" + std::to_string(i) + "]");
      return;
    }
    ++others;
    if (b != c) {
      auto short_dump = [](const Json& j) {
        std::string s = j.dump();
        return s.size() > 60 ? s.substr(0, 57) + "..." : s;
      };
      add(path, short_dump(b), short_dump(c), "");
    }
  }
};

}  // namespace

GateThresholds read_thresholds(const Json& j, const std::string& source) {
  JsonReader r(j, source);
  r.reject_unknown_keys({"format", "benchmark", "validate", "golden"});
  if (r.has("format") && r.get_string("format") != "planner-gate-thresholds/1")
    throw InputError(source, "format", "expected 'planner-gate-thresholds/1' (or leave it out)");
  GateThresholds t;
  if (r.has("benchmark")) {
    JsonReader b = r.child("benchmark");
    b.reject_unknown_keys({"real_time", "cpu_time", "overrides"});
    t.benchmark_real_time = b.get_number("real_time", 0.0, true, t.benchmark_real_time);
    t.benchmark_cpu_time = b.get_number("cpu_time", 0.0, true, t.benchmark_cpu_time);
    if (b.has("overrides")) {
      JsonReader o = b.child("overrides");
      for (auto it = o.raw().begin(); it != o.raw().end(); ++it) {
        JsonReader x = o.child(it.key());
        x.reject_unknown_keys({"real_time", "cpu_time"});
        t.benchmark_overrides[it.key()] = {x.get_number("real_time", 0.0, true, t.benchmark_real_time),
                                           x.get_number("cpu_time", 0.0, true, t.benchmark_cpu_time)};
      }
    }
  }
  if (r.has("validate")) {
    JsonReader v = r.child("validate");
    v.reject_unknown_keys({"memory_error", "step_time_error", "ranking_regret"});
    t.memory_error = v.get_number("memory_error", 0.0, true, t.memory_error);
    t.step_time_error = v.get_number("step_time_error", 0.0, true, t.step_time_error);
    t.ranking_regret = v.get_number("ranking_regret", 0.0, true, t.ranking_regret);
  }
  if (r.has("golden")) {
    JsonReader gd = r.child("golden");
    gd.reject_unknown_keys({"relative"});
    t.golden_relative = gd.get_number("relative", 0.0, true, t.golden_relative);
  }
  return t;
}

bool GateResult::pass() const {
  return std::all_of(lines.begin(), lines.end(), [](const GateLine& l) { return l.pass; });
}

std::string GateResult::text() const {
  std::vector<std::vector<std::string>> rows{{"metric", "baseline", "current", "change", "threshold", "verdict"}};
  for (const auto& l : lines) rows.push_back({l.metric, l.baseline, l.current, l.change, l.threshold, l.pass ? "ok" : "FAIL"});
  std::vector<size_t> w(6, 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < 6; ++i) w[i] = std::max(w[i], r[i].size());
  std::ostringstream os;
  os << kind << "\n";
  for (const auto& r : rows) {
    for (size_t i = 0; i < 6; ++i) {
      os << r[i];
      if (i + 1 < 6) os << std::string(w[i] - r[i].size() + 2, ' ');
    }
    os << "\n";
  }
  const auto failed = std::count_if(lines.begin(), lines.end(), [](const GateLine& l) { return !l.pass; });
  os << (failed ? "FAIL: " + std::to_string(failed) + " metric(s) past their threshold; " : "PASS: ") << summary << "\n";
  return os.str();
}

GateResult gate_documents(const Json* baseline, const std::string& bn, const Json& current, const std::string& cn,
                          const GateThresholds& t) {
  const DocKind ck = document_kind(current, cn);
  GateResult out;
  if (!baseline) {
    if (ck != DocKind::validate)
      throw InputError("--baseline", "", "required to compare " + to_string(ck) + " (only planner-validate/1 is gated on its own)");
    out.kind = "planner-validate/1: predicted vs measured (" + cn + ")";
    validate_gate(nullptr, bn, current, cn, t, &out);
    return out;
  }
  const DocKind bk = document_kind(*baseline, bn);
  if (bk != ck)
    throw InputError(cn, "format", "is " + to_string(ck) + " but the baseline " + bn + " is " + to_string(bk) + "; compare like with like");
  try {
    switch (ck) {
      case DocKind::benchmark:
        out.kind = "Google Benchmark: " + bn + " -> " + cn;
        benchmark_gate(*baseline, bn, current, cn, t, &out);
        break;
      case DocKind::validate:
        out.kind = "planner-validate/1: " + bn + " -> " + cn;
        validate_gate(baseline, bn, current, cn, t, &out);
        break;
      case DocKind::run:
        throw InputError(cn, "format", "planner-run/1 records are measurements of one run; gate the planner-validate/1 "
                                       "document `planner validate` makes from them instead");
      default: {
        out.kind = "golden " + to_string(ck) + ": " + bn + " -> " + cn + " (numbers within a relative " + g(t.golden_relative) + ")";
        Diff d{t.golden_relative, &out.lines};
        d.walk(*baseline, current, "");
        if (d.differences == 0)
          out.lines.push_back({"every value", std::to_string(d.numbers + d.others) + " values", "identical", "",
                               "relative " + g(t.golden_relative), true});
        out.summary = std::to_string(d.numbers) + " numbers and " + std::to_string(d.others) + " other values compared, " +
                      std::to_string(d.differences) + " difference(s)" +
                      (d.differences > Diff::kMaxLines ? " (first " + std::to_string(Diff::kMaxLines) + " shown)" : "");
      }
    }
  } catch (const Json::exception& e) {
    throw json_exception_error(e, cn, "malformed document: ");
  }
  return out;
}

}  // namespace planner::reports
