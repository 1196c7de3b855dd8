#include "core/limits.h"

#include "core/error.h"

namespace planner {

std::string quote_for_error(const std::string& v) {
  if (v.size() <= limits::kMaxQuotedChars) return v;
  return v.substr(0, limits::kMaxQuotedChars) + "... (" + std::to_string(v.size()) + " bytes)";
}

int64_t check_range(int64_t v, int64_t lo, int64_t hi, const std::string& where, const std::string& field) {
  if (v < lo || v > hi)
    throw InputError(where, field,
                     "value " + std::to_string(v) + " is out of range; must be in [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
  return v;
}

int64_t checked_mul(int64_t a, int64_t b, const std::string& where, const std::string& field) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    throw InputError(where, field,
                     std::to_string(a) + " x " + std::to_string(b) + " does not fit a 64-bit integer");
  return r;
}

}  // namespace planner
