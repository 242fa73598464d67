//===- Gptq.h - GPTQ's error-compensating rounding of weight columns ------===//
//
// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers", 2022) rounds a weight row's columns
// one after another and spreads each column's rounding error over the columns
// not yet rounded, so that the layer's output on calibration inputs X changes
// least: it minimizes ||X wᵀ - X qᵀ||² per row w, with the inputs' second
// moments H = E[x xᵀ] as the metric. Rounding column j leaves an error e_j;
// the remaining columns k > j move by -e_j U[j][k] / U[j][j], where U is the
// upper Cholesky factor of H⁻¹ (H⁻¹ = Uᵀ U). The grid itself (INT8, INT4,
// E4M3, scales, zero points) is the caller's: this file only provides U.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_WEIGHTS_GPTQ_H
#define LLMC_COMPILER_WEIGHTS_GPTQ_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace llmc::weights {

/// E[x xᵀ] of the K input channels of a linear layer, measured on
/// calibration text (`llmc compile --calib ... --gptq`): K x K f32,
/// row-major, symmetric. `owner` keeps the storage (a mapped file) alive.
struct InputGram {
  int64_t channels = 0;
  const float *values = nullptr;
  std::shared_ptr<const void> owner;
};

/// Dampening added to H's diagonal, as a fraction of its mean diagonal
/// (GPTQ's default): keeps H positive definite when channels are
/// (nearly) collinear on the calibration text, and bounds how far an error
/// is pushed onto other columns.
inline constexpr double kGptqDamping = 0.01;

/// The upper-triangular U (K x K, row-major, double) with H⁻¹ = Uᵀ U for
/// H = diag(m) G diag(m) + damping: G the Gram matrix, m_j
/// `inputMultiplier[j]` (empty: 1) -- a weight whose column j was multiplied
/// by s_j (SmoothQuant) sees inputs x_j / s_j, so m_j = 1 / s_j. Channels
/// never active on the calibration text (G[j][j] = 0) get H[j][j] = 1:
/// their columns are rounded to nearest and pass no error on. Runs in
/// O(K³) on the calling thread; H positive definite up to rounding is
/// guaranteed by the damping.
std::vector<double> computeGptqInverseFactor(const InputGram &gram,
                                             llvm::ArrayRef<double> inputMultiplier);

} // namespace llmc::weights

#endif // LLMC_COMPILER_WEIGHTS_GPTQ_H
