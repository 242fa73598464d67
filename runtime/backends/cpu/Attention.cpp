//===- Attention.cpp - llm.attention over the paged KV cache --------------===//
//
// One work item is one query token and one KV head: the G = qHeads / kvHeads
// query heads that share that KV head read each key and value tile once.
// Keys are visited block by block through the sequence's block table with
// the online (streaming) softmax: a running maximum m, a running sum l and
// an unnormalized output acc per query head, rescaled by exp(m_old - m_new)
// whenever the maximum grows, all in f32. Masked keys are skipped rather
// than set to -inf, so a sliding window costs only the keys it keeps.
//
// The inner loops are plain C++ that the compiler vectorizes; the same body
// is instantiated under AVX2 and AVX-512 target attributes and picked at run
// time.
//
//===----------------------------------------------------------------------===//

#include "runtime/backends/cpu/CpuFeatures.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/kv_cache/KVCache.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace llmc::cpu {
namespace {

struct ItemContext {
  const AttentionParams *params;
  const HeadsView *query;
  const HeadsView *output;
  const kv::PagedKVCache *cache;
  int64_t layer;
  int64_t group; // query heads per KV head
};

// Scratch of one work item, reused across items on a thread.
struct Scratch {
  std::vector<float> q, acc, keys, values, scores, maxima, sums;
};

#define LLMC_ALWAYS_INLINE inline __attribute__((always_inline))

LLMC_ALWAYS_INLINE float dot(const float *a, const float *b, int64_t n) {
  float lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l)
      lanes[l] += a[i + l] * b[i + l];
  float sum = 0.0f;
  for (; i < n; ++i)
    sum += a[i] * b[i];
  for (int l = 0; l < 16; ++l)
    sum += lanes[l];
  return sum;
}

LLMC_ALWAYS_INLINE void widen(const void *src, DType dtype, float *dst,
                              int64_t n) {
  if (dtype == DType::BF16) {
    const uint16_t *in = static_cast<const uint16_t *>(src);
    for (int64_t i = 0; i < n; ++i)
      dst[i] = bf16ToF32(in[i]);
  } else {
    convertToF32(src, dtype, dst, n);
  }
}

// Attention of token `t` (position `position`, sequence block table
// `table`) over KV head `kvHead`.
LLMC_ALWAYS_INLINE void attendItem(const ItemContext &ctx,
                                   const std::vector<int32_t> &table, int64_t t,
                                   int32_t position, int64_t kvHead,
                                   Scratch &s) {
  const HeadsView &query = *ctx.query;
  const int64_t d = query.headDim;
  const int64_t g = ctx.group;
  const int64_t blockTokens = ctx.cache->config().blockTokens;
  const DType cacheDType = ctx.cache->config().dtype;
  const size_t cacheBytes = dtypeBytes(cacheDType);
  const float scale = ctx.params->scale;
  const float softcap = ctx.params->softcap;

  s.q.resize(g * d);
  s.acc.assign(g * d, 0.0f);
  s.keys.resize(blockTokens * d);
  s.values.resize(blockTokens * d);
  s.scores.resize(g * blockTokens);
  s.maxima.assign(g, -INFINITY);
  s.sums.assign(g, 0.0f);
  const size_t qBytes = dtypeBytes(query.dtype);
  for (int64_t j = 0; j < g; ++j)
    convertToF32(
        static_cast<const uint8_t *>(query.data) +
            (t * query.tokenStride + (kvHead * g + j) * query.headStride) *
                qBytes,
        query.dtype, s.q.data() + j * d, d);

  int64_t first = 0;
  if (ctx.params->slidingWindow > 0)
    first = std::max<int64_t>(0, position - ctx.params->slidingWindow + 1);
  const int64_t last = position; // inclusive: causal
  for (int64_t block = first / blockTokens; block <= last / blockTokens;
       ++block) {
    const int64_t begin = std::max(first, block * blockTokens);
    const int64_t end = std::min(last + 1, (block + 1) * blockTokens);
    const int64_t n = end - begin;
    const int64_t slot0 = begin - block * blockTokens;
    const int32_t id = table[block];
    if (ctx.cache->quantized()) {
      // Dequantized with each vector's scale (the quantized KV cache).
      ctx.cache->readTile(ctx.cache->keyTile(ctx.layer, id, kvHead), slot0, n,
                          s.keys.data());
      ctx.cache->readTile(ctx.cache->valueTile(ctx.layer, id, kvHead), slot0, n,
                          s.values.data());
    } else {
      widen(static_cast<const uint8_t *>(
                ctx.cache->keyTile(ctx.layer, id, kvHead)) +
                slot0 * d * cacheBytes,
            cacheDType, s.keys.data(), n * d);
      widen(static_cast<const uint8_t *>(
                ctx.cache->valueTile(ctx.layer, id, kvHead)) +
                slot0 * d * cacheBytes,
            cacheDType, s.values.data(), n * d);
    }
    for (int64_t j = 0; j < g; ++j) {
      float *scores = s.scores.data() + j * blockTokens;
      const float *q = s.q.data() + j * d;
      float blockMax = -INFINITY;
      for (int64_t k = 0; k < n; ++k) {
        float logit = dot(q, s.keys.data() + k * d, d) * scale;
        if (softcap > 0.0f)
          logit = softcap * std::tanh(logit / softcap);
        scores[k] = logit;
        blockMax = std::max(blockMax, logit);
      }
      float *acc = s.acc.data() + j * d;
      const float newMax = std::max(s.maxima[j], blockMax);
      const float correction = std::exp(s.maxima[j] - newMax);
      if (correction != 1.0f) {
        s.sums[j] *= correction;
        for (int64_t i = 0; i < d; ++i)
          acc[i] *= correction;
      }
      s.maxima[j] = newMax;
      for (int64_t k = 0; k < n; ++k) {
        const float p = std::exp(scores[k] - newMax);
        s.sums[j] += p;
        const float *v = s.values.data() + k * d;
        for (int64_t i = 0; i < d; ++i)
          acc[i] += p * v[i];
      }
    }
  }

  const HeadsView &output = *ctx.output;
  const size_t outBytes = dtypeBytes(output.dtype);
  for (int64_t j = 0; j < g; ++j) {
    float *acc = s.acc.data() + j * d;
    const float inverse = 1.0f / s.sums[j];
    for (int64_t i = 0; i < d; ++i)
      acc[i] *= inverse;
    convertFromF32(
        acc,
        static_cast<uint8_t *>(output.data) +
            (t * output.tokenStride + (kvHead * g + j) * output.headStride) *
                outBytes,
        output.dtype, d);
  }
}

using ItemFn = void (*)(const ItemContext &, const std::vector<int32_t> &,
                        int64_t, int32_t, int64_t, Scratch &);

void attendGeneric(const ItemContext &ctx, const std::vector<int32_t> &table,
                   int64_t t, int32_t position, int64_t kvHead, Scratch &s) {
  attendItem(ctx, table, t, position, kvHead, s);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) void
attendAvx2(const ItemContext &ctx, const std::vector<int32_t> &table, int64_t t,
           int32_t position, int64_t kvHead, Scratch &s) {
  attendItem(ctx, table, t, position, kvHead, s);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))) void
attendAvx512(const ItemContext &ctx, const std::vector<int32_t> &table,
             int64_t t, int32_t position, int64_t kvHead, Scratch &s) {
  attendItem(ctx, table, t, position, kvHead, s);
}
#endif

ItemFn selectItemFn() {
#if defined(__x86_64__)
  switch (activeIsa()) {
  case Isa::Avx512:
    return &attendAvx512;
  case Isa::Avx2:
    return &attendAvx2;
  case Isa::Generic:
    break;
  }
#endif
  return &attendGeneric;
}

} // namespace

Status pagedAttention(const AttentionParams &params, const HeadsView &query,
                      const kv::PagedKVCache &cache, int64_t layer,
                      const AttentionBatch &batch, const HeadsView &output,
                      ThreadPool *pool) {
  const kv::KVCacheConfig &config = cache.config();
  if (layer < 0 || layer >= config.numLayers)
    return Status::error("attention: layer " + std::to_string(layer) +
                         " out of range [0, " +
                         std::to_string(config.numLayers) + ")");
  if (query.headDim != config.headDim || output.headDim != config.headDim)
    return Status::error(
        "attention: head_dim " + std::to_string(query.headDim) +
        " but the KV cache has " + std::to_string(config.headDim));
  if (query.heads % config.numKVHeads != 0 || output.heads != query.heads)
    return Status::error("attention: " + std::to_string(query.heads) +
                         " query heads is not a multiple of " +
                         std::to_string(config.numKVHeads) + " KV heads");
  if (batch.numSequences < 0 || !batch.queryStart || batch.queryStart[0] != 0 ||
      batch.queryStart[batch.numSequences] != query.tokens ||
      output.tokens != query.tokens)
    return Status::error("attention: the batch's query offsets do not cover "
                         "the " +
                         std::to_string(query.tokens) + " query tokens");
  // Validate everything before any thread starts.
  std::vector<const std::vector<int32_t> *> tables(batch.numSequences);
  std::vector<int64_t> sequenceOfToken(query.tokens);
  for (int64_t s = 0; s < batch.numSequences; ++s) {
    tables[s] = cache.blockTable(batch.sequenceIds[s]);
    if (!tables[s])
      return Status::error("attention: unknown KV cache sequence " +
                           std::to_string(batch.sequenceIds[s]));
    const int64_t capacity = cache.capacityTokens(batch.sequenceIds[s]);
    if (batch.queryStart[s + 1] < batch.queryStart[s])
      return Status::error("attention: query offsets must not decrease");
    for (int64_t t = batch.queryStart[s]; t < batch.queryStart[s + 1]; ++t) {
      if (batch.positions[t] < 0 || batch.positions[t] >= capacity)
        return Status::error(
            "attention: position " + std::to_string(batch.positions[t]) +
            " of sequence " + std::to_string(batch.sequenceIds[s]) +
            " is outside its " + std::to_string(capacity) + " cached tokens");
      sequenceOfToken[t] = s;
    }
  }

  ItemContext ctx{&params, &query, &output,
                  &cache,  layer,  query.heads / config.numKVHeads};
  ItemFn item = selectItemFn();
  const int64_t numItems = query.tokens * config.numKVHeads;
  auto body = [&](int64_t begin, int64_t end, int) {
    Scratch scratch;
    for (int64_t index = begin; index < end; ++index) {
      const int64_t t = index / config.numKVHeads;
      const int64_t kvHead = index % config.numKVHeads;
      item(ctx, *tables[sequenceOfToken[t]], t, batch.positions[t], kvHead,
           scratch);
    }
  };
  if (pool && pool->numThreads() > 1 && numItems > 1)
    pool->parallelFor(numItems, 1, body);
  else
    body(0, numItems, 0);
  return Status::success();
}

} // namespace llmc::cpu
