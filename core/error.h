// Errors split by audience (see docs/formats.md, "Errors").
//  - InputError: the user's mistake. Names where (file or flag), the field, the value and what is
//    allowed. The CLI prints it and exits 2.
//  - InternalError: a broken invariant (a bug). Carries file:line. The CLI exits 70 (EX_SOFTWARE).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace planner {

class InputError : public std::runtime_error {
 public:
  // where: a file path or "--flag"; field: the JSON field / option ("" if not applicable).
  InputError(const std::string& where, const std::string& field, const std::string& message)
      : std::runtime_error(format(where, field, message)) {}
  explicit InputError(const std::string& message) : std::runtime_error(cap(message, kMaxMessageChars)) {}

  // Each part is capped, so a huge value (a 100 MB string in a flag or a field) never becomes a
  // huge message: where and field at kMaxNameChars, the message at kMaxMessageChars.
  static constexpr size_t kMaxNameChars = 512;
  static constexpr size_t kMaxMessageChars = 8192;
  static std::string cap(const std::string& s, size_t max_chars) {
    if (s.size() <= max_chars) return s;
    return s.substr(0, max_chars) + "... (" + std::to_string(s.size()) + " bytes)";
  }

 private:
  static std::string format(const std::string& where, const std::string& field,
                            const std::string& message) {
    std::string out = cap(where, kMaxNameChars);
    if (!field.empty())
      out += (out.empty() ? "" : ": ") + std::string("field '") + cap(field, kMaxNameChars) + "'";
    if (!out.empty()) out += ": ";
    return out + cap(message, kMaxMessageChars);
  }
};

class InternalError : public std::logic_error {
 public:
  InternalError(const char* file, int line, const std::string& message)
      : std::logic_error(std::string("internal error at ") + file + ":" + std::to_string(line) +
                         ": " + message) {}
};

}  // namespace planner

#define PLANNER_CHECK(cond, msg)                                         \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::ostringstream planner_check_os_;                              \
      planner_check_os_ << "check failed: " #cond ": " << msg;           \
      throw ::planner::InternalError(__FILE__, __LINE__, planner_check_os_.str()); \
    }                                                                    \
  } while (0)
