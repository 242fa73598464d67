//===- attention_test.cpp - paged attention against SDPA goldens ----------===//
//
// A ragged batch of three sequences (a 5-token prefill from scratch, one
// decode token after 37 cached tokens, a 3-token chunk after 20) runs over KV
// blocks scattered through the pool. The goldens are PyTorch's
// scaled_dot_product_attention with GQA through repeat_interleave (and, for
// the sliding-window/soft-cap case, the same math written out in torch), see
// make_goldens.py. Tolerance: 2e-6 absolute + 1e-5 relative in f32. With
// bf16/f16 caches the result is compared with contiguous attention (double
// precision, written here) over the same rounded keys and values: paged
// equals contiguous.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/Kernels.h"
#include "runtime/kv_cache/KVCache.h"
#include "test/unit/cpu_backend/TestUtil.h"

#include <gtest/gtest.h>

#include "runtime/support/Quantize.h"

#include <cmath>
#include <iostream>

namespace llmc::cpu {
namespace {

using test::availableIsas;
using test::expectClose;
using test::golden;
using test::goldenF32;
using test::IsaScope;

struct AttentionCase {
  int64_t qHeads, kvHeads, headDim, window;
  float softcap, scale;
  std::vector<float> q, k, v, out;
  std::vector<int32_t> positions;
  std::vector<int32_t> seqs; // (cached, new) pairs
};

AttentionCase loadCase(const std::string &name) {
  AttentionCase c;
  auto meta = goldenF32("attention_" + name + "_meta");
  c.qHeads = static_cast<int64_t>(meta[0]);
  c.kvHeads = static_cast<int64_t>(meta[1]);
  c.headDim = static_cast<int64_t>(meta[2]);
  c.window = static_cast<int64_t>(meta[3]);
  c.softcap = meta[4];
  c.scale = meta[5];
  c.q = goldenF32("attention_" + name + "_q");
  c.k = goldenF32("attention_" + name + "_k");
  c.v = goldenF32("attention_" + name + "_v");
  c.out = goldenF32("attention_" + name + "_out");
  c.positions = golden("attention_" + name + "_positions").as<int32_t>();
  c.seqs = golden("attention_seqs").as<int32_t>();
  return c;
}

// Fills a cache with the case's keys and values, with blocks interleaved
// between sequences and a freed sequence's blocks reused, so no sequence's
// blocks are contiguous.
std::unique_ptr<kv::PagedKVCache>
buildCache(const AttentionCase &c, DType dtype, int64_t blockTokens,
           std::vector<int64_t> &ids,
           kv::KVQuantization quantization = kv::KVQuantization::None) {
  kv::KVCacheConfig config;
  config.numLayers = 2;
  config.numKVHeads = c.kvHeads;
  config.headDim = c.headDim;
  config.blockTokens = blockTokens;
  config.numBlocks = 64;
  config.dtype = dtype;
  config.quantization = quantization;
  std::unique_ptr<kv::PagedKVCache> cache;
  EXPECT_TRUE(kv::PagedKVCache::create(config, cache));
  EXPECT_TRUE(cache->reserve(99, 5 * blockTokens)); // freed below
  const int64_t numSeqs = static_cast<int64_t>(c.seqs.size() / 2);
  ids.clear();
  for (int64_t s = 0; s < numSeqs; ++s)
    ids.push_back(100 + 7 * s);
  for (int64_t grown = blockTokens;; grown += blockTokens) {
    bool more = false;
    for (int64_t s = 0; s < numSeqs; ++s) {
      int64_t length = c.seqs[2 * s] + c.seqs[2 * s + 1];
      EXPECT_TRUE(cache->reserve(ids[s], std::min(grown, length)));
      more |= grown < length;
    }
    if (grown == 2 * blockTokens)
      cache->freeSequence(99);
    if (!more)
      break;
  }
  const int64_t rowElems = c.kvHeads * c.headDim;
  int64_t row = 0;
  for (int64_t s = 0; s < numSeqs; ++s) {
    int64_t length = c.seqs[2 * s] + c.seqs[2 * s + 1];
    std::vector<int32_t> positions(length);
    for (int64_t p = 0; p < length; ++p)
      positions[p] = static_cast<int32_t>(p);
    EXPECT_TRUE(cache->append(
        1, ids[s], positions.data(), length, c.k.data() + row * rowElems,
        c.v.data() + row * rowElems, DType::F32, rowElems));
    row += length;
  }
  return cache;
}

// Contiguous attention in double over keys/values rounded to `dtype`.
std::vector<float> contiguousReference(const AttentionCase &c, DType dtype) {
  auto round = [dtype](float v) {
    uint16_t bits[1];
    float out = v;
    if (dtype != DType::F32) {
      storeFromF32(bits, dtype, 0, v);
      out = loadAsF32(bits, dtype, 0);
    }
    return out;
  };
  const int64_t d = c.headDim, group = c.qHeads / c.kvHeads;
  std::vector<float> out(c.q.size());
  int64_t token = 0, row0 = 0;
  for (size_t s = 0; s < c.seqs.size() / 2; ++s) {
    int64_t length = c.seqs[2 * s] + c.seqs[2 * s + 1];
    for (int64_t t = 0; t < c.seqs[2 * s + 1]; ++t, ++token) {
      int64_t p = c.positions[token];
      for (int64_t h = 0; h < c.qHeads; ++h) {
        int64_t kvh = h / group;
        std::vector<double> logits;
        int64_t first =
            c.window > 0 ? std::max<int64_t>(0, p - c.window + 1) : 0;
        double maximum = -INFINITY;
        for (int64_t j = first; j <= p; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < d; ++i)
            dot += double(c.q[(token * c.qHeads + h) * d + i]) *
                   round(c.k[((row0 + j) * c.kvHeads + kvh) * d + i]);
          dot *= c.scale;
          if (c.softcap > 0)
            dot = c.softcap * std::tanh(dot / c.softcap);
          logits.push_back(dot);
          maximum = std::max(maximum, dot);
        }
        double total = 0;
        for (double &l : logits)
          total += (l = std::exp(l - maximum));
        for (int64_t i = 0; i < d; ++i) {
          double acc = 0;
          for (int64_t j = first; j <= p; ++j)
            acc += logits[j - first] *
                   round(c.v[((row0 + j) * c.kvHeads + kvh) * d + i]);
          out[(token * c.qHeads + h) * d + i] = static_cast<float>(acc / total);
        }
      }
    }
    row0 += length;
  }
  return out;
}

std::vector<float> runPaged(const AttentionCase &c,
                            const kv::PagedKVCache &cache,
                            const std::vector<int64_t> &ids, ThreadPool *pool,
                            Status *statusOut = nullptr) {
  const int64_t tokens = static_cast<int64_t>(c.positions.size());
  std::vector<int64_t> queryStart = {0};
  for (size_t s = 0; s < c.seqs.size() / 2; ++s)
    queryStart.push_back(queryStart.back() + c.seqs[2 * s + 1]);
  AttentionBatch batch;
  batch.numSequences = static_cast<int64_t>(ids.size());
  batch.queryStart = queryStart.data();
  batch.sequenceIds = ids.data();
  batch.positions = c.positions.data();
  AttentionParams params;
  params.scale = c.scale;
  params.slidingWindow = c.window;
  params.softcap = c.softcap;
  std::vector<float> out(c.q.size(), NAN);
  Status status = pagedAttention(
      params,
      heads(const_cast<float *>(c.q.data()), DType::F32, tokens, c.qHeads,
            c.headDim),
      cache, 1, batch,
      heads(out.data(), DType::F32, tokens, c.qHeads, c.headDim), pool);
  if (statusOut)
    *statusOut = status;
  else
    EXPECT_TRUE(status) << status.message();
  return out;
}

class PagedAttention : public ::testing::TestWithParam<const char *> {};

// f32 cache: equals SDPA, on every ISA path, 1 and 2 threads, block sizes 4
// and 16.
TEST_P(PagedAttention, F32CacheMatchesTorch) {
  AttentionCase c = loadCase(GetParam());
  ThreadPool one(1), two(2);
  for (int64_t blockTokens : {4, 16}) {
    std::vector<int64_t> ids;
    auto cache = buildCache(c, DType::F32, blockTokens, ids);
    for (Isa isa : availableIsas()) {
      IsaScope scope(isa);
      for (ThreadPool *pool : {&one, &two})
        expectClose(runPaged(c, *cache, ids, pool), c.out, 2e-6, 1e-5,
                    std::string(GetParam()) + " " + isaName(isa) + " block " +
                        std::to_string(blockTokens));
    }
  }
}

// bf16 and f16 caches: paged attention equals contiguous attention over the
// same rounded keys and values (and stays near the f32 golden).
TEST_P(PagedAttention, HalfCachesEqualContiguous) {
  AttentionCase c = loadCase(GetParam());
  ThreadPool two(2);
  for (DType dtype : {DType::BF16, DType::F16}) {
    std::vector<int64_t> ids;
    auto cache = buildCache(c, dtype, 4, ids);
    auto reference = contiguousReference(c, dtype);
    for (Isa isa : availableIsas()) {
      IsaScope scope(isa);
      auto out = runPaged(c, *cache, ids, &two);
      expectClose(out, reference, 2e-6, 1e-5,
                  std::string(GetParam()) + " " + dtypeName(dtype));
      expectClose(out, c.out, 3e-2, 3e-2,
                  std::string(GetParam()) + " vs f32 golden");
    }
  }
}

/// Each head vector (headDim contiguous values) quantized with its own
/// scale and dequantized, as the quantized cache does, written from
/// Quantize.h's definitions.
std::vector<float> perVectorRoundTrip(const std::vector<float> &x, int64_t d,
                                      kv::KVQuantization quantization) {
  std::vector<float> out(x.size());
  for (size_t v = 0; v < x.size() / d; ++v) {
    const float *in = x.data() + v * d;
    bool int8 = quantization == kv::KVQuantization::Int8;
    float scale = numeric::symmetricScale(
        numeric::absMax(in, d), int8 ? numeric::kInt8QMax : numeric::kE4M3Max);
    for (int64_t i = 0; i < d; ++i)
      out[v * d + i] = int8 ? numeric::dequantizeInt(
                                  numeric::quantizeInt8(in[i], scale), scale)
                            : numeric::dequantizeFp8(
                                  numeric::quantizeFp8(
                                      in[i], scale, numeric::Fp8Format::E4M3FN),
                                  scale, numeric::Fp8Format::E4M3FN);
  }
  return out;
}

// Quantized caches (int8, fp8 E4M3 with per (token, KV head) scales): paged
// attention equals contiguous attention over the per-vector dequantized keys
// and values (2e-6 abs + 1e-5 rel), and stays within the stated tolerance of
// the f32-cache result (the SDPA golden, outputs of magnitude up to 2.3-3.2):
// 5e-2 absolute for int8, 2e-1 for fp8 E4M3 (3 mantissa bits: up to 6% per
// element). Measured worst errors: int8 0.015-0.035, fp8 0.09-0.11.
TEST_P(PagedAttention, QuantizedCachesMatchF32Cache) {
  AttentionCase c = loadCase(GetParam());
  ThreadPool two(2);
  for (auto [quantization, tolerance] :
       {std::pair<kv::KVQuantization, double>{kv::KVQuantization::Int8, 5e-2},
        {kv::KVQuantization::Fp8E4M3, 2e-1}}) {
    std::vector<int64_t> ids;
    auto cache = buildCache(c, DType::F32, 4, ids, quantization);
    AttentionCase dequantized = c;
    dequantized.k = perVectorRoundTrip(c.k, c.headDim, quantization);
    dequantized.v = perVectorRoundTrip(c.v, c.headDim, quantization);
    auto reference = contiguousReference(dequantized, DType::F32);
    double worst = 0;
    for (Isa isa : availableIsas()) {
      IsaScope scope(isa);
      auto out = runPaged(c, *cache, ids, &two);
      std::string what = std::string(GetParam()) + " " +
                         kv::kvQuantizationName(quantization) + " " +
                         isaName(isa);
      expectClose(out, reference, 2e-6, 1e-5, what);
      expectClose(out, c.out, tolerance, 0.0, what + " vs f32");
      for (size_t i = 0; i < out.size(); ++i)
        worst = std::max(worst, std::fabs(double(out[i]) - c.out[i]));
    }
    // The cache really is quantized: not equal to the f32 result.
    EXPECT_GT(worst, 0.0) << kv::kvQuantizationName(quantization);
    std::cout << GetParam() << " " << kv::kvQuantizationName(quantization)
              << " cache: max |error| vs f32 cache " << worst << "\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PagedAttention,
                         ::testing::Values("gqa", "window_softcap", "mqa"));

// The f32 double-precision reference agrees with torch (checks the checker).
TEST(PagedAttentionReference, ContiguousReferenceMatchesTorch) {
  for (const char *name : {"gqa", "window_softcap", "mqa"}) {
    AttentionCase c = loadCase(name);
    expectClose(contiguousReference(c, DType::F32), c.out, 1e-6, 1e-5, name);
  }
}

// Requests beyond the cache are errors: a position past the reserved
// tokens, an unknown sequence, a head count that does not group.
TEST(PagedAttentionErrors, BadRequestsAreStatusErrors) {
  AttentionCase c = loadCase("gqa");
  std::vector<int64_t> ids;
  auto cache = buildCache(c, DType::F32, 16, ids);
  c.positions[5] = 1000;
  Status status;
  runPaged(c, *cache, ids, nullptr, &status);
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("position 1000"), std::string::npos);
  c = loadCase("gqa");
  ids[2] = 12345;
  runPaged(c, *cache, ids, nullptr, &status);
  EXPECT_FALSE(status);
  EXPECT_NE(status.message().find("unknown KV cache sequence 12345"),
            std::string::npos);
  c = loadCase("gqa");
  buildCache(c, DType::F32, 16, ids);
  c.qHeads = 7;
  c.q.resize(c.positions.size() * 7 * c.headDim);
  runPaged(c, *cache, ids, nullptr, &status);
  EXPECT_FALSE(status);
}

} // namespace
} // namespace llmc::cpu
