#include "core/json_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/limits.h"

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

InputError json_exception_error(const Json::exception& e, const std::string& where, const std::string& context) {
  // Built with JSON_DIAGNOSTICS (CMakeLists.txt), a type or range error names the value's JSON
  // pointer: "[json.exception.type_error.302] (/rows/0/step_s) type must be number, but is string".
  std::string msg = strip_prefix(e.what());
  std::string field;
  if (msg.size() > 2 && msg[0] == '(') {
    const size_t close = msg.find(") ");
    if (close != std::string::npos) {
      field = msg.substr(1, close - 1);
      msg = msg.substr(close + 2);
    }
  }
  return InputError(where, field.empty() ? "(top level)" : field, context + msg);
}

std::string json_value_for_error(const Json& j) {
  if (j.is_string()) return "\"" + quote_for_error(j.get_ref<const std::string&>()) + "\"";
  if (j.is_array()) return "an array of " + std::to_string(j.size()) + " items";
  if (j.is_object()) return "an object of " + std::to_string(j.size()) + " fields";
  return quote_for_error(j.dump());
}

// The deepest nesting of arrays and objects, found before parsing: nlohmann's parser and its
// dump() recurse once per level, so a value nested 100,000 deep would overflow the stack.
static void check_nesting(const std::string& text, const std::string& where) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limits::kMaxJsonDepth)
        throw InputError(where, "", "malformed JSON at byte " + std::to_string(i + 1) + ": nested deeper than " +
                                        std::to_string(limits::kMaxJsonDepth) + " arrays/objects (the limit)");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

Json parse_json_text(const std::string& text, const std::string& where) {
  if (text.size() > static_cast<size_t>(limits::kMaxInputBytes))
    throw InputError(where, "", "is " + std::to_string(text.size()) + " bytes; the limit is " +
                                    std::to_string(limits::kMaxInputBytes) + " bytes");
  check_nesting(text, where);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based position where parsing stopped.
    throw InputError(where, "", "malformed JSON at byte " + std::to_string(e.byte) + ": " + strip_prefix(e.what()));
  } catch (const Json::exception& e) {  // e.g. a number too large for a double
    throw InputError(where, "", "malformed JSON: " + strip_prefix(e.what()));
  }
}

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all_fd(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string read_input_file(const std::string& path, const std::string& what) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of blocking; the fstat
  // below then refuses it (and devices such as /dev/zero, which would read forever).
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) throw InputError(path, "", "cannot read " + what + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw InputError(path, "", "cannot read " + what + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw InputError(path, "", "is a directory; expected " + what);
  if (!S_ISREG(st.st_mode))
    throw InputError(path, "", "is not a regular file (a FIFO, a device or a socket); expected " + what +
                                   " (save it to a file first)");
  if (st.st_size > limits::kMaxInputBytes)
    throw InputError(path, "", "is " + std::to_string(st.st_size) + " bytes; the limit for " + what + " is " +
                                   std::to_string(limits::kMaxInputBytes) + " bytes");
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) throw InputError(path, "", "cannot read " + what + ": " + std::strerror(errno));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > static_cast<size_t>(limits::kMaxInputBytes))  // a file that grows while read
      throw InputError(path, "", "is over the limit of " + std::to_string(limits::kMaxInputBytes) + " bytes for " + what);
  }
  return out;
}

Json read_json_file(const std::string& path) { return parse_json_text(read_input_file(path, "a JSON file"), path); }

void write_file_atomic(const std::string& path, const std::string& text) {
  if (path.empty()) throw InputError("(output)", "", "empty output path");
  // A symbolic link is followed: the file it points to is replaced, the link stays.
  std::string target = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) throw InputError(path, "", std::string("is a symbolic link that cannot be followed: ") + std::strerror(errno));
    target = real;
    std::free(real);
  }
  const bool exists = ::stat(target.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) throw InputError(path, "", "is a directory; expected a file to write");
  if (exists && !S_ISREG(st.st_mode)) {
    // A device, FIFO or socket (e.g. -o /dev/null, -o /dev/stdout): written to directly, never
    // replaced by a regular file. O_NONBLOCK: a FIFO nobody reads fails (ENXIO) instead of hanging.
    Fd f{::open(target.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)};
    if (f.fd < 0)
      throw InputError(path, "", std::string("cannot open for writing (not a regular file): ") + std::strerror(errno));
    const int flags = ::fcntl(f.fd, F_GETFL);
    if (flags >= 0) ::fcntl(f.fd, F_SETFL, flags & ~O_NONBLOCK);
    if (!write_all_fd(f.fd, text)) throw InputError(path, "", std::string("write failed: ") + std::strerror(errno));
    return;
  }
  // A regular file (or none yet): a temporary file beside it, flushed to disk, renamed over it,
  // and the folder flushed, so after a crash the path holds the old text or the new, never half.
  const std::string tmp = target + ".tmp." + std::to_string(::getpid());
  Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666)};
  if (f.fd < 0)
    throw InputError(path, "", std::string("cannot open for writing (is the folder there and writable?): ") +
                                   std::strerror(errno));
  if (exists) (void)::fchmod(f.fd, st.st_mode & 07777);  // keep the replaced file's permissions
  if (!write_all_fd(f.fd, text) || ::fsync(f.fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw InputError(path, "", "write failed (disk full?): " + why);
  }
  ::close(f.fd);
  f.fd = -1;
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw InputError(path, "", "cannot rename temporary file into place: " + why);
  }
  Fd dir{::open(parent_dir(target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0) (void)::fsync(dir.fd);  // best effort: some file systems refuse fsync on a folder
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
  fail(key, "value '" + quote_for_error(v) + "' is not allowed; allowed: " + join_quoted(allowed));
}

std::string JsonReader::get_enum(const std::string& key, const std::vector<std::string>& allowed,
                                 const std::string& fallback) const {
  return has(key) ? get_enum(key, allowed) : fallback;
}

int64_t JsonReader::get_int(const std::string& key, int64_t min_value) const {
  const Json& j = at(key);
  int64_t v = 0;
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    fail(key, "value " + j.dump() + " is out of range; must fit a 64-bit signed integer");
  } else if (j.is_number_integer()) {
    v = j.get<int64_t>();
  } else if (j.is_number_float() && std::floor(j.get<double>()) == j.get<double>() &&
             std::fabs(j.get<double>()) < 9e15) {
    v = static_cast<int64_t>(j.get<double>());
  } else {
    fail(key, "expected an integer, got " + json_type_name(j) + " (" + json_value_for_error(j) + ")");
  }
  if (v < min_value)
    fail(key, "value " + std::to_string(v) + " is out of range; must be >= " + std::to_string(min_value));
  return v;
}

int64_t JsonReader::get_int(const std::string& key, int64_t min_value, int64_t fallback) const {
  return has(key) ? get_int(key, min_value) : fallback;
}

int64_t JsonReader::get_int_in(const std::string& key, int64_t min_value, int64_t max_value) const {
  const int64_t v = get_int(key, min_value);
  if (v > max_value)
    fail(key, "value " + std::to_string(v) + " is out of range; must be in [" + std::to_string(min_value) + ", " +
                  std::to_string(max_value) + "]");
  return v;
}

int64_t JsonReader::get_int_in(const std::string& key, int64_t min_value, int64_t max_value, int64_t fallback) const {
  return has(key) ? get_int_in(key, min_value, max_value) : fallback;
}

double JsonReader::get_number(const std::string& key, double min_value, bool allow_equal_min) const {
  const Json& j = at(key);
  if (!j.is_number()) fail(key, "expected a number, got " + json_type_name(j) + " (" + json_value_for_error(j) + ")");
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
  if (!j.is_boolean()) fail(key, "expected true or false, got " + json_type_name(j) + " (" + json_value_for_error(j) + ")");
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
