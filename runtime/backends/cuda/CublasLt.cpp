//===- CublasLt.cpp - opens libcublasLt and resolves its entry points -----===//

#include "runtime/backends/cuda/CublasLt.h"

#include <dlfcn.h>

#include <mutex>
#include <type_traits>

namespace llmc::cuda {

Status CublasLt::check(cublasStatus_t status, const char *call) const {
  if (status == CUBLAS_STATUS_SUCCESS)
    return Status::success();
  std::string name(call);
  if (size_t paren = name.find('('); paren != std::string::npos)
    name.resize(paren);
  std::string text = cublasLtGetStatusName
                         ? cublasLtGetStatusName(status)
                         : "cuBLAS status " + std::to_string(int(status));
  if (cublasLtGetStatusString)
    text += std::string(" (") + cublasLtGetStatusString(status) + ")";
  return Status::error(name + " failed: " + text);
}

namespace {

Status loadOnce(CublasLt &lt) {
  void *handle = nullptr;
  std::string firstError;
  // PyTorch wheels and the toolkit install the versioned names; CUDA 13's
  // library first, then 12's.
  for (const char *name :
       {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}) {
    handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      lt.libraryName = name;
      break;
    }
    if (firstError.empty())
      if (const char *error = dlerror())
        firstError = error;
  }
  if (!handle)
    return Status::error(
        "--device=cuda: cuBLASLt not found (libcublasLt.so.13 or .12: " +
        firstError +
        "); install the CUDA toolkit's cuBLAS or put its lib folder on "
        "LD_LIBRARY_PATH");
#define LLMC_RESOLVE(name)                                                     \
  lt.name = reinterpret_cast<decltype(lt.name)>(dlsym(handle, #name));         \
  if (!lt.name)                                                                \
    return Status::error("--device=cuda: " + lt.libraryName +                  \
                         " lacks " #name "; llmc needs cuBLASLt 12 or newer");
  LLMC_CUBLASLT_FUNCTIONS(LLMC_RESOLVE)
#undef LLMC_RESOLVE
  lt.version = lt.cublasLtGetVersion();
  return Status::success();
}

} // namespace

Status CublasLt::load(const CublasLt *&out) {
  static CublasLt lt;
  static Status status;
  static std::once_flag once;
  std::call_once(once, [] { status = loadOnce(lt); });
  out = status.ok() ? &lt : nullptr;
  return status;
}

} // namespace llmc::cuda
