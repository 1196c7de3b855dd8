#include "reports/documents.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "core/error.h"

namespace planner::reports {

std::string to_string(DocKind k) {
  switch (k) {
    case DocKind::plan_search: return "planner-plan-search/1";
    case DocKind::suggest: return "planner-suggest/1";
    case DocKind::simulate: return "planner-simulate/1";
    case DocKind::run: return "planner-run/1";
    case DocKind::topology: return "planner-topology/1";
    case DocKind::validate: return "planner-validate/1";
    case DocKind::benchmark: return "Google Benchmark JSON";
  }
  return "?";
}

static const char* kUnderstood =
    "expected one of: planner-plan-search/1 (planner plan --format json), planner-suggest/1 (planner suggest "
    "--format json), a simulate detail (planner simulate --format json), planner-run/1 (planner train --record), "
    "planner-topology/1 (planner probe --format json), planner-validate/1 (planner validate), or Google Benchmark "
    "JSON (--benchmark_format=json)";

DocKind document_kind(const Json& doc, const std::string& source) {
  if (!doc.is_object())
    throw InputError(source, "(top level)", "expected a JSON object, got " + json_type_name(doc) + "; " + kUnderstood);
  if (doc.contains("format")) {
    const Json& f = doc.at("format");
    if (!f.is_string()) throw InputError(source, "format", "expected a string, got " + json_type_name(f));
    const std::string s = f.get<std::string>();
    if (s == "planner-plan-search/1") return DocKind::plan_search;
    if (s == "planner-suggest/1") return DocKind::suggest;
    if (s == "planner-simulate/1") return DocKind::simulate;
    if (s == "planner-run/1") return DocKind::run;
    if (s == "planner-topology/1") return DocKind::topology;
    if (s == "planner-validate/1") return DocKind::validate;
    throw InputError(source, "format", "'" + s + "' is not a document planner reports on; " + kUnderstood);
  }
  // `planner simulate --format json` has no format field (yet): recognise its fields.
  if (doc.contains("plan") && doc.contains("parameters") && doc.contains("activations_per_layer"))
    return DocKind::simulate;
  if (doc.contains("benchmarks") && doc.contains("context")) return DocKind::benchmark;
  throw InputError(source, "format", "missing, and the fields are not those of a simulate detail or Google Benchmark "
                                     "output; " + std::string(kUnderstood));
}

const Json& get_array(const JsonReader& r, const std::string& key) {
  if (!r.has(key)) throw InputError(r.file(), r.field_path(key), "missing (required)");
  const Json& j = r.raw().at(key);
  if (!j.is_array()) throw InputError(r.file(), r.field_path(key), "expected an array, got " + json_type_name(j));
  return j;
}

JsonReader element(const JsonReader& r, const std::string& key, size_t i) {
  const Json& a = get_array(r, key);
  return JsonReader(a.at(i), r.file(), r.field_path(key) + "[" + std::to_string(i) + "]");
}

double get_num(const JsonReader& r, const std::string& key) {
  return r.get_number(key, -std::numeric_limits<double>::max(), true);
}

double get_num(const JsonReader& r, const std::string& key, double fallback) {
  return r.has(key) ? get_num(r, key) : fallback;
}

double get_nonneg(const JsonReader& r, const std::string& key) { return r.get_number(key, 0.0, true); }

std::vector<double> get_numbers(const JsonReader& r, const std::string& key) {
  const Json& a = get_array(r, key);
  std::vector<double> v;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_number() || !std::isfinite(a[i].get<double>()))
      throw InputError(r.file(), r.field_path(key) + "[" + std::to_string(i) + "]",
                       "expected a number, got " + json_type_name(a[i]) + " (" + a[i].dump() + ")");
    v.push_back(a[i].get<double>());
  }
  return v;
}

Plan get_plan(const JsonReader& r, const std::string& key) { return plan_from_json(r.child(key)); }

bool same_plan(const Plan& a, const Plan& b) {
  return a.dp == b.dp && a.tp == b.tp && a.micro_batch == b.micro_batch && a.ac == b.ac &&
         a.sequence_parallel == b.sequence_parallel && a.reshard_after_forward == b.reshard_after_forward &&
         a.grad_sync == b.grad_sync;
}

static std::string model_name(const JsonReader& r, const std::string& key) {
  if (!r.has(key)) return "";
  const Json& j = r.raw().at(key);
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object()) return r.child(key).get_string("name");
  throw InputError(r.file(), r.field_path(key), "expected a name or an object with \"name\", got " + json_type_name(j));
}

ValidateDoc read_validate(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  ValidateDoc v;
  if (r.get_string("format") != "planner-validate/1")
    throw InputError(source, "format", "expected 'planner-validate/1'");
  v.model = model_name(r, "model");
  if (v.model.empty()) throw InputError(source, "model", "missing (required)");
  v.cluster = model_name(r, "cluster");
  v.world = r.get_int("world", 1);
  const Json& rows = get_array(r, "rows");
  if (rows.empty()) throw InputError(source, "rows", "empty: a validation needs at least one measured plan");
  for (size_t i = 0; i < rows.size(); ++i) {
    JsonReader row = element(r, "rows", i);
    ValidateRow x;
    x.plan = get_plan(row, "plan");
    if (x.plan.world() != v.world)
      throw InputError(source, row.field_path("plan"),
                       "dp(" + std::to_string(x.plan.dp) + ") * tp(" + std::to_string(x.plan.tp) +
                           ") != world " + std::to_string(v.world));
    JsonReader p = row.child("predicted"), m = row.child("measured");
    x.predicted_peak_allocated_bytes = p.get_number("peak_allocated_bytes", 0.0, false);
    x.predicted_step_s = p.get_number("step_s", 0.0, false);
    x.measured_peak_allocated_bytes = m.get_number("peak_allocated_bytes", 0.0, false);
    x.measured_step_s = m.get_number("step_s", 0.0, false);
    if (m.has("host_speed")) x.host_speed = m.get_number("host_speed", 0.0, false);
    x.memory_error = get_num(row, "memory_error");
    x.step_time_error = get_num(row, "step_time_error");
    auto check = [&](const char* field, double given, double pred, double meas) {
      const double want = (pred - meas) / meas;
      if (std::fabs(given - want) > 1e-6 + 1e-6 * std::fabs(want))
        throw InputError(source, row.field_path(field),
                         "is " + std::to_string(given) + " but (predicted - measured) / measured = " +
                             std::to_string(want) + " (a fraction: 0.02 means the prediction is 2% high)");
    };
    check("memory_error", x.memory_error, x.predicted_peak_allocated_bytes, x.measured_peak_allocated_bytes);
    check("step_time_error", x.step_time_error, x.predicted_step_s, x.measured_step_s);
    v.rows.push_back(x);
  }
  v.predicted_best = get_plan(r, "predicted_best");
  v.measured_best = get_plan(r, "measured_best");
  auto listed = [&](const Plan& p) {
    return std::any_of(v.rows.begin(), v.rows.end(), [&](const ValidateRow& x) { return same_plan(x.plan, p); });
  };
  if (!listed(v.predicted_best)) throw InputError(source, "predicted_best", "is not one of the rows' plans");
  if (!listed(v.measured_best)) throw InputError(source, "measured_best", "is not one of the rows' plans");
  return v;
}

static double time_unit_ns(const JsonReader& e) {
  const std::string u = e.get_enum("time_unit", {"ns", "us", "ms", "s"}, "ns");
  return u == "ns" ? 1.0 : u == "us" ? 1e3 : u == "ms" ? 1e6 : 1e9;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<BenchmarkEntry> read_benchmarks(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  const Json& bs = get_array(r, "benchmarks");
  struct Acc {
    std::vector<double> real, cpu;
    bool has_median = false;
    double med_real = 0, med_cpu = 0;
    int64_t reps = 1;
    bool error = false;
    std::string msg;
  };
  std::vector<std::string> order;
  std::map<std::string, Acc> acc;
  for (size_t i = 0; i < bs.size(); ++i) {
    JsonReader e = element(r, "benchmarks", i);
    const std::string name = e.get_string("run_name", e.get_string("name"));
    if (!acc.count(name)) order.push_back(name);
    Acc& a = acc[name];
    if (e.get_bool("error_occurred", false)) {
      a.error = true;
      a.msg = e.get_string("error_message", "error_occurred");
      continue;
    }
    const std::string run_type = e.get_string("run_type", "iteration");
    if (run_type == "aggregate") {
      if (e.get_string("aggregate_name", "") != "median") continue;  // mean, stddev, cv, BigO, RMS
      const double k = time_unit_ns(e);
      a.has_median = true;
      a.med_real = get_nonneg(e, "real_time") * k;
      a.med_cpu = get_nonneg(e, "cpu_time") * k;
      a.reps = e.get_int("repetitions", 1, 1);
    } else {
      const double k = time_unit_ns(e);
      a.real.push_back(get_nonneg(e, "real_time") * k);
      a.cpu.push_back(get_nonneg(e, "cpu_time") * k);
    }
  }
  std::vector<BenchmarkEntry> out;
  for (const auto& name : order) {
    const Acc& a = acc[name];
    BenchmarkEntry b;
    b.name = name;
    b.error = a.error;
    b.error_message = a.msg;
    if (a.has_median) {
      b.real_time_ns = a.med_real;
      b.cpu_time_ns = a.med_cpu;
      b.samples = a.reps;
      b.statistic = "median of " + std::to_string(a.reps) + " repetitions";
    } else if (!a.real.empty()) {
      b.real_time_ns = median(a.real);
      b.cpu_time_ns = median(a.cpu);
      b.samples = static_cast<int64_t>(a.real.size());
      b.statistic = a.real.size() > 1 ? "median of " + std::to_string(a.real.size()) + " runs" : "single run";
    } else if (!a.error) {
      continue;  // only aggregates we do not use
    }
    out.push_back(b);
  }
  return out;
}

static std::vector<double> ranks_of(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) return NAN;
  const auto ra = ranks_of(a), rb = ranks_of(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0 || sbb == 0) return NAN;
  return sab / std::sqrt(saa * sbb);
}

}  // namespace planner::reports
