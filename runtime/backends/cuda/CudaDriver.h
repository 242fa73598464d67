//===- CudaDriver.h - the CUDA driver API, loaded with dlopen -------------===//
//
// llmc-runtime runs on machines with and without GPUs from one binary, so no
// CUDA library is a link-time dependency: libcuda.so.1 is opened at run time
// and every entry point is looked up by its versioned symbol (the one the
// cuda.h prototype names, e.g. cuMemAlloc_v2), so the pointer's type is
// exactly the header's. cuda.h is included for types only.
//
// Every failing call becomes a Status naming the call and the driver's error
// name and text ("cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (a PTX
// JIT compilation failed)").
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CUDA_CUDADRIVER_H
#define LLMC_RUNTIME_BACKENDS_CUDA_CUDADRIVER_H

#include "runtime/support/Status.h"

#include <cuda.h>

#include <cstdint>
#include <string>

namespace llmc::cuda {

using Status = ::llmc::runtime::Status;

// The driver entry points the backend uses. `name` is the un-versioned name;
// cuda.h's macros turn both the member and its symbol into the versioned one.
#define LLMC_CUDA_DRIVER_FUNCTIONS(X)                                          \
  X(cuDriverGetVersion)                                                        \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxSetCurrent)                                                           \
  X(cuCtxSynchronize)                                                          \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemAllocHost)                                                            \
  X(cuMemFreeHost)                                                             \
  X(cuMemGetInfo)                                                              \
  X(cuMemcpyHtoD)                                                              \
  X(cuMemcpyHtoDAsync)                                                         \
  X(cuMemcpyDtoHAsync)                                                         \
  X(cuMemcpyDtoDAsync)                                                         \
  X(cuMemsetD8Async)                                                           \
  X(cuModuleLoadData)                                                          \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncSetAttribute)                                                        \
  X(cuLaunchKernel)                                                            \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamBeginCapture)                                                      \
  X(cuStreamEndCapture)                                                        \
  X(cuGraphInstantiateWithFlags)                                               \
  X(cuGraphLaunch)                                                             \
  X(cuGraphDestroy)                                                            \
  X(cuGraphExecDestroy)

/// The loaded driver. Create once per process with `load`; never unloaded
/// (the driver keeps process-wide state).
struct CudaDriver {
  decltype(&::cuInit) cuInit = nullptr;
  decltype(&::cuGetErrorName) cuGetErrorName = nullptr;
  decltype(&::cuGetErrorString) cuGetErrorString = nullptr;
#define LLMC_DECLARE_MEMBER(name) decltype(&::name) name = nullptr;
  LLMC_CUDA_DRIVER_FUNCTIONS(LLMC_DECLARE_MEMBER)
#undef LLMC_DECLARE_MEMBER

  /// The file dlopen found ("libcuda.so.1").
  std::string libraryName;
  /// cuDriverGetVersion, e.g. 12040 for CUDA 12.4.
  int driverVersion = 0;

  /// Opens libcuda.so.1 (or, where only the development link exists, e.g. the
  /// toolkit's stubs folder on LD_LIBRARY_PATH, libcuda.so), runs cuInit and
  /// resolves every entry point. The result is cached: later calls return the
  /// same driver or the same error. Errors name what the user can do ("no
  /// NVIDIA driver (libcuda.so.1 not found); use --device=cpu").
  static Status load(const CudaDriver *&out);

  /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string describe(CUresult result) const;
  /// Success, or an error "`call` failed: <describe(result)>".
  Status check(CUresult result, const char *call) const;
};

/// Turns a driver call into a Status, naming the call:
/// `LLMC_CU(driver, cuMemFree(ptr))`.
#define LLMC_CU(driver, call) (driver).check((driver).call, #call)

/// CUresult values are stable; the stub library's "I am a stub" code, which
/// older cuda.h files lack.
constexpr int kCudaErrorStubLibrary = 34;

/// The message for a driver that could not be opened or initialized (pure;
/// unit-tested): `dlopenError` when libcuda could not be opened, else the
/// cuInit result and its name.
std::string describeDriverLoadFailure(bool opened, const std::string &library,
                                      const std::string &dlopenError,
                                      int initResult,
                                      const std::string &initErrorName);

} // namespace llmc::cuda

#endif // LLMC_RUNTIME_BACKENDS_CUDA_CUDADRIVER_H
