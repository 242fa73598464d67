//===- GemmConfig.cpp - cuBLASLt types and layouts of plan GEMMs ----------===//

#include "runtime/backends/cuda/GemmConfig.h"

#include <algorithm>

namespace llmc::cuda {

namespace {

std::string typeName(fb::DType type) {
  const char *name = fb::EnumNameDType(type);
  return name && *name ? name : "dtype " + std::to_string(int(type));
}

bool floatType(fb::DType type, cudaDataType_t &out) {
  switch (type) {
  case fb::DType::F32:
    out = CUDA_R_32F;
    return true;
  case fb::DType::F16:
    out = CUDA_R_16F;
    return true;
  case fb::DType::BF16:
    out = CUDA_R_16BF;
    return true;
  default:
    return false;
  }
}

bool fp8Type(fb::DType type, cudaDataType_t &out) {
  if (type == fb::DType::F8E4M3)
    out = CUDA_R_8F_E4M3;
  else if (type == fb::DType::F8E5M2)
    out = CUDA_R_8F_E5M2;
  else
    return false;
  return true;
}

} // namespace

std::string chooseLtGemmTypes(fb::DType a, fb::DType b, fb::DType c,
                              int smNumber, bool transposeB, ScaleKind scaleA,
                              ScaleKind scaleB, LtGemmTypes &out) {
  out = LtGemmTypes();
  const std::string types =
      typeName(a) + " x " + typeName(b) + " -> " + typeName(c);
  const std::string gpu = "this GPU is sm_" + std::to_string(smNumber);
  cudaDataType_t ta, tb, tc;
  if (!floatType(c, tc))
    return "C must be F32, F16 or BF16 (" + types + ")";

  if (floatType(a, ta) && floatType(b, tb)) {
    if (a != b)
      return "cuBLASLt multiplies float operands of one type, got " + types;
    if (scaleA != ScaleKind::None || scaleB != ScaleKind::None)
      return "scales on a float GEMM (" + types + ")";
    if (c != a && c != fb::DType::F32)
      return "a " + typeName(a) + " GEMM writes " + typeName(a) +
             " or F32, got " + types;
    if (a == fb::DType::BF16 && smNumber < 80)
      return "BF16 GEMMs need sm_80 or newer; " + gpu;
    out.aType = ta;
    out.bType = tb;
    out.productType = tc;
    return "";
  }

  if (fp8Type(a, ta) && fp8Type(b, tb)) {
    if (a == fb::DType::F8E5M2 && b == fb::DType::F8E5M2)
      return "cuBLASLt has no E5M2 x E5M2 GEMM (" + types + ")";
    if (smNumber < 89)
      return "FP8 GEMMs need sm_89 or newer; " + gpu;
    if (!transposeB)
      return "cuBLASLt FP8 GEMMs need B as [N, K] (transpose_b)";
    if (scaleA == ScaleKind::None || scaleB == ScaleKind::None)
      return "an FP8 GEMM (" + types + ") needs scale_a and scale_b";
    if (scaleA != scaleB)
      return "an FP8 GEMM scales both operands per tensor or both per "
             "row/column; got one of each";
    if (scaleA == ScaleKind::Vector && smNumber < 90)
      return "FP8 GEMMs with per-row and per-column scales need sm_90 or "
             "newer; " +
             gpu;
    out.aType = ta;
    out.bType = tb;
    out.productType = tc;
    out.scaling = scaleA == ScaleKind::Vector
                      ? GemmScaling::FP8OuterVectorScales
                      : GemmScaling::FP8TensorScales;
    return "";
  }

  if (a == fb::DType::I8 && b == fb::DType::I8) {
    if (!transposeB)
      return "cuBLASLt INT8 GEMMs need B as [N, K] (transpose_b)";
    if (scaleA == ScaleKind::None || scaleB == ScaleKind::None)
      return "an INT8 GEMM (" + types + ") needs scale_a and scale_b";
    out.aType = CUDA_R_8I;
    out.bType = CUDA_R_8I;
    out.productType = CUDA_R_32I;
    out.computeType = CUBLAS_COMPUTE_32I;
    out.scaleType = CUDA_R_32I;
    out.scaling = GemmScaling::Int32Epilogue;
    return "";
  }
  return "cuBLASLt runs float (F32, F16, BF16), FP8 and INT8 GEMMs; got " +
         types;
}

LtGemmShape columnMajorShape(int64_t m, int64_t n, int64_t k, bool transposeB) {
  LtGemmShape s;
  s.m = n;
  s.n = m;
  s.k = k;
  s.transposeA = transposeB;
  // Our B is [N, K] (column-major K x N) or [K, N] (column-major N x K).
  s.aRows = transposeB ? k : n;
  s.aCols = transposeB ? n : k;
  s.lda = static_cast<int64_t>(s.aRows);
  // Our A [M, K] is column-major K x M.
  s.bRows = k;
  s.bCols = m;
  s.ldb = k;
  // Our C [M, N] is column-major N x M.
  s.cRows = n;
  s.cCols = m;
  s.ldc = n;
  return s;
}

int64_t gemmBucket(int64_t m, int64_t maxM) {
  int64_t bucket = 1;
  while (bucket < m)
    bucket *= 2;
  return std::min(bucket, std::max<int64_t>(maxM, 1));
}

std::vector<int64_t> gemmBuckets(int64_t maxM) {
  std::vector<int64_t> buckets;
  for (int64_t m = 1; m < maxM; m *= 2)
    buckets.push_back(m);
  buckets.push_back(std::max<int64_t>(maxM, 1));
  return buckets;
}

const char *cudaDataTypeName(cudaDataType_t type) {
  switch (type) {
  case CUDA_R_32F:
    return "CUDA_R_32F";
  case CUDA_R_16F:
    return "CUDA_R_16F";
  case CUDA_R_16BF:
    return "CUDA_R_16BF";
  case CUDA_R_8F_E4M3:
    return "CUDA_R_8F_E4M3";
  case CUDA_R_8F_E5M2:
    return "CUDA_R_8F_E5M2";
  case CUDA_R_8I:
    return "CUDA_R_8I";
  case CUDA_R_32I:
    return "CUDA_R_32I";
  default:
    return "CUDA data type";
  }
}

} // namespace llmc::cuda
