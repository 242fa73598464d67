//===- Gptq.cpp - GPTQ's error-compensating rounding of weight columns ----===//

#include "compiler/weights/Gptq.h"

#include <algorithm>
#include <cmath>

namespace llmc::weights {

namespace {

/// sum_k a[k] b[k] over `count` elements, in four independent chains.
double dot(const double *a, const double *b, int64_t count) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= count; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < count; ++k)
    s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

} // namespace

std::vector<double>
computeGptqInverseFactor(const InputGram &gram,
                         llvm::ArrayRef<double> inputMultiplier) {
  const int64_t n = gram.channels;
  auto multiplier = [&](int64_t j) {
    return inputMultiplier.empty() ? 1.0 : inputMultiplier[j];
  };
  // H, dampened; dead channels decoupled.
  std::vector<double> h(n * n);
  double meanDiagonal = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      h[i * n + j] = static_cast<double>(gram.values[i * n + j]) *
                     multiplier(i) * multiplier(j);
  for (int64_t i = 0; i < n; ++i)
    meanDiagonal += h[i * n + i];
  meanDiagonal = n > 0 ? meanDiagonal / n : 0.0;
  const double damping = kGptqDamping * (meanDiagonal > 0 ? meanDiagonal : 1.0);
  for (int64_t i = 0; i < n; ++i) {
    if (!(h[i * n + i] > 0)) {
      for (int64_t j = 0; j < n; ++j)
        h[i * n + j] = h[j * n + i] = 0;
      h[i * n + i] = 1;
    }
    h[i * n + i] += damping;
  }

  // H = L Lᵀ with L upper triangular (a Cholesky factorization from the
  // last channel backwards). Then H⁻¹ = L⁻ᵀ L⁻¹, and U = L⁻¹ is upper
  // triangular with a positive diagonal: exactly the factor wanted, with no
  // explicit inverse of H. Row-major, the sums run over row tails, which
  // are contiguous.
  std::vector<double> &l = h; // overwritten in place, upper triangle
  for (int64_t j = n - 1; j >= 0; --j) {
    double *rowJ = &l[j * n];
    double diagonal = rowJ[j] - dot(rowJ + j + 1, rowJ + j + 1, n - j - 1);
    // Positive by the damping; guard against rounding all the same.
    diagonal = std::sqrt(std::max(diagonal, damping * 1e-6));
    rowJ[j] = diagonal;
    for (int64_t i = 0; i < j; ++i) {
      double *rowI = &l[i * n];
      rowI[j] = (rowI[j] - dot(rowI + j + 1, rowJ + j + 1, n - j - 1)) /
                diagonal;
    }
  }

  // U = L⁻¹ row by row: row i solves u L = e_i for c >= i, accumulating
  // u[k] * L[k][c] along the contiguous rows of L.
  std::vector<double> u(n * n, 0.0);
  std::vector<double> sum(n);
  for (int64_t i = 0; i < n; ++i) {
    double *rowU = &u[i * n];
    std::fill(sum.begin() + i, sum.end(), 0.0);
    for (int64_t k = i; k < n; ++k) {
      const double *rowL = &l[k * n];
      double value = ((k == i ? 1.0 : 0.0) - sum[k]) / rowL[k];
      rowU[k] = value;
      for (int64_t c = k + 1; c < n; ++c)
        sum[c] += value * rowL[c];
    }
  }
  return u;
}

} // namespace llmc::weights
