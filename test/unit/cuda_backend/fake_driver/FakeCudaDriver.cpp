//===- FakeCudaDriver.cpp - a libcuda.so.1 test double on host memory -----===//
//
// Lets the CUDA backend's load and forward paths run on machines without a
// GPU (test/unit/cuda_backend/fake_driver_test.cpp, run with this folder on
// LD_LIBRARY_PATH). "Device" memory is host memory, so copies are memcpy and
// tests read what the backend uploaded; modules are opaque bytes; a launch
// of `llmcTestLaunchAbi` runs the host version of test/gpu/
// LaunchAbiKernel.cu over the grid and `llmcInt32Epilogue` that of
// runtime/backends/cuda/kernels/Int32Epilogue.cu (f32 and bf16 outputs);
// stream capture records launches (their
// parameter values copied, as the driver does) and graph launches replay
// them. Knobs, read at each call: FAKE_CUDA_CC ("90"), FAKE_CUDA_MEMORY
// (bytes the device has), FAKE_CUDA_BAD_IMAGE (module loads fail).
//
// A test double, never shipped: only the entry points the backend uses.
//
//===----------------------------------------------------------------------===//

#include "llmc/device_batch.h"

#include <cuda.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

struct FakeFunction {
  std::string entry;
};

struct RecordedLaunch {
  FakeFunction *function = nullptr;
  /// Host work of another fake library (cuBLASLt) instead of a kernel.
  std::function<void()> hostWork;
  unsigned grid[3], block[3];
  std::vector<uint64_t> params; // each zero-extended to 8 bytes
};

/// Parameter sizes of the kernels the fake runs.
std::vector<size_t> parameterSizes(const std::string &entry) {
  if (entry == "llmcTestLaunchAbi")
    return {8, 8, 8, 8, 8, 8};
  if (entry == "llmcInt32Epilogue")
    return {8, 8, 8, 8, 4, 4, 8, 8, 4, 4, 4};
  return {};
}

float asFloat(uint64_t slot) {
  float value;
  uint32_t bits = static_cast<uint32_t>(slot);
  std::memcpy(&value, &bits, 4);
  return value;
}

/// The host version of Int32Epilogue.cu for f32 and bf16 outputs.
void runInt32Epilogue(const RecordedLaunch &launch) {
  const auto &p = launch.params;
  const int32_t *acc = reinterpret_cast<const int32_t *>(p[0]);
  void *c = reinterpret_cast<void *>(p[1]);
  const float *scaleA = reinterpret_cast<const float *>(p[2]);
  const float *scaleB = reinterpret_cast<const float *>(p[3]);
  const float alpha = asFloat(p[4]), beta = asFloat(p[5]);
  const long long rows = static_cast<long long>(p[6]),
                  cols = static_cast<long long>(p[7]);
  const bool perRow = static_cast<int32_t>(p[8]) != 0,
             perColumn = static_cast<int32_t>(p[9]) != 0;
  const int outputType = static_cast<int32_t>(p[10]);
  for (long long i = 0; i < rows * cols; ++i) {
    const long long r = i / cols, col = i % cols;
    float value = alpha * scaleA[perRow ? r : 0] * scaleB[perColumn ? col : 0] *
                  (float)acc[i];
    if (outputType == 0) {
      float *out = static_cast<float *>(c);
      out[i] = beta != 0.0f ? value + beta * out[i] : value;
    } else if (outputType == 2) {
      uint16_t *out = static_cast<uint16_t *>(c);
      if (beta != 0.0f) {
        uint32_t old = uint32_t(out[i]) << 16;
        float oldValue;
        std::memcpy(&oldValue, &old, 4);
        value = value + beta * oldValue;
      }
      uint32_t bits;
      std::memcpy(&bits, &value, 4);
      bits += 0x7fffu + ((bits >> 16) & 1u);
      out[i] = static_cast<uint16_t>(bits >> 16);
    }
  }
}

struct FakeGraph {
  std::vector<RecordedLaunch> launches;
};

bool capturing = false;
FakeGraph *captureGraph = nullptr;
uint64_t allocatedBytes = 0;
int launchesExecuted = 0;
int graphsLaunched = 0;

uint64_t deviceMemory() {
  const char *text = std::getenv("FAKE_CUDA_MEMORY");
  return text ? std::strtoull(text, nullptr, 10) : (80ull << 30);
}

/// The host version of test/gpu/LaunchAbiKernel.cu (kept in step with it).
void runLaunchAbi(const RecordedLaunch &launch) {
  const float *x = reinterpret_cast<const float *>(launch.params[0]);
  float *y = reinterpret_cast<float *>(launch.params[1]);
  const long long rows = static_cast<long long>(launch.params[2]);
  const auto *batch =
      reinterpret_cast<const LlmcDeviceBatch *>(launch.params[3]);
  const long long layer = static_cast<long long>(launch.params[4]);
  float *scratch = reinterpret_cast<float *>(launch.params[5]);
  const long long cols = launch.block[0];
  for (long long row = 0; row < launch.grid[0]; ++row) {
    if (row >= rows)
      continue;
    for (long long column = 0; column < cols; ++column) {
      const long long i = row * cols + column;
      const int sequence = batch->token_sequence[row];
      const int firstBlock =
          batch->block_tables[sequence * batch->block_table_stride];
      float value = 2.0f * x[i] + (float)batch->positions[row] +
                    100.0f * (float)sequence + 1000.0f * (float)layer +
                    10000.0f * (float)(firstBlock + 1) +
                    (batch->num_tokens == rows ? 100000.0f : 0.0f);
      scratch[i] = value;
      y[i] = scratch[i];
    }
  }
}

void execute(const RecordedLaunch &launch) {
  if (launch.hostWork) {
    launch.hostWork();
    return;
  }
  ++launchesExecuted;
  if (launch.function->entry == "llmcTestLaunchAbi")
    runLaunchAbi(launch);
  else if (launch.function->entry == "llmcInt32Epilogue")
    runInt32Epilogue(launch);
}

} // namespace

extern "C" {

int fakeCudaLaunchesExecuted() { return launchesExecuted; }

/// Stream work of the fake cuBLASLt: run now, or recorded while the stream
/// is captured (as cuBLASLt's kernels would be).
void fakeCudaEnqueueHostWork(void (*work)(void *), void *data) {
  RecordedLaunch launch;
  launch.hostWork = [work, data] { work(data); };
  if (capturing)
    captureGraph->launches.push_back(launch);
  else
    execute(launch);
}
int fakeCudaGraphsLaunched() { return graphsLaunched; }

CUresult cuInit(unsigned int) { return CUDA_SUCCESS; }
CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case CUDA_ERROR_OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_IMAGE:
    *name = "CUDA_ERROR_INVALID_IMAGE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return CUDA_SUCCESS;
  default:
    *name = "CUDA_ERROR_UNKNOWN";
    return CUDA_SUCCESS;
  }
}
CUresult cuGetErrorString(CUresult error, const char **text) {
  *text = error == CUDA_ERROR_OUT_OF_MEMORY ? "out of memory" : "fake error";
  return CUDA_SUCCESS;
}
CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal != 0)
    return CUDA_ERROR_INVALID_VALUE;
  *device = 0;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *name, int length, CUdevice) {
  std::strncpy(name, "Fake GPU", length);
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                              CUdevice) {
  const char *text = std::getenv("FAKE_CUDA_CC");
  int cc = text ? std::atoi(text) : 90;
  if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
    *value = cc / 10;
  else if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
    *value = cc % 10;
  else
    *value = 0;
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice) {
  static int fakeContext;
  *context = reinterpret_cast<CUcontext>(&fakeContext);
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease(CUdevice) { return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext) { return CUDA_SUCCESS; }
CUresult cuCtxSynchronize() { return CUDA_SUCCESS; }

CUresult cuMemAlloc(CUdeviceptr *pointer, size_t bytes) {
  if (allocatedBytes + bytes > deviceMemory())
    return CUDA_ERROR_OUT_OF_MEMORY;
  void *memory = std::calloc(1, bytes);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  allocatedBytes += bytes;
  *pointer = reinterpret_cast<CUdeviceptr>(memory);
  return CUDA_SUCCESS;
}
CUresult cuMemFree(CUdeviceptr pointer) {
  std::free(reinterpret_cast<void *>(pointer));
  return CUDA_SUCCESS;
}
CUresult cuMemAllocHost(void **pointer, size_t bytes) {
  *pointer = std::calloc(1, bytes);
  return *pointer ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}
CUresult cuMemFreeHost(void *pointer) {
  std::free(pointer);
  return CUDA_SUCCESS;
}
CUresult cuMemGetInfo(size_t *freeBytes, size_t *totalBytes) {
  *totalBytes = deviceMemory();
  *freeBytes = deviceMemory() - allocatedBytes;
  return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD(CUdeviceptr target, const void *source, size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(target), source, bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoDAsync(CUdeviceptr target, const void *source, size_t bytes,
                           CUstream) {
  if (capturing)
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; // the backend copies first
  std::memcpy(reinterpret_cast<void *>(target), source, bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoHAsync(void *target, CUdeviceptr source, size_t bytes,
                           CUstream) {
  std::memcpy(target, reinterpret_cast<const void *>(source), bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoDAsync(CUdeviceptr target, CUdeviceptr source, size_t bytes,
                           CUstream) {
  std::memmove(reinterpret_cast<void *>(target),
               reinterpret_cast<const void *>(source), bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemsetD8Async(CUdeviceptr target, unsigned char value, size_t bytes,
                         CUstream) {
  std::memset(reinterpret_cast<void *>(target), value, bytes);
  return CUDA_SUCCESS;
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *, unsigned int count,
                            CUjit_option *options, void **values) {
  if (std::getenv("FAKE_CUDA_BAD_IMAGE")) {
    for (unsigned i = 0; i < count; ++i)
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
        std::strcpy(static_cast<char *>(values[i]), "fake: bad image");
    return CUDA_ERROR_INVALID_IMAGE;
  }
  static int fakeModule;
  *module = reinterpret_cast<CUmodule>(&fakeModule);
  return CUDA_SUCCESS;
}
CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  return cuModuleLoadDataEx(module, image, 0, nullptr, nullptr);
}
CUresult cuModuleUnload(CUmodule) { return CUDA_SUCCESS; }
CUresult cuModuleGetFunction(CUfunction *function, CUmodule, const char *name) {
  *function = reinterpret_cast<CUfunction>(new FakeFunction{name});
  return CUDA_SUCCESS;
}
CUresult cuFuncSetAttribute(CUfunction, CUfunction_attribute, int) {
  return CUDA_SUCCESS;
}
CUresult cuLaunchKernel(CUfunction function, unsigned gx, unsigned gy,
                        unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned, CUstream, void **params, void **) {
  RecordedLaunch launch;
  launch.function = reinterpret_cast<FakeFunction *>(function);
  launch.grid[0] = gx;
  launch.grid[1] = gy;
  launch.grid[2] = gz;
  launch.block[0] = bx;
  launch.block[1] = by;
  launch.block[2] = bz;
  // Copied at launch or capture, as the driver does.
  std::vector<size_t> sizes = parameterSizes(launch.function->entry);
  for (size_t i = 0; i < sizes.size(); ++i) {
    uint64_t slot = 0;
    std::memcpy(&slot, params[i], sizes[i]);
    launch.params.push_back(slot);
  }
  if (capturing) {
    captureGraph->launches.push_back(launch);
    return CUDA_SUCCESS;
  }
  execute(launch);
  return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *stream, unsigned int) {
  static int fakeStream;
  *stream = reinterpret_cast<CUstream>(&fakeStream);
  return CUDA_SUCCESS;
}
CUresult cuStreamDestroy(CUstream) { return CUDA_SUCCESS; }
CUresult cuStreamSynchronize(CUstream) { return CUDA_SUCCESS; }
CUresult cuStreamBeginCapture(CUstream, CUstreamCaptureMode) {
  capturing = true;
  captureGraph = new FakeGraph();
  return CUDA_SUCCESS;
}
CUresult cuStreamEndCapture(CUstream, CUgraph *graph) {
  capturing = false;
  *graph = reinterpret_cast<CUgraph>(captureGraph);
  captureGraph = nullptr;
  return CUDA_SUCCESS;
}
CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph,
                                     unsigned long long) {
  *exec = reinterpret_cast<CUgraphExec>(
      new FakeGraph(*reinterpret_cast<FakeGraph *>(graph)));
  return CUDA_SUCCESS;
}
CUresult cuGraphLaunch(CUgraphExec exec, CUstream) {
  ++graphsLaunched;
  for (const RecordedLaunch &launch :
       reinterpret_cast<FakeGraph *>(exec)->launches)
    execute(launch);
  return CUDA_SUCCESS;
}
CUresult cuGraphDestroy(CUgraph graph) {
  delete reinterpret_cast<FakeGraph *>(graph);
  return CUDA_SUCCESS;
}
CUresult cuGraphExecDestroy(CUgraphExec exec) {
  delete reinterpret_cast<FakeGraph *>(exec);
  return CUDA_SUCCESS;
}

} // extern "C"
