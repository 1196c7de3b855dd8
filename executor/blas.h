// Which BLAS LibTorch's GEMMs run on. Debian's LibTorch links the generic libblas.so.3; when that
// resolves to the netlib reference BLAS, GEMMs are ~20x slower than with OpenBLAS.
#pragma once
#include <string>

namespace planner::executor {

struct BlasInfo {
  std::string library;   // the file sgemm_ comes from (e.g. /lib/x86_64-linux-gnu/libblas.so.3)
  std::string resolved;  // after symlinks (update-alternatives)
  bool openblas = false; // openblas_get_config is present
};
BlasInfo blas_info();
std::string blas_fix_hint();  // the update-alternatives command that switches to OpenBLAS

}  // namespace planner::executor
