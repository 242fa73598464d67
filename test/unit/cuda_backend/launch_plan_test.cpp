//===- launch_plan_test.cpp - the 1.1 launch ABI's token-dependent parts --===//

#include "runtime/backends/cuda/LaunchPlan.h"

#include <gtest/gtest.h>

namespace llmc::cuda {
namespace {

// min_tokens/max_tokens select variants; max 0 means unbounded.
TEST(LaunchPlan, TokenRangeSelectsVariants) {
  // A GEMV for T <= 4 and a tiled GEMM from 5 on (docs/codegen.md).
  EXPECT_TRUE(launchRunsAt(0, 4, 1));
  EXPECT_TRUE(launchRunsAt(0, 4, 4));
  EXPECT_FALSE(launchRunsAt(0, 4, 5));
  EXPECT_FALSE(launchRunsAt(5, 0, 4));
  EXPECT_TRUE(launchRunsAt(5, 0, 5));
  EXPECT_TRUE(launchRunsAt(5, 0, 4096));
  EXPECT_TRUE(launchRunsAt(0, 0, 1));
}

// TokenRows: [T * k, 1, 1] capped at the grid over max-tokens.
TEST(LaunchPlan, TokenRowsGrid) {
  const Grid atMax{64 * 2, 1, 1}; // max_tokens 64, k = 2 rows per token
  const std::vector<uint32_t> scale{2, 1, 0, 0, 0, 0};
  EXPECT_EQ(gridForTokens(atMax, scale, 1), (Grid{2, 1, 1}));
  EXPECT_EQ(gridForTokens(atMax, scale, 17), (Grid{34, 1, 1}));
  EXPECT_EQ(gridForTokens(atMax, scale, 64), (Grid{128, 1, 1}));
}

// FlatElements: ceil(T * e / block), capped (grid-stride kernels).
TEST(LaunchPlan, FlatElementsGridRoundsUpAndCaps) {
  // e = 4096 elements per token, block 256: 16 blocks per token, max 65535.
  const Grid atMax{65535, 1, 1};
  const std::vector<uint32_t> scale{4096, 256, 0, 0, 0, 0};
  EXPECT_EQ(gridForTokens(atMax, scale, 1)[0], 16u);
  EXPECT_EQ(gridForTokens(atMax, scale, 3)[0], 48u);
  EXPECT_EQ(gridForTokens(atMax, scale, 100000)[0], 65535u);
  // e = 100, block 256: one block covers 2.56 tokens.
  const std::vector<uint32_t> small{100, 256, 0, 0, 0, 0};
  EXPECT_EQ(gridForTokens(atMax, small, 1)[0], 1u);
  EXPECT_EQ(gridForTokens(atMax, small, 3)[0], 2u);
}

// Int8GemmTiles: x static (N tiles), y = ceil(T / 64).
TEST(LaunchPlan, TiledGemmScalesOnlyY) {
  const Grid atMax{64, 32, 1}; // N = 4096, max_tokens = 2048
  const std::vector<uint32_t> scale{0, 0, 1, 64, 0, 0};
  EXPECT_EQ(gridForTokens(atMax, scale, 1), (Grid{64, 1, 1}));
  EXPECT_EQ(gridForTokens(atMax, scale, 65), (Grid{64, 2, 1}));
  EXPECT_EQ(gridForTokens(atMax, scale, 2048), (Grid{64, 32, 1}));
  // Absent scale: static grid.
  EXPECT_EQ(gridForTokens(atMax, {}, 1), atMax);
}

// Buffers, token arguments and extras in order; only token arguments change
// per call, and the pointer array points at the stored values.
TEST(LaunchPlan, ParamArrayIsBuiltOnceAndPatchedPerCall) {
  KernelParams params;
  params.addPointer(0x7f0000001000ull); // a
  params.addPointer(0x7f0000002000ull); // b
  params.addTokenArg(1);                // rows = T
  params.addTokenArg(32);               // heads * T
  params.addPointer(0x7f0000003000ull); // batch
  params.addInt64(5);                   // layer
  params.finish();
  ASSERT_EQ(params.size(), 6u);
  void **pointers = params.pointers();
  params.setTokens(7);
  EXPECT_EQ(*static_cast<uint64_t *>(pointers[0]), 0x7f0000001000ull);
  EXPECT_EQ(*static_cast<long long *>(pointers[2]), 7);
  EXPECT_EQ(*static_cast<long long *>(pointers[3]), 7 * 32);
  EXPECT_EQ(*static_cast<uint64_t *>(pointers[4]), 0x7f0000003000ull);
  EXPECT_EQ(*static_cast<long long *>(pointers[5]), 5);
  params.setTokens(1);
  EXPECT_EQ(pointers, params.pointers()); // same array, patched in place
  EXPECT_EQ(*static_cast<long long *>(pointers[2]), 1);
  EXPECT_EQ(*static_cast<long long *>(pointers[3]), 32);
  EXPECT_EQ(params.value(5), 5);
}

} // namespace
} // namespace llmc::cuda
