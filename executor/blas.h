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
// Sets OpenBLAS's own thread pool to n threads (at::set_num_threads does not reach it). OpenBLAS
// sizes its pool once, from the CPUs the process could use when the library was loaded (the
// launcher, before binding), and its idle workers spin with sched_yield: left alone, every rank
// runs a second GEMM thread on the core it was bound to. Returns false when the BLAS is not
// OpenBLAS (nothing to do).
bool set_blas_threads(int n);

}  // namespace planner::executor
