// Int32Epilogue.cu - the runtime's own kernel: the float epilogue of a
// cuBLASLt INT8 GEMM, whose only outputs are integer. Compiled at build time
// to compute_75 PTX (embedded in llmc-runtime, JIT-compiled by the driver on
// any GPU from Turing on):
//   C[r, c] = alpha * scale_a[r or 0] * scale_b[c or 0] * acc[r, c]
//             (+ beta * C[r, c])
// left to right in f32 as the CPU backend computes it, one rounding to C's
// type (round to nearest even).

#include <cuda_fp16.h>

namespace {

// Round-to-nearest-even f32 -> bf16 bits (NaN kept quiet), with integer
// operations so that the PTX needs nothing newer than sm_75.
__device__ unsigned short floatToBf16Bits(float value) {
  unsigned int bits = __float_as_uint(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<unsigned short>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<unsigned short>(bits >> 16);
}

__device__ float bf16BitsToFloat(unsigned short bits) {
  return __uint_as_float(static_cast<unsigned int>(bits) << 16);
}

} // namespace

// outputType: 0 f32, 1 f16, 2 bf16.
extern "C" __global__ void
llmcInt32Epilogue(const int *acc, void *c, const float *scaleA,
                  const float *scaleB, float alpha, float beta, long long rows,
                  long long cols, int scaleAPerRow, int scaleBPerColumn,
                  int outputType) {
  const long long count = rows * cols;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
       i < count; i += (long long)gridDim.x * blockDim.x) {
    const long long r = i / cols, col = i % cols;
    float value = alpha * scaleA[scaleAPerRow ? r : 0] *
                  scaleB[scaleBPerColumn ? col : 0] * (float)acc[i];
    if (outputType == 0) {
      float *out = static_cast<float *>(c);
      out[i] = beta != 0.0f ? value + beta * out[i] : value;
    } else if (outputType == 1) {
      __half *out = static_cast<__half *>(c);
      if (beta != 0.0f)
        value = value + beta * __half2float(out[i]);
      out[i] = __float2half_rn(value);
    } else {
      unsigned short *out = static_cast<unsigned short *>(c);
      if (beta != 0.0f)
        value = value + beta * bf16BitsToFloat(out[i]);
      out[i] = floatToBf16Bits(value);
    }
  }
}
