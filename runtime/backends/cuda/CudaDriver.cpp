//===- CudaDriver.cpp - opens libcuda.so.1 and resolves the driver API ----===//

#include "runtime/backends/cuda/CudaDriver.h"

#include <dlfcn.h>

#include <mutex>

namespace llmc::cuda {

// Stringizes after macro expansion: cuda.h maps cuMemAlloc to cuMemAlloc_v2,
// the symbol whose prototype the member's type is.
#define LLMC_SYMBOL_NAME(name) LLMC_SYMBOL_NAME_EXPANDED(name)
#define LLMC_SYMBOL_NAME_EXPANDED(name) #name

std::string describeDriverLoadFailure(bool opened, const std::string &library,
                                      const std::string &dlopenError,
                                      int initResult,
                                      const std::string &initErrorName) {
  const std::string prefix = "--device=cuda: ";
  if (!opened)
    // dlopen's own text adds nothing unless the file exists but is broken.
    return prefix + "no NVIDIA driver (libcuda.so.1 not found); use " +
           "--device=cpu" +
           (dlopenError.empty() ||
                    dlopenError.find("No such file") != std::string::npos
                ? ""
                : " (dlopen: " + dlopenError + ")");
  if (initResult == kCudaErrorStubLibrary)
    return prefix + library +
           " is the CUDA toolkit's stub library (cuInit returned "
           "CUDA_ERROR_STUB_LIBRARY), not an NVIDIA driver; remove the "
           "toolkit's lib64/stubs folder from LD_LIBRARY_PATH, or use "
           "--device=cpu";
  if (initResult == CUDA_ERROR_NO_DEVICE)
    return prefix + "the NVIDIA driver (" + library +
           ") sees no CUDA device (cuInit returned CUDA_ERROR_NO_DEVICE); "
           "use --device=cpu";
  return prefix + "cuInit failed: " +
         (initErrorName.empty() ? "error " + std::to_string(initResult)
                                : initErrorName) +
         " (driver " + library + "); use --device=cpu";
}

std::string CudaDriver::describe(CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (cuGetErrorName)
    cuGetErrorName(result, &name);
  if (cuGetErrorString)
    cuGetErrorString(result, &text);
  std::string description =
      name ? name : "CUDA error " + std::to_string(static_cast<int>(result));
  if (text)
    description += std::string(" (") + text + ")";
  return description;
}

Status CudaDriver::check(CUresult result, const char *call) const {
  if (result == CUDA_SUCCESS)
    return Status::success();
  // The call text is "cuMemFree(ptr)"; its name is enough.
  std::string name(call);
  if (size_t paren = name.find('('); paren != std::string::npos)
    name.resize(paren);
  return Status::error(name + " failed: " + describe(result));
}

namespace {

Status loadOnce(CudaDriver &driver) {
  // libcuda.so.1 is what the driver installs; libcuda.so alone is the
  // development link (and what the toolkit's stubs folder holds).
  void *handle = nullptr;
  std::string firstError;
  for (const char *name : {"libcuda.so.1", "libcuda.so"}) {
    handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      driver.libraryName = name;
      break;
    }
    if (firstError.empty())
      if (const char *error = dlerror())
        firstError = error;
  }
  if (!handle)
    return Status::error(
        describeDriverLoadFailure(false, "", firstError, 0, ""));

  auto lookup = [&](const char *symbol, auto &pointer) {
    pointer = reinterpret_cast<std::remove_reference_t<decltype(pointer)>>(
        dlsym(handle, symbol));
    return pointer != nullptr;
  };
  if (!lookup("cuInit", driver.cuInit))
    return Status::error("--device=cuda: " + driver.libraryName +
                         " has no cuInit; it is not a CUDA driver");
  lookup("cuGetErrorName", driver.cuGetErrorName);
  lookup("cuGetErrorString", driver.cuGetErrorString);

  CUresult init = driver.cuInit(0);
  if (init != CUDA_SUCCESS) {
    const char *name = nullptr;
    if (driver.cuGetErrorName &&
        driver.cuGetErrorName(init, &name) != CUDA_SUCCESS)
      name = nullptr;
    return Status::error(describeDriverLoadFailure(true, driver.libraryName, "",
                                                   static_cast<int>(init),
                                                   name ? name : ""));
  }

#define LLMC_RESOLVE(name)                                                     \
  if (!lookup(LLMC_SYMBOL_NAME(name), driver.name))                            \
    return Status::error("--device=cuda: the NVIDIA driver (" +                \
                         driver.libraryName + ") lacks " +                     \
                         LLMC_SYMBOL_NAME(name) +                              \
                         "; update the driver (llmc needs CUDA 12 or newer)");
  LLMC_CUDA_DRIVER_FUNCTIONS(LLMC_RESOLVE)
#undef LLMC_RESOLVE

  if (Status s = LLMC_CU(driver, cuDriverGetVersion(&driver.driverVersion)); !s)
    return s;
  return Status::success();
}

} // namespace

Status CudaDriver::load(const CudaDriver *&out) {
  static CudaDriver driver;
  static Status status;
  static std::once_flag once;
  std::call_once(once, [] { status = loadOnce(driver); });
  out = status.ok() ? &driver : nullptr;
  return status;
}

} // namespace llmc::cuda
