//===- Common.cuh - storage types, conversions and block reductions -------===//
//
// Shared by every kernel family. The same text compiles with NVRTC (device
// code, __CUDACC__) and with the host C++ compiler under HostShim.h
// (LLMC_HOST_SHIM), so the SIMT kernels are tested on the CPU. Only
// conversions differ between the two: the device uses the hardware
// instructions, the host the bit-exact portable references of the runtime
// (Numeric.h, Float8.h); both round to nearest even, so they agree bit for
// bit. No standard headers on the device side: NVRTC has none by default.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_CODEGEN_CUDA_KERNELS_COMMON_CUH
#define LLMC_CODEGEN_CUDA_KERNELS_COMMON_CUH

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#elif defined(LLMC_HOST_SHIM)
#include "runtime/backends/cpu/Numeric.h"
#include "runtime/support/Float8.h"
#include <math.h>
#else
#error "kernel sources compile with NVRTC or under HostShim.h"
#endif

namespace llmc_kernels {

// Storage types: plain bit containers so host and device see one layout.
struct bf16_t {
  unsigned short bits;
};
struct f16_t {
  unsigned short bits;
};
struct e4m3_t {
  unsigned char bits;
};
struct e5m2_t {
  unsigned char bits;
};

__device__ __forceinline__ float bitsAsFloat(unsigned bits) {
#if defined(__CUDACC__)
  return __uint_as_float(bits);
#else
  return llmc::cpu::bitsToFloat(bits);
#endif
}

__device__ __forceinline__ unsigned floatAsBits(float value) {
#if defined(__CUDACC__)
  return __float_as_uint(value);
#else
  return llmc::cpu::floatBits(value);
#endif
}

//===----------------------------------------------------------------------===//
// Widening to f32 and rounding from f32 (nearest even)
//===----------------------------------------------------------------------===//

__device__ __forceinline__ float toF32(float value) { return value; }
__device__ __forceinline__ float toF32(bf16_t value) {
  return bitsAsFloat(static_cast<unsigned>(value.bits) << 16);
}
__device__ __forceinline__ float toF32(f16_t value) {
#if defined(__CUDACC__)
  return __half2float(__ushort_as_half(value.bits));
#else
  return llmc::cpu::f16ToF32(value.bits);
#endif
}
__device__ __forceinline__ float toF32(e4m3_t value) {
#if defined(__CUDACC__)
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(
      static_cast<__nv_fp8_storage_t>(value.bits), __NV_E4M3)));
#else
  return llmc::numeric::fp8ToFloat(value.bits,
                                   llmc::numeric::Fp8Format::E4M3FN);
#endif
}
__device__ __forceinline__ float toF32(e5m2_t value) {
#if defined(__CUDACC__)
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(
      static_cast<__nv_fp8_storage_t>(value.bits), __NV_E5M2)));
#else
  return llmc::numeric::fp8ToFloat(value.bits, llmc::numeric::Fp8Format::E5M2);
#endif
}
__device__ __forceinline__ float toF32(signed char value) {
  return static_cast<float>(value);
}

template <class T> struct FromF32;

template <> struct FromF32<float> {
  __device__ __forceinline__ static float convert(float value) { return value; }
};

// The same rounding as the CPU backend's f32ToBf16 (NaN stays a quiet NaN),
// written once for both sides; the hardware conversion differs only in NaN
// payloads.
template <> struct FromF32<bf16_t> {
  __device__ __forceinline__ static bf16_t convert(float value) {
    unsigned bits = floatAsBits(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
      return bf16_t{static_cast<unsigned short>((bits >> 16) | 0x0040u)};
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return bf16_t{static_cast<unsigned short>(bits >> 16)};
  }
};

template <> struct FromF32<f16_t> {
  __device__ __forceinline__ static f16_t convert(float value) {
#if defined(__CUDACC__)
    return f16_t{__half_as_ushort(__float2half_rn(value))};
#else
    return f16_t{llmc::cpu::f32ToF16(value)};
#endif
  }
};

template <class T> __device__ __forceinline__ T fromF32(float value) {
  return FromF32<T>::convert(value);
}

/// `value` rounded to T's precision and widened back: what an intermediate
/// tensor of type T holds, so that a fused kernel rounds where the unfused
/// steps would.
template <class T> __device__ __forceinline__ float roundThrough(float value) {
  return toF32(fromF32<T>(value));
}

//===----------------------------------------------------------------------===//
// Quantization: q = saturate(round_half_even(x / scale)) (docs/quantization.md)
//===----------------------------------------------------------------------===//

/// Largest magnitude of a quantized type: qmax of per-token scales.
template <class Q> struct QuantLimits;
template <> struct QuantLimits<signed char> {
  static constexpr float kMax = 127.0f;
};
template <> struct QuantLimits<e4m3_t> {
  static constexpr float kMax = 448.0f;
};
template <> struct QuantLimits<e5m2_t> {
  static constexpr float kMax = 57344.0f;
};

/// x (already divided by its scale) as int8: round half to even, then
/// saturate to [-128, 127]; NaN becomes 0 (a defined value rather than the
/// conversion's undefined behaviour on the host).
__device__ __forceinline__ signed char saturateToInt8(float scaled) {
  if (scaled != scaled)
    return 0;
  scaled = fminf(fmaxf(scaled, -128.0f), 127.0f);
#if defined(__CUDACC__)
  return static_cast<signed char>(__float2int_rn(scaled));
#else
  return static_cast<signed char>(nearbyintf(scaled));
#endif
}

template <class Q> struct Quantizer;

template <> struct Quantizer<signed char> {
  __device__ __forceinline__ static void storePair(signed char *out, float a,
                                                   float b) {
    out[0] = saturateToInt8(a);
    out[1] = saturateToInt8(b);
  }
  __device__ __forceinline__ static void store(signed char *out, float a) {
    out[0] = saturateToInt8(a);
  }
};

#if defined(__CUDACC__)
// Pairs go through the x2 conversion: `cvt.rn.satfinite.e4m3x2.f32` on sm_89+
// (cuda_fp8.hpp emulates it in software on older chips).
#define LLMC_FP8_QUANTIZER(Type, Interp)                                       \
  template <> struct Quantizer<Type> {                                         \
    __device__ __forceinline__ static void storePair(Type *out, float a,       \
                                                     float b) {                \
      __nv_fp8x2_storage_t pair =                                              \
          __nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, Interp); \
      out[0].bits = static_cast<unsigned char>(pair & 0xff);                   \
      out[1].bits = static_cast<unsigned char>(pair >> 8);                     \
    }                                                                          \
    __device__ __forceinline__ static void store(Type *out, float a) {         \
      out[0].bits = __nv_cvt_float_to_fp8(a, __NV_SATFINITE, Interp);          \
    }                                                                          \
  };
LLMC_FP8_QUANTIZER(e4m3_t, __NV_E4M3)
LLMC_FP8_QUANTIZER(e5m2_t, __NV_E5M2)
#else
#define LLMC_FP8_QUANTIZER(Type, Format)                                       \
  template <> struct Quantizer<Type> {                                         \
    static void storePair(Type *out, float a, float b) {                       \
      out[0].bits = llmc::numeric::floatToFp8Saturate(a, Format);              \
      out[1].bits = llmc::numeric::floatToFp8Saturate(b, Format);              \
    }                                                                          \
    static void store(Type *out, float a) {                                    \
      out[0].bits = llmc::numeric::floatToFp8Saturate(a, Format);              \
    }                                                                          \
  };
LLMC_FP8_QUANTIZER(e4m3_t, llmc::numeric::Fp8Format::E4M3FN)
LLMC_FP8_QUANTIZER(e5m2_t, llmc::numeric::Fp8Format::E5M2)
#endif
#undef LLMC_FP8_QUANTIZER

/// Per-token scale from a row's largest magnitude: amax / qmax, or 1 for an
/// all-zero row so that dequantization stays finite.
template <class Q> __device__ __forceinline__ float tokenScale(float amax) {
  return amax == 0.0f ? 1.0f : amax / QuantLimits<Q>::kMax;
}

/// How a kernel with a quantized output gets its scale.
enum QuantScaleMode {
  kNoQuant = 0,         // plain float output
  kStaticScale = 1,     // one calibrated f32 scale, read from a buffer
  kDynamicScale = 2,    // per token: amax / qmax, written to a [rows, 1] buffer
  kTokenScaleInput = 3, // per token, read from a [rows, 1] buffer
};

//===----------------------------------------------------------------------===//
// Block-wide reductions: every thread gets the result
//===----------------------------------------------------------------------===//

constexpr int kWarpSize = 32;

// NVRTC has no <math.h> macros such as INFINITY.
__device__ __forceinline__ float negativeInfinity() {
  return bitsAsFloat(0xff800000u);
}

__device__ __forceinline__ float warpSum(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1)
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ __forceinline__ float warpMax(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1)
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

/// `scratch` holds one float per warp (32). Every warp reduces the partial
/// results itself rather than one warp broadcasting them: one barrier fewer.
/// The trailing barrier lets the caller reuse `scratch` at once.
template <int BlockThreads>
__device__ __forceinline__ float blockSum(float value, float *scratch) {
  static_assert(BlockThreads % kWarpSize == 0 && BlockThreads <= 1024,
                "blocks are whole warps");
  value = warpSum(value);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  if (lane == 0)
    scratch[warp] = value;
  __syncthreads();
  value = lane < BlockThreads / kWarpSize ? scratch[lane] : 0.0f;
  value = warpSum(value);
  __syncthreads();
  return value;
}

template <int BlockThreads>
__device__ __forceinline__ float blockMax(float value, float *scratch) {
  static_assert(BlockThreads % kWarpSize == 0 && BlockThreads <= 1024,
                "blocks are whole warps");
  value = warpMax(value);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  if (lane == 0)
    scratch[warp] = value;
  __syncthreads();
  value = lane < BlockThreads / kWarpSize ? scratch[lane] : negativeInfinity();
  value = warpMax(value);
  __syncthreads();
  return value;
}

//===----------------------------------------------------------------------===//
// Row kernels: one block per token row, each thread owning column pairs
//===----------------------------------------------------------------------===//

/// Column pairs one thread owns in a row of `Cols` elements: pair p of
/// thread t is p * BlockThreads + t, columns 2 * pair and 2 * pair + 1.
/// Pairs keep the FP8 x2 conversion and 32-bit loads within one thread.
template <int Cols, int BlockThreads> struct RowPairs {
  static_assert(Cols % 2 == 0, "row kernels need an even number of columns");
  static constexpr int kPairs = Cols / 2;
  static constexpr int kPerThread = (kPairs + BlockThreads - 1) / BlockThreads;
  __device__ __forceinline__ static int column(int slot) {
    return 2 * (slot * BlockThreads + static_cast<int>(threadIdx.x));
  }
  __device__ __forceinline__ static bool valid(int slot) {
    return slot * BlockThreads + static_cast<int>(threadIdx.x) < kPairs;
  }
};

/// Writes one row held as pairs in `values`: as Out, or (ScaleMode != 0)
/// rounded to Out as the unfused graph's intermediate tensor would be, then
/// quantized with a static scale or a per-token one computed here. `output`
/// may be null when only the quantized row is wanted.
template <class Out, class Quant, int ScaleMode, int Cols, int BlockThreads>
__device__ __forceinline__ void
storeRow(float (&values)[RowPairs<Cols, BlockThreads>::kPerThread][2], int row,
         Out *output, Quant *quantized, const float *staticScale,
         float *tokenScales, float *scratch) {
  using Pairs = RowPairs<Cols, BlockThreads>;
  const long long base = static_cast<long long>(row) * Cols;
  if (ScaleMode == kNoQuant) {
    for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
      if (!Pairs::valid(slot))
        continue;
      const int column = Pairs::column(slot);
      output[base + column] = fromF32<Out>(values[slot][0]);
      output[base + column + 1] = fromF32<Out>(values[slot][1]);
    }
    return;
  }
  float amax = 0.0f;
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    if (!Pairs::valid(slot))
      continue;
    const int column = Pairs::column(slot);
    for (int half = 0; half < 2; ++half) {
      values[slot][half] = roundThrough<Out>(values[slot][half]);
      amax = fmaxf(amax, fabsf(values[slot][half]));
      if (output)
        output[base + column + half] = fromF32<Out>(values[slot][half]);
    }
  }
  float scale;
  if (ScaleMode == kDynamicScale) {
    scale = tokenScale<Quant>(blockMax<BlockThreads>(amax, scratch));
    if (threadIdx.x == 0)
      tokenScales[row] = scale;
  } else {
    scale = staticScale[ScaleMode == kTokenScaleInput ? row : 0];
  }
  for (int slot = 0; slot < Pairs::kPerThread; ++slot) {
    if (!Pairs::valid(slot))
      continue;
    // Division, not a reciprocal multiply: the contract's exact rounding.
    Quantizer<Quant>::storePair(quantized + base + Pairs::column(slot),
                                values[slot][0] / scale,
                                values[slot][1] / scale);
  }
}

} // namespace llmc_kernels

#endif // LLMC_CODEGEN_CUDA_KERNELS_COMMON_CUH
