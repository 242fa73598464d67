/* device_batch.h - what a GPU backend tells generated kernels about one
 * forward call (the `Batch` launch argument, artifact.fbs `LaunchArg`).
 *
 * Plain C with fixed-width members so that the runtime (host C++) and the
 * kernels (NVRTC, which embeds this file into every generated source) share
 * one definition of the layout. Every pointer is device memory.
 *
 * KV cache layout, the CPU backend's (runtime/kv_cache/KVCache.h): per layer
 * one key and one value allocation of blocks; the tile of KV head h in block
 * b starts at byte (b * kv_heads + h) * tile_bytes and holds block_tokens x
 * head_dim elements in the cache's storage type; a quantized cache (int8,
 * fp8 e4m3) stores codes, then, at the byte offset
 * round_up(block_tokens * head_dim, 4), block_tokens f32 scales (slot i's
 * vector is codes[i * head_dim ...] * scales[i]); tile_bytes is that offset
 * plus 4 * block_tokens. block_tokens, kv_heads, head_dim and the storage
 * type are compile-time constants of the kernels that read the cache.
 */
#ifndef LLMC_DEVICE_BATCH_H
#define LLMC_DEVICE_BATCH_H

typedef struct LlmcDeviceBatch {
  /* Tokens of the forward call (T), sequence after sequence. */
  long long num_tokens;
  /* Sequences in the call (S). */
  long long num_sequences;
  /* [T] absolute position of each token in its sequence; a token attends to
   * the cached positions [0, position] of its sequence (causal). */
  const int *positions;
  /* [T] index (0 .. S-1) of each token's sequence within the call. */
  const int *token_sequence;
  /* [S + 1] the call's tokens of sequence s are [query_start[s],
   * query_start[s + 1]). */
  const int *query_start;
  /* [S][block_table_stride] each sequence's KV-cache block ids in position
   * order (position p lives in block block_tables[s * stride + p /
   * block_tokens], slot p % block_tokens); unused entries are -1. */
  const int *block_tables;
  long long block_table_stride;
  /* [layers] each layer's key and value block storage. */
  void *const *key_cache;
  void *const *value_cache;
} LlmcDeviceBatch;

#endif /* LLMC_DEVICE_BATCH_H */
