//===- Sampler.h - next-token sampling from logits ------------------------===//
//
// Greedy, temperature, top-k, top-p and repetition penalty, applied in
// Hugging Face transformers' order (repetition penalty, temperature, top-k,
// top-p, then a draw). The draw uses std::mt19937_64 seeded with `seed` and
// its top 53 bits as a uniform double in [0, 1) - not
// std::uniform_real_distribution, whose algorithm differs between standard
// libraries - so a seed gives the same tokens on every platform.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SAMPLER_SAMPLER_H
#define LLMC_RUNTIME_SAMPLER_SAMPLER_H

#include "runtime/support/Status.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace llmc::sampler {

using Status = ::llmc::runtime::Status;

struct SamplingParams {
  /// 0 is greedy (argmax, first index on ties); otherwise logits are divided
  /// by it. Must be >= 0 and finite.
  float temperature = 1.0f;
  /// Keep the k most likely tokens; 0 keeps all.
  int32_t topK = 0;
  /// Keep the smallest set of most likely tokens whose probability reaches
  /// topP (at least one). In (0, 1]; 1 keeps all.
  float topP = 1.0f;
  /// > 0; 1 is off. Tokens seen before have positive logits divided and
  /// negative logits multiplied by it (HF RepetitionPenaltyLogitsProcessor,
  /// llama.cpp's penalty_repeat), once per distinct token.
  float repetitionPenalty = 1.0f;
  uint64_t seed = 0;
};

/// Checks the parameters: negative or NaN temperature, top_p outside (0, 1],
/// negative top_k or non-positive repetition penalty are errors.
Status validate(const SamplingParams &params);

/// Applies the repetition penalty to `logits` in place.
void applyRepetitionPenalty(float *logits, int64_t vocabSize,
                            const int32_t *previousTokens, int64_t numPrevious,
                            float penalty);

/// One sampler per sequence: it owns the sequence's random stream.
class Sampler {
public:
  /// Validates `params` and seeds the stream.
  static Status create(const SamplingParams &params, Sampler &sampler);

  /// Picks the next token from `logits` ([vocabSize], left unchanged) given
  /// the tokens so far (for the repetition penalty; may be null).
  Status sample(const float *logits, int64_t vocabSize,
                const int32_t *previousTokens, int64_t numPrevious,
                int32_t &token);

  const SamplingParams &params() const { return params_; }

private:
  double uniform(); // [0, 1), 53 random bits

  SamplingParams params_;
  std::mt19937_64 engine_;
  std::vector<float> work_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

} // namespace llmc::sampler

#endif // LLMC_RUNTIME_SAMPLER_SAMPLER_H
