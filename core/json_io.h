// Reading JSON input with errors that name the file, the field, the value and what is allowed.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace planner {

using Json = nlohmann::json;

class InputError;

// Reads a whole input file: a regular file of at most limits::kMaxInputBytes. A FIFO, a device
// (/dev/zero), a socket or a directory is an InputError naming the path and `what` was expected,
// never a read that blocks or runs forever.
std::string read_input_file(const std::string& path, const std::string& what);
// Parses a file as JSON; InputError names the file and the parser's position on failure.
Json read_json_file(const std::string& path);
// Parses text as JSON; `where` names its origin in errors. Text over limits::kMaxInputBytes or
// nested deeper than limits::kMaxJsonDepth is an InputError.
Json parse_json_text(const std::string& text, const std::string& where);
// Writes text to path so that readers never see half a file: a regular file (or a new one) is
// written to a temporary file beside it, fsync'ed and renamed over it (the folder fsync'ed
// after); a symbolic link is followed (the file it points to is replaced, the link stays); a
// device, FIFO or socket (/dev/null, /dev/stdout) is written to directly, never replaced.
void write_file_atomic(const std::string& path, const std::string& text);

// A json type or range error (a reader's typed access deep inside a document) as an InputError
// naming `where` and the value's JSON pointer as the field (the build defines JSON_DIAGNOSTICS).
// `context` ("not a valid run document: ") goes before nlohmann's message.
InputError json_exception_error(const nlohmann::json::exception& e, const std::string& where,
                                const std::string& context = "");
// A JSON value quoted in an error message: short values as written, long strings cut
// (quote_for_error), arrays and objects by their size.
std::string json_value_for_error(const nlohmann::json& j);

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
  // Integers in [min_value, max_value] (core/limits.h holds the bounds of user quantities).
  int64_t get_int_in(const std::string& key, int64_t min_value, int64_t max_value) const;
  int64_t get_int_in(const std::string& key, int64_t min_value, int64_t max_value, int64_t fallback) const;
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
