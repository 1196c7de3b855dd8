// Reading JSON input with errors that name the file, the field, the value and what is allowed.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace planner {

using Json = nlohmann::json;

// Parses a file as JSON; InputError names the file and the parser's position on failure.
Json read_json_file(const std::string& path);
// Parses text as JSON; `where` names its origin in errors.
Json parse_json_text(const std::string& text, const std::string& where);
// Writes text to path atomically (temporary file + rename), so readers never see half a file.
void write_file_atomic(const std::string& path, const std::string& text);

// A view of one JSON object with its origin (file) and path ("cluster.gpu"), for messages.
class JsonReader {
 public:
  JsonReader(const Json& object, std::string file, std::string path = "");

  bool has(const std::string& key) const;
  const Json& raw() const { return object_; }
  const std::string& file() const { return file_; }
  std::string field_path(const std::string& key) const;

  JsonReader child(const std::string& key) const;  // required object
  // A required array of objects, one reader each ("collectives[2]" in messages).
  std::vector<JsonReader> children(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // A string that must be one of `allowed`; the error lists them.
  std::string get_enum(const std::string& key, const std::vector<std::string>& allowed) const;
  std::string get_enum(const std::string& key, const std::vector<std::string>& allowed,
                       const std::string& fallback) const;
  // Integers and numbers with an inclusive lower bound (min_value), named in the error.
  int64_t get_int(const std::string& key, int64_t min_value) const;
  int64_t get_int(const std::string& key, int64_t min_value, int64_t fallback) const;
  double get_number(const std::string& key, double min_value, bool allow_equal_min = false) const;
  double get_number(const std::string& key, double min_value, bool allow_equal_min,
                    double fallback) const;
  bool get_bool(const std::string& key) const;
  bool get_bool(const std::string& key, bool fallback) const;
  // Rejects keys not in `known` (typos otherwise pass silently).
  void reject_unknown_keys(const std::vector<std::string>& known) const;

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  const Json& at(const std::string& key) const;
  const Json& object_;
  std::string file_;
  std::string path_;
};

std::string json_type_name(const Json& j);

}  // namespace planner
