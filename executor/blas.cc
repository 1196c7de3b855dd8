#include "executor/blas.h"

#include <climits>
#include <cstdlib>
#include <dlfcn.h>

namespace planner::executor {

BlasInfo blas_info() {
  BlasInfo b;
  void* sym = ::dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (sym && ::dladdr(sym, &info) && info.dli_fname) {
    b.library = info.dli_fname;
    char real[PATH_MAX];
    if (::realpath(info.dli_fname, real)) b.resolved = real;
  }
  b.openblas = ::dlsym(RTLD_DEFAULT, "openblas_get_config") != nullptr;
  return b;
}

bool set_blas_threads(int n) {
  using SetThreads = void (*)(int);
  auto* set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) return false;
  set(n);
  return true;
}

std::string blas_fix_hint() {
  return "LibTorch is using the netlib reference BLAS (about 20x slower than OpenBLAS). Fix: sudo apt-get install "
         "libopenblas0-pthread && sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu "
         "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 (or run scripts/setup.sh --torch)";
}

}  // namespace planner::executor
