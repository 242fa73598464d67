//===- Rope.cpp - llm.rope: inverse frequencies and the rotation ----------===//
//
// The inverse frequencies follow Hugging Face transformers'
// modeling_rope_utils (`_compute_default_rope_parameters`, `_linear_...`,
// `_compute_llama3_parameters`, `_compute_yarn_parameters`), in f32 where
// transformers computes in f32, so a model's RoPE matches the reference the
// e2e tests compare against. Linear scaling divides positions by `factor`,
// which is the same as dividing every inverse frequency by it.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/Kernels.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace llmc::cpu {
namespace {

// HF: base ** (arange(0, dim, 2).float() / dim), in f32.
float positionFrequency(double theta, int64_t i, int64_t dim) {
  float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
  return static_cast<float>(std::pow(theta, static_cast<double>(exponent)));
}

float defaultInverseFrequency(double theta, int64_t i, int64_t dim) {
  return 1.0f / positionFrequency(theta, i, dim);
}

void llama3Frequencies(const RopeParams &params, std::vector<float> &inv) {
  const float pi2 = static_cast<float>(2.0 * M_PI);
  const float factor = static_cast<float>(params.factor);
  const double oldContext = static_cast<double>(params.originalMaxPosition);
  const double lowFreqWavelen = oldContext / params.lowFreqFactor;
  const double highFreqWavelen = oldContext / params.highFreqFactor;
  for (float &frequency : inv) {
    float wavelen = pi2 / frequency;
    float scaled = wavelen > lowFreqWavelen ? frequency / factor : frequency;
    bool medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    if (medium) {
      float smooth =
          (static_cast<float>(oldContext) / wavelen -
           static_cast<float>(params.lowFreqFactor)) /
          static_cast<float>(params.highFreqFactor - params.lowFreqFactor);
      scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
    frequency = scaled;
  }
}

float yarnMscale(double scale) {
  return scale <= 1.0 ? 1.0f : static_cast<float>(0.1 * std::log(scale) + 1.0);
}

void yarnFrequencies(const RopeParams &params, int64_t dim,
                     std::vector<float> &inv) {
  auto correctionDim = [&](double rotations) {
    return (dim *
            std::log(params.originalMaxPosition / (rotations * 2 * M_PI))) /
           (2 * std::log(params.theta));
  };
  double low = std::max(0.0, std::floor(correctionDim(params.yarnBetaFast)));
  double high = std::min(static_cast<double>(dim - 1),
                         std::ceil(correctionDim(params.yarnBetaSlow)));
  if (low == high)
    high += 0.001; // as transformers does, to avoid dividing by zero
  const float factor = static_cast<float>(params.factor);
  for (size_t i = 0; i < inv.size(); ++i) {
    float power = positionFrequency(params.theta, static_cast<int64_t>(i), dim);
    float extrapolation = 1.0f / power;
    float interpolation = 1.0f / (factor * power);
    float ramp = std::clamp(
        static_cast<float>((static_cast<float>(i) - low) / (high - low)), 0.0f,
        1.0f);
    float extrapolationFactor = 1.0f - ramp;
    inv[i] = interpolation * (1.0f - extrapolationFactor) +
             extrapolation * extrapolationFactor;
  }
}

} // namespace

Status computeRopeFrequencies(const RopeParams &params, int64_t headDim,
                              RopeFrequencies &frequencies) {
  const int64_t dim = params.rotaryDim > 0 ? params.rotaryDim : headDim;
  if (dim <= 0 || dim > headDim || dim % 2 != 0)
    return Status::error(
        "rope: rotary_dim " + std::to_string(dim) +
        " must be even and in (0, head_dim = " + std::to_string(headDim) + "]");
  if (!(params.theta > 1.0))
    return Status::error("rope: theta must be > 1");
  if (params.scaling != RopeScaling::None && !(params.factor > 0.0))
    return Status::error("rope: scaling factor must be positive");
  if ((params.scaling == RopeScaling::Llama3 ||
       params.scaling == RopeScaling::Yarn) &&
      params.originalMaxPosition <= 0)
    return Status::error("rope: llama3 and yarn scaling need "
                         "original_max_position > 0");
  if (params.scaling == RopeScaling::Llama3 &&
      !(params.highFreqFactor > params.lowFreqFactor))
    return Status::error("rope: llama3 needs high_freq_factor > "
                         "low_freq_factor");
  frequencies.inverseFrequencies.resize(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i)
    frequencies.inverseFrequencies[i] =
        defaultInverseFrequency(params.theta, i, dim);
  frequencies.attentionFactor = 1.0f;
  switch (params.scaling) {
  case RopeScaling::None:
    break;
  case RopeScaling::Linear:
    for (float &f : frequencies.inverseFrequencies)
      f /= static_cast<float>(params.factor);
    break;
  case RopeScaling::Llama3:
    llama3Frequencies(params, frequencies.inverseFrequencies);
    break;
  case RopeScaling::Yarn:
    yarnFrequencies(params, dim, frequencies.inverseFrequencies);
    frequencies.attentionFactor = yarnMscale(params.factor);
    break;
  }
  return Status::success();
}

void rope(const HeadsView &input, const int32_t *positions,
          const RopeFrequencies &frequencies, RopeStyle style,
          const HeadsView &output) {
  const int64_t half =
      static_cast<int64_t>(frequencies.inverseFrequencies.size());
  const int64_t headDim = input.headDim;
  const size_t inBytes = dtypeBytes(input.dtype);
  const size_t outBytes = dtypeBytes(output.dtype);
  std::vector<float> cosines(half), sines(half), head(headDim);
  for (int64_t t = 0; t < input.tokens; ++t) {
    const float position = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      // f32 angle, as torch's f32 matmul of inv_freq and positions.
      float angle = position * frequencies.inverseFrequencies[i];
      cosines[i] = static_cast<float>(std::cos(static_cast<double>(angle))) *
                   frequencies.attentionFactor;
      sines[i] = static_cast<float>(std::sin(static_cast<double>(angle))) *
                 frequencies.attentionFactor;
    }
    for (int64_t h = 0; h < input.heads; ++h) {
      convertToF32(static_cast<const uint8_t *>(input.data) +
                       (t * input.tokenStride + h * input.headStride) * inBytes,
                   input.dtype, head.data(), headDim);
      if (style == RopeStyle::Half) {
        for (int64_t i = 0; i < half; ++i) {
          float a = head[i], b = head[i + half];
          head[i] = a * cosines[i] - b * sines[i];
          head[i + half] = b * cosines[i] + a * sines[i];
        }
      } else {
        for (int64_t i = 0; i < half; ++i) {
          float a = head[2 * i], b = head[2 * i + 1];
          head[2 * i] = a * cosines[i] - b * sines[i];
          head[2 * i + 1] = b * cosines[i] + a * sines[i];
        }
      }
      convertFromF32(head.data(),
                     static_cast<uint8_t *>(output.data) +
                         (t * output.tokenStride + h * output.headStride) *
                             outBytes,
                     output.dtype, headDim);
    }
  }
}

} // namespace llmc::cpu
