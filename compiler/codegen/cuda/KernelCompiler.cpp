//===- KernelCompiler.cpp - NVRTC driver and the on-disk kernel cache -----===//

#include "compiler/codegen/cuda/KernelCompiler.h"
#include "runtime/schema/Checksum.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#ifdef LLMC_HAVE_NVRTC
#include <nvrtc.h>
#endif

namespace llmc::codegen::cuda {
namespace {

constexpr char kCacheMagic[8] = {'L', 'L', 'M', 'C', 'K', 'R', 'N', '1'};
constexpr size_t kCacheHeaderBytes = 8 + 3 * sizeof(uint64_t);

std::string hex64(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx",
                static_cast<unsigned long long>(value));
  return buffer;
}

std::string cudaIncludeDirectory() {
  if (std::optional<std::string> home = llvm::sys::Process::GetEnv("CUDA_HOME"))
    return *home + "/include";
#ifdef LLMC_CUDA_INCLUDE_DIR
  return LLMC_CUDA_INCLUDE_DIR;
#else
  return "/usr/local/cuda/include";
#endif
}

std::vector<std::string> nvrtcOptions(const std::string &gpuArchitecture) {
  // No fast math: the kernels must round like the CPU reference (IEEE
  // division and square root, expf within its documented ulp).
  return {"--gpu-architecture=" + gpuArchitecture, "--std=c++17",
          "--include-path=" + cudaIncludeDirectory()};
}

/// The NVRTC runs for a target: the cubin comes from the exact architecture;
/// the PTX must be JIT-able by newer GPUs, which arch-specific PTX (sm_90a,
/// sm_100a) is not, so those targets get a second run for the plain
/// compute_XX. The templates use no arch-specific instruction, so both runs
/// see the same __CUDA_ARCH__ and the same code.
struct NvrtcRun {
  std::string gpuArchitecture;
  bool keepCubin, keepPtx;
};

std::vector<NvrtcRun> nvrtcRuns(const Target &target) {
  llvm::StringRef sm = target.sm;
  if (!sm.ends_with("a"))
    return {{"sm_" + target.sm, true, true}};
  return {{"sm_" + target.sm, true, false},
          {"compute_" + sm.drop_back().str(), false, true}};
}

std::string cachePath(const std::string &directory, const std::string &key) {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, key + ".kernel");
  return std::string(path);
}

/// The entry at `path`, or nothing when absent, truncated or corrupt.
std::optional<CompiledKernel> readCacheEntry(const std::string &path,
                                             bool &corrupt) {
  corrupt = false;
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return std::nullopt;
  llvm::StringRef bytes = (*buffer)->getBuffer();
  corrupt = true;
  if (bytes.size() < kCacheHeaderBytes ||
      std::memcmp(bytes.data(), kCacheMagic, 8) != 0)
    return std::nullopt;
  uint64_t ptxBytes, cubinBytes, checksum;
  std::memcpy(&ptxBytes, bytes.data() + 8, 8);
  std::memcpy(&cubinBytes, bytes.data() + 16, 8);
  std::memcpy(&checksum, bytes.data() + 24, 8);
  llvm::StringRef payload = bytes.drop_front(kCacheHeaderBytes);
  if (ptxBytes > payload.size() || cubinBytes != payload.size() - ptxBytes ||
      artifact::xxhash64(payload.data(), payload.size()) != checksum)
    return std::nullopt;
  corrupt = false;
  CompiledKernel kernel;
  kernel.ptx = payload.take_front(ptxBytes).str();
  kernel.cubin = payload.drop_front(ptxBytes).str();
  kernel.fromCache = true;
  return kernel;
}

/// Writes the entry beside its final name and renames it into place, so a
/// concurrent reader sees the old file or the whole new one. Failing to
/// cache is not an error: the next compile just compiles again.
void writeCacheEntry(const std::string &directory, const std::string &path,
                     const CompiledKernel &kernel) {
  if (llvm::sys::fs::create_directories(directory))
    return;
  std::string payload = kernel.ptx + kernel.cubin;
  uint64_t header[3] = {kernel.ptx.size(), kernel.cubin.size(),
                        artifact::xxhash64(payload.data(), payload.size())};
  int fd;
  llvm::SmallString<256> temporary;
  if (llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%%%", fd, temporary))
    return;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(kCacheMagic, sizeof kCacheMagic);
    os.write(reinterpret_cast<const char *>(header), sizeof header);
    os << payload;
    os.close();
    if (os.has_error()) {
      os.clear_error();
      llvm::sys::fs::remove(temporary);
      return;
    }
  }
  if (llvm::sys::fs::rename(temporary, path))
    llvm::sys::fs::remove(temporary);
}

std::string describeKernel(const CudaKernel &kernel) {
  std::string names;
  for (const KernelEntry &entry : kernel.entries)
    names += (names.empty() ? "" : ", ") + entry.name;
  return names + " (" + kernel.kind + ", from " + kernel.origin + ")";
}

#ifdef LLMC_HAVE_NVRTC
llvm::Expected<CompiledKernel> runNvrtc(const CudaKernel &kernel,
                                        const NvrtcRun &run) {
  auto failure = [&](llvm::StringRef what, nvrtcResult result,
                     llvm::StringRef log) {
    return llvm::createStringError(
        "NVRTC failed to %s kernel %s for %s: %s%s%s", what.str().c_str(),
        describeKernel(kernel).c_str(), run.gpuArchitecture.c_str(),
        nvrtcGetErrorString(result), log.empty() ? "" : "\n",
        log.str().c_str());
  };
  nvrtcProgram program;
  std::string fileName =
      (kernel.entries.empty() ? kernel.kind : kernel.entries[0].name) + ".cu";
  nvrtcResult result = nvrtcCreateProgram(
      &program, kernel.source.c_str(), fileName.c_str(), 0, nullptr, nullptr);
  if (result != NVRTC_SUCCESS)
    return failure("create a program for", result, "");
  std::vector<std::string> options = nvrtcOptions(run.gpuArchitecture);
  std::vector<const char *> optionPointers;
  for (const std::string &option : options)
    optionPointers.push_back(option.c_str());
  result = nvrtcCompileProgram(program, static_cast<int>(optionPointers.size()),
                               optionPointers.data());
  std::string log;
  size_t logBytes = 0;
  if (nvrtcGetProgramLogSize(program, &logBytes) == NVRTC_SUCCESS &&
      logBytes > 1) {
    log.resize(logBytes);
    nvrtcGetProgramLog(program, log.data());
    log.resize(logBytes - 1);
  }
  if (result != NVRTC_SUCCESS) {
    nvrtcDestroyProgram(&program);
    return failure("compile", result, log);
  }
  CompiledKernel compiled;
  size_t bytes = 0;
  if (run.keepPtx &&
      (result = nvrtcGetPTXSize(program, &bytes)) == NVRTC_SUCCESS) {
    compiled.ptx.resize(bytes);
    result = nvrtcGetPTX(program, compiled.ptx.data());
    // The size counts the terminating NUL.
    if (!compiled.ptx.empty() && compiled.ptx.back() == '\0')
      compiled.ptx.pop_back();
  }
  if (run.keepCubin && result == NVRTC_SUCCESS &&
      (result = nvrtcGetCUBINSize(program, &bytes)) == NVRTC_SUCCESS) {
    compiled.cubin.resize(bytes);
    result = nvrtcGetCUBIN(program, compiled.cubin.data());
  }
  nvrtcDestroyProgram(&program);
  if (result != NVRTC_SUCCESS)
    return failure("read the output of", result, log);
  return compiled;
}

llvm::Expected<CompiledKernel> compileWithNvrtc(const CudaKernel &kernel,
                                                const Target &target) {
  CompiledKernel compiled;
  for (const NvrtcRun &run : nvrtcRuns(target)) {
    llvm::Expected<CompiledKernel> part = runNvrtc(kernel, run);
    if (!part)
      return part.takeError();
    if (run.keepCubin)
      compiled.cubin = std::move(part->cubin);
    if (run.keepPtx)
      compiled.ptx = std::move(part->ptx);
  }
  return compiled;
}
#endif

} // namespace

bool haveNvrtc() {
#ifdef LLMC_HAVE_NVRTC
  return true;
#else
  return false;
#endif
}

std::string nvrtcVersion() {
#ifdef LLMC_HAVE_NVRTC
  int major = 0, minor = 0;
  if (::nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "";
  return std::to_string(major) + "." + std::to_string(minor);
#else
  return "";
#endif
}

std::string kernelCacheDirectory(const KernelCompilerOptions &options) {
  if (!options.cacheDirectory.empty())
    return options.cacheDirectory;
  if (std::optional<std::string> directory =
          llvm::sys::Process::GetEnv("LLMC_KERNEL_CACHE");
      directory && !directory->empty())
    return *directory;
  llvm::SmallString<256> path;
  if (std::optional<std::string> cacheHome =
          llvm::sys::Process::GetEnv("XDG_CACHE_HOME");
      cacheHome && !cacheHome->empty())
    path = *cacheHome;
  else if (llvm::sys::path::home_directory(path))
    llvm::sys::path::append(path, ".cache");
  else
    path = llvm::sys::path::get_separator(); // no home: use /tmp below
  if (path.empty() || path == llvm::sys::path::get_separator())
    path = "/tmp";
  llvm::sys::path::append(path, "llmc", "kernels");
  return std::string(path);
}

std::string kernelCacheKey(const CudaKernel &kernel, const Target &target) {
  std::string material = kernel.source;
  material += '\0';
  material += target.sm;
  material += '\0';
  material += nvrtcVersion();
  for (const NvrtcRun &run : nvrtcRuns(target))
    for (const std::string &option : nvrtcOptions(run.gpuArchitecture)) {
      material += '\0';
      material += option;
    }
  return hex64(artifact::xxhash64(material.data(), material.size()));
}

llvm::Expected<std::vector<CompiledKernel>>
compileKernels(llvm::ArrayRef<CudaKernel> kernels, const Target &target,
               const KernelCompilerOptions &options,
               KernelCompileStatistics *statistics) {
  if (!target.isGpu())
    return llvm::createStringError("cannot compile CUDA kernels for %s",
                                   target.describe().c_str());
#ifndef LLMC_HAVE_NVRTC
  (void)kernels;
  (void)options;
  (void)statistics;
  return llvm::createStringError(
      "GPU code generation for %s needs NVRTC, and this llmc was built "
      "without the CUDA toolkit; rebuild with CUDA installed (CMake looks in "
      "/usr/local/cuda or CUDAToolkit_ROOT), or use --emit=cuda to write the "
      "sources only",
      target.describe().c_str());
#else
  std::string directory = kernelCacheDirectory(options);
  std::vector<CompiledKernel> results(kernels.size());
  std::vector<llvm::Error> errors;
  std::mutex errorsMutex;
  std::atomic<size_t> next{0};
  std::atomic<int64_t> compiled{0}, hits{0}, rebuilt{0};
  auto work = [&] {
    for (size_t i = next++; i < kernels.size(); i = next++) {
      const CudaKernel &kernel = kernels[i];
      std::string path = cachePath(directory, kernelCacheKey(kernel, target));
      if (options.useCache) {
        bool corrupt = false;
        if (std::optional<CompiledKernel> cached =
                readCacheEntry(path, corrupt)) {
          results[i] = std::move(*cached);
          ++hits;
          continue;
        }
        if (corrupt)
          ++rebuilt;
      }
      llvm::Expected<CompiledKernel> result = compileWithNvrtc(kernel, target);
      if (!result) {
        std::lock_guard<std::mutex> lock(errorsMutex);
        errors.push_back(result.takeError());
        continue;
      }
      ++compiled;
      if (options.useCache)
        writeCacheEntry(directory, path, *result);
      results[i] = std::move(*result);
    }
  };
  unsigned threads = options.threads
                         ? options.threads
                         : llvm::hardware_concurrency().compute_thread_count();
  threads = std::max(1u, std::min<unsigned>(threads, kernels.size()));
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < threads; ++t)
    workers.emplace_back(work);
  work();
  for (std::thread &worker : workers)
    worker.join();
  if (statistics) {
    statistics->compiled += compiled;
    statistics->cacheHits += hits;
    statistics->cacheEntriesRebuilt += rebuilt;
  }
  llvm::Error all = llvm::Error::success();
  for (llvm::Error &error : errors)
    all = llvm::joinErrors(std::move(all), std::move(error));
  if (all)
    return std::move(all);
  return results;
#endif
}

} // namespace llmc::codegen::cuda
