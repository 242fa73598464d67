//===- FakeCublasLt.cpp - a libcublasLt.so.13 test double on host memory --===//
//
// With FakeCudaDriver.cpp, lets the CUDA backend's cuBLASLt GEMMs run without
// a GPU (fake_driver_test.cpp): cublasLtMatmul computes D = alpha * op(A) *
// op(B) + beta * C on the host from the layouts and operations it was given
// (column-major, leading dimensions), for f32 and bf16 operands and for INT8
// with an i32 product, so the test checks the backend's row-major to
// column-major mapping against the CPU backend. FP8 scale pointers are
// applied as cuBLASLt documents (alpha * scale_A * scale_B). Matmuls go
// through the fake driver's stream (fakeCudaEnqueueHostWork), so that graph
// capture records them. Counts heuristic queries and matmuls for the test.
//
// A test double, never shipped: only the entry points the backend uses.
//
//===----------------------------------------------------------------------===//

#include <cublasLt.h>

#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

struct Desc {
  cublasComputeType_t compute;
  cudaDataType_t scaleType;
  cublasOperation_t transA = CUBLAS_OP_N, transB = CUBLAS_OP_N;
  const float *scaleA = nullptr, *scaleB = nullptr;
};
struct Layout {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};

int heuristicQueries = 0;
int matmuls = 0;

/// OCP float8 e4m3fn: bias 7, no infinities, 0x7f/0xff NaN.
float decodeE4M3(uint8_t code) {
  const int exponent = (code >> 3) & 0xf, mantissa = code & 7;
  float magnitude = exponent == 0
                        ? std::ldexp(mantissa / 8.0f, -6)
                        : std::ldexp(1.0f + mantissa / 8.0f, exponent - 7);
  return code & 0x80 ? -magnitude : magnitude;
}

float load(const void *base, cudaDataType_t type, uint64_t index) {
  switch (type) {
  case CUDA_R_8F_E4M3:
    return decodeE4M3(static_cast<const uint8_t *>(base)[index]);
  case CUDA_R_32F:
    return static_cast<const float *>(base)[index];
  case CUDA_R_8I:
    return static_cast<const int8_t *>(base)[index];
  case CUDA_R_32I:
    return static_cast<float>(static_cast<const int32_t *>(base)[index]);
  case CUDA_R_16BF: {
    uint32_t bits = uint32_t(static_cast<const uint16_t *>(base)[index]) << 16;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }
  default:
    return 0;
  }
}

void store(void *base, cudaDataType_t type, uint64_t index, double value) {
  switch (type) {
  case CUDA_R_32F:
    static_cast<float *>(base)[index] = static_cast<float>(value);
    break;
  case CUDA_R_32I:
    static_cast<int32_t *>(base)[index] = static_cast<int32_t>(value);
    break;
  case CUDA_R_16BF: {
    float f = static_cast<float>(value);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    static_cast<uint16_t *>(base)[index] = static_cast<uint16_t>(bits >> 16);
    break;
  }
  default:
    break;
  }
}

} // namespace

extern "C" {

int fakeCublasLtHeuristicQueries() { return heuristicQueries; }
int fakeCublasLtMatmuls() { return matmuls; }

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
  static int fake;
  *handle = reinterpret_cast<cublasLtHandle_t>(&fake);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t) {
  return CUBLAS_STATUS_SUCCESS;
}
size_t cublasLtGetVersion() { return 130000; }
const char *cublasLtGetStatusName(cublasStatus_t) {
  return "CUBLAS_STATUS_NOT_SUPPORTED";
}
const char *cublasLtGetStatusString(cublasStatus_t) { return "fake"; }

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc,
                                        cublasComputeType_t compute,
                                        cudaDataType_t scaleType) {
  *desc = reinterpret_cast<cublasLtMatmulDesc_t>(new Desc{compute, scaleType});
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete reinterpret_cast<Desc *>(desc);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t
cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t handle,
                               cublasLtMatmulDescAttributes_t attribute,
                               const void *value, size_t) {
  Desc *desc = reinterpret_cast<Desc *>(handle);
  switch (attribute) {
  case CUBLASLT_MATMUL_DESC_TRANSA:
    desc->transA = *static_cast<const cublasOperation_t *>(value);
    break;
  case CUBLASLT_MATMUL_DESC_TRANSB:
    desc->transB = *static_cast<const cublasOperation_t *>(value);
    break;
  case CUBLASLT_MATMUL_DESC_A_SCALE_POINTER:
    desc->scaleA = *static_cast<const float *const *>(value);
    break;
  case CUBLASLT_MATMUL_DESC_B_SCALE_POINTER:
    desc->scaleB = *static_cast<const float *const *>(value);
    break;
  default:
    break;
  }
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout,
                                          cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
  *layout = reinterpret_cast<cublasLtMatrixLayout_t>(
      new Layout{type, rows, cols, ld});
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete reinterpret_cast<Layout *>(layout);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t
cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *preference) {
  static int fake;
  *preference = reinterpret_cast<cublasLtMatmulPreference_t>(&fake);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t) {
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t
cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t,
                                     cublasLtMatmulPreferenceAttributes_t,
                                     const void *, size_t) {
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
    cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
    cublasLtMatmulPreference_t, int requested,
    cublasLtMatmulHeuristicResult_t results[], int *found) {
  ++heuristicQueries;
  std::memset(results, 0, sizeof(results[0]) * requested);
  *found = 1;
  return CUBLAS_STATUS_SUCCESS;
}

struct MatmulCall {
  Desc desc;
  Layout la, lb, lc, ld;
  double alpha, beta;
  const void *a, *b, *c;
  void *d;
};

void runMatmul(void *data) {
  const MatmulCall &call = *static_cast<MatmulCall *>(data);
  const Desc &desc = call.desc;
  const Layout &la = call.la, &lb = call.lb, &lc = call.lc, &ld = call.ld;
  const bool ta = desc.transA == CUBLAS_OP_T, tb = desc.transB == CUBLAS_OP_T;
  const uint64_t m = ta ? la.cols : la.rows, k = ta ? la.rows : la.cols;
  const uint64_t n = tb ? lb.rows : lb.cols;
  double alphaValue = call.alpha;
  if (desc.scaleA)
    alphaValue *= *desc.scaleA;
  if (desc.scaleB)
    alphaValue *= *desc.scaleB;
  std::vector<double> out(m * n);
  for (uint64_t j = 0; j < n; ++j)
    for (uint64_t i = 0; i < m; ++i) {
      double sum = 0;
      for (uint64_t p = 0; p < k; ++p) {
        double av = load(call.a, la.type, ta ? p + i * la.ld : i + p * la.ld);
        double bv = load(call.b, lb.type, tb ? j + p * lb.ld : p + j * lb.ld);
        sum += av * bv;
      }
      double value = alphaValue * sum;
      if (call.beta != 0)
        value += call.beta * load(call.c, lc.type, i + j * lc.ld);
      out[i + j * m] = value;
    }
  for (uint64_t j = 0; j < n; ++j)
    for (uint64_t i = 0; i < m; ++i)
      store(call.d, ld.type, i + j * ld.ld, out[i + j * m]);
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t descHandle,
                              const void *alpha, const void *a,
                              cublasLtMatrixLayout_t aHandle, const void *b,
                              cublasLtMatrixLayout_t bHandle, const void *beta,
                              const void *c, cublasLtMatrixLayout_t cHandle,
                              void *d, cublasLtMatrixLayout_t dHandle,
                              const cublasLtMatmulAlgo_t *, void *, size_t,
                              cudaStream_t) {
  ++matmuls;
  auto *call = new MatmulCall{*reinterpret_cast<Desc *>(descHandle),
                              *reinterpret_cast<Layout *>(aHandle),
                              *reinterpret_cast<Layout *>(bHandle),
                              *reinterpret_cast<Layout *>(cHandle),
                              *reinterpret_cast<Layout *>(dHandle),
                              0,
                              0,
                              a,
                              b,
                              c,
                              d};
  const Desc &desc = call->desc;
  const bool ta = desc.transA == CUBLAS_OP_T, tb = desc.transB == CUBLAS_OP_T;
  const uint64_t m = ta ? call->la.cols : call->la.rows,
                 k = ta ? call->la.rows : call->la.cols;
  const uint64_t n = tb ? call->lb.rows : call->lb.cols;
  if ((tb ? call->lb.cols : call->lb.rows) != k || call->lc.rows != m ||
      call->lc.cols != n || call->ld.rows != m || call->ld.cols != n) {
    delete call;
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  // Host-pointer scalars are read at the call, as cuBLASLt does.
  if (desc.scaleType == CUDA_R_32I) {
    call->alpha = *static_cast<const int32_t *>(alpha);
    call->beta = *static_cast<const int32_t *>(beta);
  } else {
    call->alpha = *static_cast<const float *>(alpha);
    call->beta = *static_cast<const float *>(beta);
  }
  using Enqueue = void (*)(void (*)(void *), void *);
  static Enqueue enqueue = reinterpret_cast<Enqueue>(
      dlsym(dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD),
            "fakeCudaEnqueueHostWork"));
  if (!enqueue) {
    delete call;
    return CUBLAS_STATUS_NOT_INITIALIZED; // needs the fake driver
  }
  // Leaked on purpose: a captured call lives as long as its graph.
  enqueue(runMatmul, call);
  return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
