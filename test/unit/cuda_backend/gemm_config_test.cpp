//===- gemm_config_test.cpp - plan GEMMs in cuBLASLt's terms --------------===//

#include "runtime/backends/cuda/GemmConfig.h"

#include <gtest/gtest.h>

namespace llmc::cuda {
namespace {

using fb::DType;

// Float GEMMs: one operand type, f32 compute and scale, C its type or f32.
TEST(GemmConfig, FloatTypes) {
  LtGemmTypes t;
  ASSERT_EQ(chooseLtGemmTypes(DType::F32, DType::F32, DType::F32, 90, true,
                              ScaleKind::None, ScaleKind::None, t),
            "");
  EXPECT_EQ(t.aType, CUDA_R_32F);
  EXPECT_EQ(t.computeType, CUBLAS_COMPUTE_32F);
  EXPECT_EQ(t.scaling, GemmScaling::None);
  ASSERT_EQ(chooseLtGemmTypes(DType::BF16, DType::BF16, DType::BF16, 80, true,
                              ScaleKind::None, ScaleKind::None, t),
            "");
  EXPECT_EQ(t.aType, CUDA_R_16BF);
  EXPECT_EQ(t.productType, CUDA_R_16BF);
  EXPECT_EQ(t.scaleType, CUDA_R_32F);
  ASSERT_EQ(chooseLtGemmTypes(DType::F16, DType::F16, DType::F32, 75, false,
                              ScaleKind::None, ScaleKind::None, t),
            "");
  EXPECT_EQ(t.productType, CUDA_R_32F);
  // Mixed types, BF16 on Turing, scales on floats: refused with reasons.
  EXPECT_NE(chooseLtGemmTypes(DType::F16, DType::BF16, DType::F32, 90, true,
                              ScaleKind::None, ScaleKind::None, t),
            "");
  EXPECT_NE(chooseLtGemmTypes(DType::BF16, DType::BF16, DType::BF16, 75, true,
                              ScaleKind::None, ScaleKind::None, t)
                .find("sm_80"),
            std::string::npos);
  EXPECT_NE(chooseLtGemmTypes(DType::BF16, DType::BF16, DType::F16, 90, true,
                              ScaleKind::None, ScaleKind::None, t),
            "");
}

// FP8: Ada and later, TN layout, scale pointers; per-row/column from Hopper.
TEST(GemmConfig, Fp8Types) {
  LtGemmTypes t;
  ASSERT_EQ(chooseLtGemmTypes(DType::F8E4M3, DType::F8E4M3, DType::BF16, 89,
                              true, ScaleKind::Tensor, ScaleKind::Tensor, t),
            "");
  EXPECT_EQ(t.aType, CUDA_R_8F_E4M3);
  EXPECT_EQ(t.productType, CUDA_R_16BF);
  EXPECT_EQ(t.computeType, CUBLAS_COMPUTE_32F);
  EXPECT_EQ(t.scaling, GemmScaling::FP8TensorScales);
  ASSERT_EQ(chooseLtGemmTypes(DType::F8E4M3, DType::F8E4M3, DType::F32, 90,
                              true, ScaleKind::Vector, ScaleKind::Vector, t),
            "");
  EXPECT_EQ(t.scaling, GemmScaling::FP8OuterVectorScales);
  EXPECT_NE(chooseLtGemmTypes(DType::F8E4M3, DType::F8E4M3, DType::BF16, 89,
                              true, ScaleKind::Vector, ScaleKind::Vector, t)
                .find("sm_90"),
            std::string::npos);
  EXPECT_EQ(chooseLtGemmTypes(DType::F8E4M3, DType::F8E4M3, DType::BF16, 80,
                              true, ScaleKind::Tensor, ScaleKind::Tensor, t),
            "FP8 GEMMs need sm_89 or newer; this GPU is sm_80");
  EXPECT_NE(chooseLtGemmTypes(DType::F8E4M3, DType::F8E4M3, DType::BF16, 90,
                              false, ScaleKind::Tensor, ScaleKind::Tensor, t)
                .find("transpose_b"),
            std::string::npos);
  EXPECT_NE(chooseLtGemmTypes(DType::F8E5M2, DType::F8E5M2, DType::BF16, 90,
                              true, ScaleKind::Tensor, ScaleKind::Tensor, t),
            "");
  EXPECT_NE(chooseLtGemmTypes(DType::F8E4M3, DType::F8E4M3, DType::BF16, 90,
                              true, ScaleKind::None, ScaleKind::Tensor, t),
            "");
}

// INT8: an exact i32 product for the runtime's epilogue to scale.
TEST(GemmConfig, Int8Types) {
  LtGemmTypes t;
  ASSERT_EQ(chooseLtGemmTypes(DType::I8, DType::I8, DType::F16, 75, true,
                              ScaleKind::Vector, ScaleKind::Tensor, t),
            "");
  EXPECT_EQ(t.aType, CUDA_R_8I);
  EXPECT_EQ(t.productType, CUDA_R_32I);
  EXPECT_EQ(t.computeType, CUBLAS_COMPUTE_32I);
  EXPECT_EQ(t.scaleType, CUDA_R_32I);
  EXPECT_EQ(t.scaling, GemmScaling::Int32Epilogue);
  EXPECT_NE(chooseLtGemmTypes(DType::I8, DType::I8, DType::F32, 80, false,
                              ScaleKind::Tensor, ScaleKind::Tensor, t),
            "");
  // Weight-only (float x i8) is not a cuBLASLt GEMM.
  EXPECT_NE(chooseLtGemmTypes(DType::BF16, DType::I8, DType::BF16, 90, true,
                              ScaleKind::None, ScaleKind::Vector, t)
                .find("cuBLASLt runs"),
            std::string::npos);
}

// Row-major C[M,N] = A[M,K] B[N,K]^T is column-major C^T = op(B) A^T with
// cuBLASLt's A = B (transposed, "TN") and its B = A.
TEST(GemmConfig, ColumnMajorShapeOfNnLinear) {
  LtGemmShape s = columnMajorShape(/*m=*/3, /*n=*/4096, /*k=*/1024, true);
  EXPECT_EQ(s.m, 4096u);
  EXPECT_EQ(s.n, 3u);
  EXPECT_EQ(s.k, 1024u);
  EXPECT_TRUE(s.transposeA);
  EXPECT_EQ(s.aRows, 1024u); // B [N, K] row-major = K x N column-major
  EXPECT_EQ(s.aCols, 4096u);
  EXPECT_EQ(s.lda, 1024);
  EXPECT_EQ(s.bRows, 1024u); // A [M, K] = K x M
  EXPECT_EQ(s.bCols, 3u);
  EXPECT_EQ(s.ldb, 1024);
  EXPECT_EQ(s.cRows, 4096u); // C [M, N] = N x M
  EXPECT_EQ(s.cCols, 3u);
  EXPECT_EQ(s.ldc, 4096);
}

// B stored [K, N] is column-major N x K: no transpose.
TEST(GemmConfig, ColumnMajorShapeOfPlainMatmul) {
  LtGemmShape s = columnMajorShape(5, 8, 16, false);
  EXPECT_FALSE(s.transposeA);
  EXPECT_EQ(s.aRows, 8u);
  EXPECT_EQ(s.aCols, 16u);
  EXPECT_EQ(s.lda, 8);
}

// Heuristics are asked for once per power-of-two bucket of M.
TEST(GemmConfig, Buckets) {
  EXPECT_EQ(gemmBucket(1, 2048), 1);
  EXPECT_EQ(gemmBucket(3, 2048), 4);
  EXPECT_EQ(gemmBucket(64, 2048), 64);
  EXPECT_EQ(gemmBucket(65, 2048), 128);
  EXPECT_EQ(gemmBucket(1500, 1500), 1500);
  EXPECT_EQ(gemmBuckets(16), (std::vector<int64_t>{1, 2, 4, 8, 16}));
  EXPECT_EQ(gemmBuckets(24), (std::vector<int64_t>{1, 2, 4, 8, 16, 24}));
  EXPECT_EQ(gemmBuckets(1), (std::vector<int64_t>{1}));
  // Every M up to the maximum falls in a bucket that was asked for.
  for (int64_t maxM : {1, 7, 16, 100})
    for (int64_t m = 1; m <= maxM; ++m) {
      std::vector<int64_t> buckets = gemmBuckets(maxM);
      EXPECT_NE(std::find(buckets.begin(), buckets.end(), gemmBucket(m, maxM)),
                buckets.end());
    }
}

} // namespace
} // namespace llmc::cuda
