//===- sampler_test.cpp - greedy, top-k/p, penalty, seeds, distribution ---===//
//
// The repetition-penalty values and the top-k / top-p kept sets are goldens
// from transformers' RepetitionPenaltyLogitsProcessor, TopKLogitsWarper and
// TopPLogitsWarper (make_goldens.py). Distribution checks draw 20,000
// samples and require every frequency within 3 standard deviations
// (sqrt(p (1 - p) / n)) of its softmax probability, plus a small slack.
//
//===----------------------------------------------------------------------===//

#include "runtime/sampler/Sampler.h"
#include "test/unit/cpu_backend/TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

namespace llmc::sampler {
namespace {

using test::golden;
using test::goldenF32;

Sampler make(const SamplingParams &params) {
  Sampler sampler;
  Status status = Sampler::create(params, sampler);
  EXPECT_TRUE(status) << status.message();
  return sampler;
}

// Temperature 0 picks the argmax (first of ties), whatever the seed.
TEST(Sampler, GreedyIsArgmax) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f};
  SamplingParams params;
  params.temperature = 0.0f;
  for (uint64_t seed : {0ull, 1ull, 99ull}) {
    params.seed = seed;
    Sampler sampler = make(params);
    int32_t token = -1;
    ASSERT_TRUE(sampler.sample(logits.data(), 5, nullptr, 0, token));
    EXPECT_EQ(token, 1);
  }
}

// top_k = 1 is greedy even at a high temperature.
TEST(Sampler, TopKOneIsGreedy) {
  auto logits = goldenF32("sampler_logits");
  SamplingParams params;
  params.temperature = 5.0f;
  params.topK = 1;
  Sampler sampler = make(params);
  int64_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best])
      best = static_cast<int64_t>(i);
  for (int i = 0; i < 50; ++i) {
    int32_t token;
    ASSERT_TRUE(
        sampler.sample(logits.data(), logits.size(), nullptr, 0, token));
    EXPECT_EQ(token, best);
  }
}

// The same seed gives the same tokens; another seed gives others.
TEST(Sampler, SeededRunsRepeat) {
  auto logits = goldenF32("sampler_logits");
  auto run = [&](uint64_t seed) {
    SamplingParams params;
    params.temperature = 1.5f;
    params.topP = 0.95f;
    params.seed = seed;
    Sampler sampler = make(params);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 200; ++i) {
      int32_t token;
      EXPECT_TRUE(sampler.sample(logits.data(), logits.size(), tokens.data(),
                                 tokens.size(), token));
      tokens.push_back(token);
    }
    return tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

void expectFrequencies(const std::vector<float> &logits, float temperature) {
  SamplingParams params;
  params.temperature = temperature;
  params.seed = 1234;
  Sampler sampler = make(params);
  const int n = 20000;
  std::vector<int> counts(logits.size());
  for (int i = 0; i < n; ++i) {
    int32_t token;
    ASSERT_TRUE(
        sampler.sample(logits.data(), logits.size(), nullptr, 0, token));
    ++counts[token];
  }
  double total = 0;
  std::vector<double> p(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    total += (p[i] = std::exp(logits[i] / temperature));
  for (size_t i = 0; i < logits.size(); ++i) {
    p[i] /= total;
    double sigma = std::sqrt(p[i] * (1 - p[i]) / n);
    EXPECT_NEAR(counts[i] / double(n), p[i], 3 * sigma + 1e-3)
        << "token " << i << " at temperature " << temperature;
  }
}

// Frequencies follow softmax(logits / T) for T = 1 and T = 0.5.
TEST(Sampler, FrequenciesFollowSoftmax) {
  std::vector<float> logits = {1.0f, 0.5f, 0.0f,  -0.5f,
                               2.0f, 1.5f, -1.0f, 0.2f};
  expectFrequencies(logits, 1.0f);
  expectFrequencies(logits, 0.5f);
}

// The repetition penalty divides positive and multiplies negative logits of
// seen tokens, once each, as transformers does.
TEST(Sampler, RepetitionPenaltyMatchesTransformers) {
  auto logits = goldenF32("sampler_logits");
  auto previous = golden("sampler_previous").as<int32_t>();
  applyRepetitionPenalty(logits.data(), logits.size(), previous.data(),
                         previous.size(), 1.3f);
  test::expectClose(logits, goldenF32("sampler_penalized"), 0, 1e-7,
                    "penalized logits");
}

// Samples stay inside transformers' top-k and top-p kept sets and cover them.
TEST(Sampler, TopKAndTopPKeepTransformersSets) {
  auto logits = goldenF32("sampler_logits");
  struct Case {
    int32_t topK;
    float topP;
    const char *golden;
  } cases[] = {{5, 1.0f, "sampler_topk5_kept"},
               {0, 0.8f, "sampler_topp08_kept"}};
  for (const Case &c : cases) {
    auto kept = golden(c.golden).as<int32_t>();
    SamplingParams params;
    params.topK = c.topK;
    params.topP = c.topP;
    params.seed = 5;
    Sampler sampler = make(params);
    std::vector<int> counts(logits.size());
    for (int i = 0; i < 20000; ++i) {
      int32_t token;
      ASSERT_TRUE(
          sampler.sample(logits.data(), logits.size(), nullptr, 0, token));
      ++counts[token];
    }
    for (size_t i = 0; i < logits.size(); ++i) {
      if (kept[i])
        EXPECT_GT(counts[i], 0) << c.golden << " token " << i;
      else
        EXPECT_EQ(counts[i], 0) << c.golden << " token " << i;
    }
  }
}

// Parameters outside their ranges are status errors.
TEST(Sampler, RejectsBadParameters) {
  Sampler sampler;
  SamplingParams params;
  params.topP = 0.0f;
  EXPECT_FALSE(Sampler::create(params, sampler));
  params.topP = 1.5f;
  EXPECT_FALSE(Sampler::create(params, sampler));
  params = SamplingParams();
  params.temperature = -0.1f;
  Status status = Sampler::create(params, sampler);
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("temperature"), std::string::npos);
  params.temperature = NAN;
  EXPECT_FALSE(Sampler::create(params, sampler));
  params = SamplingParams();
  params.topK = -1;
  EXPECT_FALSE(Sampler::create(params, sampler));
  params = SamplingParams();
  params.repetitionPenalty = 0.0f;
  EXPECT_FALSE(Sampler::create(params, sampler));
  params = SamplingParams();
  Sampler ok = make(params);
  int32_t token;
  EXPECT_FALSE(ok.sample(nullptr, 0, nullptr, 0, token));
}

} // namespace
} // namespace llmc::sampler
