#include "core/json_io.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "core/error.h"

namespace planner {

std::string json_type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at ...: ".
static std::string strip_prefix(const std::string& what) {
  const size_t p = what.find("] ");
  return p == std::string::npos ? what : what.substr(p + 2);
}

Json parse_json_text(const std::string& text, const std::string& where) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based position where parsing stopped.
    throw InputError(where, "", "malformed JSON at byte " + std::to_string(e.byte) + ": " + strip_prefix(e.what()));
  } catch (const Json::exception& e) {  // e.g. a number too large for a double
    throw InputError(where, "", "malformed JSON: " + strip_prefix(e.what()));
  }
}

Json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open file for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_json_text(ss.str(), path);
}

void write_file_atomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path, "", "cannot open for writing (is the folder there and writable?)");
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw InputError(path, "", "write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot rename temporary file into place");
  }
}

JsonReader::JsonReader(const Json& object, std::string file, std::string path)
    : object_(object), file_(std::move(file)), path_(std::move(path)) {
  if (!object_.is_object())
    throw InputError(file_, path_.empty() ? "(top level)" : path_,
                     "expected a JSON object, got " + json_type_name(object_));
}

std::string JsonReader::field_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void JsonReader::fail(const std::string& key, const std::string& message) const {
  throw InputError(file_, field_path(key), message);
}

bool JsonReader::has(const std::string& key) const {
  return object_.contains(key) && !object_.at(key).is_null();
}

const Json& JsonReader::at(const std::string& key) const {
  if (!has(key)) fail(key, "missing (required)");
  return object_.at(key);
}

JsonReader JsonReader::child(const std::string& key) const {
  const Json& j = at(key);
  if (!j.is_object()) fail(key, "expected an object, got " + json_type_name(j));
  return JsonReader(j, file_, field_path(key));
}

std::vector<JsonReader> JsonReader::children(const std::string& key) const {
  const Json& j = at(key);
  if (!j.is_array()) fail(key, "expected an array of objects, got " + json_type_name(j));
  std::vector<JsonReader> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string item = key + "[" + std::to_string(i) + "]";
    if (!j[i].is_object()) fail(item, "expected an object, got " + json_type_name(j[i]));
    out.emplace_back(j[i], file_, field_path(item));
  }
  return out;
}

std::string JsonReader::get_string(const std::string& key) const {
  const Json& j = at(key);
  if (!j.is_string()) fail(key, "expected a string, got " + json_type_name(j));
  return j.get<std::string>();
}

std::string JsonReader::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

static std::string join_quoted(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + ("'" + v[i] + "'");
  return s;
}

std::string JsonReader::get_enum(const std::string& key, const std::vector<std::string>& allowed) const {
  std::string v = get_string(key);
  for (const auto& a : allowed)
    if (a == v) return v;
  fail(key, "value '" + v + "' is not allowed; allowed: " + join_quoted(allowed));
}

std::string JsonReader::get_enum(const std::string& key, const std::vector<std::string>& allowed,
                                 const std::string& fallback) const {
  return has(key) ? get_enum(key, allowed) : fallback;
}

int64_t JsonReader::get_int(const std::string& key, int64_t min_value) const {
  const Json& j = at(key);
  int64_t v = 0;
  if (j.is_number_integer()) {
    v = j.get<int64_t>();
  } else if (j.is_number_float() && std::floor(j.get<double>()) == j.get<double>() &&
             std::fabs(j.get<double>()) < 9e15) {
    v = static_cast<int64_t>(j.get<double>());
  } else {
    fail(key, "expected an integer, got " + json_type_name(j) + " (" + j.dump() + ")");
  }
  if (v < min_value)
    fail(key, "value " + std::to_string(v) + " is out of range; must be >= " + std::to_string(min_value));
  return v;
}

int64_t JsonReader::get_int(const std::string& key, int64_t min_value, int64_t fallback) const {
  return has(key) ? get_int(key, min_value) : fallback;
}

double JsonReader::get_number(const std::string& key, double min_value, bool allow_equal_min) const {
  const Json& j = at(key);
  if (!j.is_number()) fail(key, "expected a number, got " + json_type_name(j) + " (" + j.dump() + ")");
  double v = j.get<double>();
  if (!std::isfinite(v) || v < min_value || (!allow_equal_min && v == min_value)) {
    std::ostringstream os;
    os << "value " << v << " is out of range; must be " << (allow_equal_min ? ">= " : "> ") << min_value;
    fail(key, os.str());
  }
  return v;
}

double JsonReader::get_number(const std::string& key, double min_value, bool allow_equal_min,
                              double fallback) const {
  return has(key) ? get_number(key, min_value, allow_equal_min) : fallback;
}

bool JsonReader::get_bool(const std::string& key) const {
  const Json& j = at(key);
  if (!j.is_boolean()) fail(key, "expected true or false, got " + json_type_name(j) + " (" + j.dump() + ")");
  return j.get<bool>();
}

bool JsonReader::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}

void JsonReader::reject_unknown_keys(const std::vector<std::string>& known) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    bool ok = false;
    for (const auto& k : known) ok = ok || (k == it.key());
    if (!ok) fail(it.key(), "unknown field; known fields: " + join_quoted(known));
  }
}

}  // namespace planner
