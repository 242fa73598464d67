//===- Sampler.cpp - greedy, temperature, top-k, top-p, penalty -----------===//

#include "runtime/sampler/Sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace llmc::sampler {

Status validate(const SamplingParams &params) {
  if (!(params.temperature >= 0.0f) || !std::isfinite(params.temperature))
    return Status::error("sampler: temperature must be a finite number >= 0 "
                         "(0 is greedy), got " +
                         std::to_string(params.temperature));
  if (!(params.topP > 0.0f && params.topP <= 1.0f))
    return Status::error("sampler: top_p must be in (0, 1], got " +
                         std::to_string(params.topP));
  if (params.topK < 0)
    return Status::error("sampler: top_k must be >= 0 (0 disables it), got " +
                         std::to_string(params.topK));
  if (!(params.repetitionPenalty > 0.0f) ||
      !std::isfinite(params.repetitionPenalty))
    return Status::error("sampler: repetition_penalty must be > 0 (1 "
                         "disables it), got " +
                         std::to_string(params.repetitionPenalty));
  return Status::success();
}

void applyRepetitionPenalty(float *logits, int64_t vocabSize,
                            const int32_t *previousTokens, int64_t numPrevious,
                            float penalty) {
  if (penalty == 1.0f || !previousTokens)
    return;
  std::unordered_set<int32_t> seen;
  for (int64_t i = 0; i < numPrevious; ++i) {
    int32_t token = previousTokens[i];
    if (token < 0 || token >= vocabSize || !seen.insert(token).second)
      continue;
    float &logit = logits[token];
    logit = logit > 0.0f ? logit / penalty : logit * penalty;
  }
}

Status Sampler::create(const SamplingParams &params, Sampler &sampler) {
  Status status = validate(params);
  if (!status)
    return status;
  sampler.params_ = params;
  sampler.engine_.seed(params.seed);
  return Status::success();
}

double Sampler::uniform() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

Status Sampler::sample(const float *logits, int64_t vocabSize,
                       const int32_t *previousTokens, int64_t numPrevious,
                       int32_t &token) {
  if (vocabSize <= 0 || vocabSize > INT32_MAX)
    return Status::error("sampler: vocabulary size " +
                         std::to_string(vocabSize) + " out of range");
  work_.assign(logits, logits + vocabSize);
  applyRepetitionPenalty(work_.data(), vocabSize, previousTokens, numPrevious,
                         params_.repetitionPenalty);

  // Greedy (temperature 0, or top-k 1): the first maximum, NaNs skipped.
  if (params_.temperature == 0.0f || params_.topK == 1) {
    int64_t best = -1;
    for (int64_t i = 0; i < vocabSize; ++i)
      if (!std::isnan(work_[i]) && (best < 0 || work_[i] > work_[best]))
        best = i;
    if (best < 0)
      return Status::error("sampler: every logit is NaN");
    token = static_cast<int32_t>(best);
    return Status::success();
  }

  // Candidates sorted by descending logit, ties by ascending id, so the
  // result never depends on the sort's stability.
  candidates_.clear();
  candidates_.reserve(static_cast<size_t>(vocabSize));
  for (int64_t i = 0; i < vocabSize; ++i)
    if (!std::isnan(work_[i]))
      candidates_.emplace_back(work_[i] / params_.temperature,
                               static_cast<int32_t>(i));
  if (candidates_.empty())
    return Status::error("sampler: every logit is NaN");
  auto better = [](const std::pair<float, int32_t> &a,
                   const std::pair<float, int32_t> &b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = candidates_.size();
  if (params_.topK > 0 && static_cast<size_t>(params_.topK) < keep) {
    keep = static_cast<size_t>(params_.topK);
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep,
                      candidates_.end(), better);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), better);
  }
  candidates_.resize(keep);

  // Softmax over the kept candidates, in double.
  const double maximum = candidates_.front().first;
  std::vector<double> probabilities(keep);
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    probabilities[i] =
        std::exp(static_cast<double>(candidates_[i].first) - maximum);
    total += probabilities[i];
  }
  // Top-p: keep token i while the mass of the tokens before it is < topP.
  if (params_.topP < 1.0f) {
    double before = 0.0;
    size_t cut = 0;
    while (cut < keep && before < params_.topP * total) {
      before += probabilities[cut];
      ++cut;
    }
    keep = std::max<size_t>(cut, 1);
    total = 0.0;
    for (size_t i = 0; i < keep; ++i)
      total += probabilities[i];
  }

  const double target = uniform() * total;
  double running = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    running += probabilities[i];
    if (target < running) {
      token = candidates_[i].second;
      return Status::success();
    }
  }
  token = candidates_[keep - 1].second; // rounding: the last kept token
  return Status::success();
}

} // namespace llmc::sampler
