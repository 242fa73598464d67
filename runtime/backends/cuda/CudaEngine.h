//===- CudaEngine.h - the CUDA backend of engine::Engine ------------------===//
//
// Runs rank 0's plan of a GPU-target artifact on one GPU
// (docs/runtime-cuda.md):
//  - at create: loads the driver and cuBLASLt (dlopen), checks the GPU
//    against the artifact's architecture (DeviceCheck.h), loads the kernel
//    modules (cubin, or PTX JIT on a newer GPU) and resolves every kernel
//    once, allocates one device allocation per plan arena, uploads the
//    weights, lays out a paged KV cache in device memory exactly as the CPU
//    backend's PagedKVCache, and prepares every step: kernel parameter arrays
//    (LaunchPlan.h), cuBLASLt descriptors with an algorithm per M bucket
//    (GemmConfig.h). A step the GPU cannot run is refused here, by index and
//    name ("step 12 (cached_attention) has no CUDA kernel in this artifact").
//  - per forward call: token ids, positions and the LlmcDeviceBatch (block
//    tables included) go up from pinned memory in one copy, the steps are
//    enqueued on one stream (or a CUDA graph captured for that token count
//    is replayed), and the logits come back through pinned memory.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BACKENDS_CUDA_CUDAENGINE_H
#define LLMC_RUNTIME_BACKENDS_CUDA_CUDAENGINE_H

#include "runtime/engine/Engine.h"
#include "runtime/kv_cache/KVCache.h"

#include <cstdint>
#include <memory>

namespace llmc::cuda {

using Status = ::llmc::runtime::Status;

/// Creates the backend on CUDA device `deviceIndex`.
Status createCudaBackend(const loader::Artifact &artifact,
                         const engine::EngineOptions &options, int deviceIndex,
                         std::unique_ptr<engine::EngineBackend> &out);

/// What can be said of rank 0's plan before touching a GPU (the backend
/// checks it right after loading the driver): a GPU target, and every step
/// something the CUDA backend runs: launches (kernel index in range, a sane
/// grid rule and block, known extra arguments), a cuBLASLt GEMM, a host
/// routine it knows or a single-rank collective. Errors name the step:
/// "model.llmc: step 12 (cached_attention) has no CUDA kernel in this
/// artifact".
Status checkPlanRunsOnCuda(const loader::Artifact &artifact);

/// Bytes of one KV head's tile in a block, as PagedKVCache lays it out
/// (llmc/device_batch.h): codes then block_tokens f32 scales when quantized.
int64_t kvTileBytes(const kv::KVCacheConfig &config);

/// Measures device-to-device copy bandwidth on `deviceIndex` (bytes read +
/// written per second, as `bench --bandwidth` reports it) by copying
/// `bytes` `repetitions` times after a warm-up.
Status measureCopyBandwidth(int deviceIndex, uint64_t bytes, int repetitions,
                            double &bytesPerSecond, std::string &deviceName);

} // namespace llmc::cuda

#endif // LLMC_RUNTIME_BACKENDS_CUDA_CUDAENGINE_H
