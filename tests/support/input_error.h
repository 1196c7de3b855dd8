// The text of the InputError a call throws, for tests of user-facing error messages.
#pragma once
#include <functional>
#include <string>

#include "core/error.h"

namespace planner::testing {

// What `f` throws as an InputError; "(no error)" when it throws nothing.
inline std::string input_error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace planner::testing
