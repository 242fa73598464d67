//===- Stats.cpp - kernel launches and bytes moved per decode token -------===//

#include "compiler/driver/Stats.h"

#include "dialects/plan/PlanOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

using namespace mlir;

namespace llmc {

namespace {

/// The decoder layer a weight name belongs to (`model.layers.3.mlp...` ->
/// 3), or -1.
int64_t layerOfWeight(StringRef name) {
  size_t at = name.find("layers.");
  if (at == StringRef::npos)
    return -1;
  StringRef rest = name.drop_front(at + 7);
  StringRef digits = rest.take_while(llvm::isDigit);
  int64_t layer;
  if (digits.empty() || !rest.drop_front(digits.size()).starts_with(".") ||
      digits.getAsInteger(10, layer))
    return -1;
  return layer;
}

int64_t elementBytes(Type element) {
  return plan::getBufferBytes(MemRefType::get({1}, element));
}

} // namespace

PlanStats computePlanStats(ModuleOp module) {
  PlanStats stats;
  plan::RankOp rank;
  for (auto candidate : module.getOps<plan::RankOp>())
    if (!rank || candidate.getRankAttr().getInt() == 0)
      rank = candidate;
  if (!rank)
    return stats;
  Block &body = rank.getBody().front();

  // max-tokens from the token ids' buffer: token-rows buffers hold that many
  // rows per token of a call.
  int64_t maxTokens = 1;
  for (auto slice : body.getOps<plan::SliceOp>())
    if (auto role = slice->getAttrOfType<StringAttr>("plan.input");
        role && role.getValue() == "token_ids")
      maxTokens = std::max<int64_t>(1, slice.getType().getShape().front());

  auto sliceOf = [](Value buffer) {
    return buffer.getDefiningOp<plan::SliceOp>();
  };
  auto weightName = [&](Value buffer) -> StringRef {
    plan::SliceOp slice = sliceOf(buffer);
    if (!slice)
      return {};
    auto name = slice->getAttrOfType<StringAttr>("plan.weight");
    return name ? name.getValue() : StringRef();
  };
  auto oneTokenBytes = [&](Value buffer) {
    auto type = cast<MemRefType>(buffer.getType());
    int64_t bytes = plan::getBufferBytes(type);
    plan::SliceOp slice = sliceOf(buffer);
    if (slice && slice->hasAttr("plan.token_rows"))
      bytes /= maxTokens;
    return bytes;
  };

  std::map<int64_t, int64_t> launchesByLayer;
  llvm::DenseMap<int64_t, int64_t> kvBytesPerToken;
  int64_t currentLayer = -1;
  for (Operation &op : body) {
    if (!isa<plan::GemmOp, plan::ComputeOp, plan::CollectiveOp>(op))
      continue;
    ++stats.totalLaunches;
    SmallVector<Value> reads, writes;
    StringRef stepName;
    if (auto gemm = dyn_cast<plan::GemmOp>(op)) {
      reads.append({gemm.getA(), gemm.getB()});
      for (Value scale : {gemm.getScaleA(), gemm.getScaleB()})
        if (scale)
          reads.push_back(scale);
      writes.push_back(gemm.getC());
      if (gemm.getBeta().convertToFloat() != 0.0f)
        reads.push_back(gemm.getC());
    } else if (auto compute = dyn_cast<plan::ComputeOp>(op)) {
      stepName = compute.getName();
      llvm::append_range(reads, compute.getInputs());
      llvm::append_range(writes, compute.getOutputs());
    } else {
      auto collective = cast<plan::CollectiveOp>(op);
      reads.push_back(collective.getBuffer());
      writes.push_back(collective.getOutput() ? collective.getOutput()
                                              : collective.getBuffer());
    }

    int64_t layer = -2;
    for (Value buffer : reads) {
      StringRef name = weightName(buffer);
      if (name.empty()) {
        stats.activationBytes += oneTokenBytes(buffer);
        continue;
      }
      layer = std::max(layer, layerOfWeight(name));
      int64_t bytes = plan::getBufferBytes(cast<MemRefType>(buffer.getType()));
      // An embedding gathers one row per token.
      if (stepName == "embedding")
        bytes /= std::max<int64_t>(
            1, cast<MemRefType>(buffer.getType()).getShape().front());
      stats.weightBytes += bytes;
    }
    for (Value buffer : writes)
      stats.activationBytes += oneTokenBytes(buffer);

    // The KV cache: written for the token, read at a context of one.
    if (auto kvLayer = op.getAttrOfType<IntegerAttr>("layer")) {
      layer = kvLayer.getInt();
      auto compute = cast<plan::ComputeOp>(op);
      int64_t perToken = 0;
      // A quantized cache (kv_cache_dtype) holds one byte per element and
      // an f32 scale per (token, KV head) vector of K and of V.
      bool quantizedCache =
          static_cast<bool>(op.getAttrOfType<StringAttr>("kv_cache_dtype"));
      auto cacheBytes = [&](int64_t heads, int64_t dim, int64_t bytes) {
        return quantizedCache ? 2 * heads * (dim + 4) : 2 * heads * dim * bytes;
      };
      if (stepName == "attention" && compute.getInputs().size() >= 2) {
        auto key = cast<MemRefType>(compute.getInputs()[1].getType());
        if (key.getRank() == 3)
          perToken = cacheBytes(key.getShape()[1], key.getShape()[2],
                                elementBytes(key.getElementType()));
      } else if (stepName == "rope_kv_write") {
        auto heads = op.getAttrOfType<IntegerAttr>("num_kv_heads");
        auto dim = op.getAttrOfType<IntegerAttr>("head_dim");
        auto packed = cast<MemRefType>(compute.getInputs()[0].getType());
        if (heads && dim)
          perToken = cacheBytes(heads.getInt(), dim.getInt(),
                                elementBytes(packed.getElementType()));
      }
      if (perToken) {
        kvBytesPerToken[layer] = perToken;
        stats.kvCacheBytes += perToken; // the write
      }
      if (stepName == "attention" || stepName == "cached_attention" ||
          stepName == "cached_attention_quantize_dynamic")
        stats.kvCacheBytes += kvBytesPerToken.lookup(layer); // the read
    }
    if (layer == -2)
      layer = currentLayer;
    currentLayer = layer;
    ++launchesByLayer[layer];
  }
  // The count most layers have (the larger on a tie): a boundary layer may
  // also carry a step fused across it, such as the last layer's residual
  // add with the final norm.
  std::map<int64_t, int64_t> layersByLaunches;
  for (auto [layer, launches] : launchesByLayer)
    if (layer >= 0) {
      ++stats.numLayers;
      ++layersByLaunches[launches];
    }
  int64_t mostLayers = 0;
  for (auto [launches, layers] : layersByLaunches)
    if (layers >= mostLayers) {
      mostLayers = layers;
      stats.launchesPerLayer = launches;
    }
  for (auto [layer, bytes] : kvBytesPerToken)
    stats.kvBytesPerContextToken += bytes;
  return stats;
}

std::string formatFusionStats(const PlanStats &before, const PlanStats &after) {
  return llvm::formatv(
      "launches per decoder layer: {0} -> {1}\n"
      "bytes moved per decode token: {2} -> {3} (weights {4} -> {5}, "
      "activations {6} -> {7}, KV cache {8} -> {9} at a context of 1 token, "
      "+{10} per further context token)\n",
      before.launchesPerLayer, after.launchesPerLayer,
      before.bytesPerDecodeToken(), after.bytesPerDecodeToken(),
      before.weightBytes, after.weightBytes, before.activationBytes,
      after.activationBytes, before.kvCacheBytes, after.kvCacheBytes,
      after.kvBytesPerContextToken);
}

} // namespace llmc
