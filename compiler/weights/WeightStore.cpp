//===- WeightStore.cpp - recording transforms and applying them on demand
//--===//

#include "compiler/weights/WeightStore.h"
#include "compiler/weights/Gguf.h"
#include "compiler/weights/Safetensors.h"
#include "compiler/weights/Support.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Endian.h"

#include <algorithm>
#include <cstring>

namespace llmc::weights {

using detail::makeError;

namespace {

enum class TransformKind {
  Convert,
  Transpose,
  Slice,
  UnpermuteQK,
  AddConstant
};

struct Transform {
  TransformKind kind;
  DType target = DType::F32;
  int64_t axis = 0;
  int64_t begin = 0;
  int64_t end = 0;
  int64_t numHeads = 0;
  float constant = 0.0f;
};

uint64_t product(llvm::ArrayRef<int64_t> dims) {
  uint64_t count = 1;
  for (int64_t dim : dims)
    count *= static_cast<uint64_t>(dim);
  return count;
}

/// Bytes one index of `axis` spans (the sub-tensor below it), or nullopt when
/// that would split a quantized block (the innermost axis of a block type).
std::optional<uint64_t> getAxisStrideBytes(const WeightDesc &desc,
                                           int64_t axis) {
  return getStorageBytes(
      desc.dtype, product(llvm::ArrayRef(desc.shape).drop_front(axis + 1)));
}

/// A tensor during materialization: its description and bytes, which either
/// view the mapped file or live in `storage`.
struct Value {
  WeightDesc desc;
  llvm::ArrayRef<uint8_t> bytes;
  std::vector<uint8_t> storage;
};

void setOwned(Value &value, std::vector<uint8_t> storage) {
  value.storage = std::move(storage);
  value.bytes = value.storage;
}

// Elements decoded per step when converting to 16-bit floats: a multiple of
// every block size, small enough to stay in cache.
constexpr uint64_t kConvertChunkElements = 16384;

void encodeFromF32(DType target, const float *src, uint8_t *dst,
                   uint64_t count) {
  using namespace llvm::support::endian;
  for (uint64_t i = 0; i < count; ++i) {
    uint16_t bits =
        target == DType::F16 ? floatToHalf(src[i]) : floatToBFloat16(src[i]);
    write16le(dst + 2 * i, bits);
  }
}

void applyConvert(const Value &in, DType target, uint8_t *out) {
  uint64_t count = in.desc.getNumElements();
  if (target == DType::F32) {
    decodeToF32(in.desc.dtype, in.bytes, reinterpret_cast<float *>(out), count);
    return;
  }
  const DTypeInfo &info = getDTypeInfo(in.desc.dtype);
  std::vector<float> chunk(std::min<uint64_t>(count, kConvertChunkElements));
  for (uint64_t first = 0; first < count; first += kConvertChunkElements) {
    uint64_t n = std::min<uint64_t>(count - first, kConvertChunkElements);
    uint64_t srcOffset = first / info.blockElements * info.blockBytes;
    decodeToF32(
        in.desc.dtype,
        in.bytes.slice(srcOffset, n / info.blockElements * info.blockBytes),
        chunk.data(), n);
    encodeFromF32(target, chunk.data(), out + 2 * first, n);
  }
}

void applyTranspose(const Value &in, uint8_t *out) {
  const uint64_t rows = in.desc.shape[0], cols = in.desc.shape[1];
  const unsigned elementBytes = getDTypeInfo(in.desc.dtype).blockBytes;
  const uint8_t *src = in.bytes.data();
  // Tiles keep both the reads and the writes within a few cache lines.
  constexpr uint64_t kTile = 32;
  for (uint64_t r0 = 0; r0 < rows; r0 += kTile)
    for (uint64_t c0 = 0; c0 < cols; c0 += kTile)
      for (uint64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
        for (uint64_t c = c0; c < std::min(cols, c0 + kTile); ++c)
          std::memcpy(out + (c * rows + r) * elementBytes,
                      src + (r * cols + c) * elementBytes, elementBytes);
}

void applySlice(const Value &in, const Transform &t, uint8_t *out) {
  uint64_t stride = *getAxisStrideBytes(in.desc, t.axis);
  uint64_t outer = product(llvm::ArrayRef(in.desc.shape).take_front(t.axis));
  uint64_t axisLength = in.desc.shape[t.axis];
  uint64_t keptBytes = (t.end - t.begin) * stride;
  for (uint64_t o = 0; o < outer; ++o)
    std::memcpy(out + o * keptBytes,
                in.bytes.data() + (o * axisLength + t.begin) * stride,
                keptBytes);
}

// convert_hf_to_gguf.py's permute(w, n_head) reshapes the rows of each head
// as [2, headDim/2] and swaps the two axes, so GGUF row h*headDim + 2*i + j
// holds Hugging Face row h*headDim + j*headDim/2 + i. Reading it back swaps
// the other way.
void applyUnpermuteQK(const Value &in, int64_t numHeads, uint8_t *out) {
  uint64_t stride = *getAxisStrideBytes(in.desc, 0);
  uint64_t headDim = in.desc.shape[0] / numHeads, half = headDim / 2;
  for (int64_t h = 0; h < numHeads; ++h)
    for (uint64_t j = 0; j < 2; ++j)
      for (uint64_t i = 0; i < half; ++i)
        std::memcpy(out + (h * headDim + j * half + i) * stride,
                    in.bytes.data() + (h * headDim + 2 * i + j) * stride,
                    stride);
}

void applyAddConstant(const Value &in, float constant, uint8_t *out) {
  using namespace llvm::support::endian;
  uint64_t count = in.desc.getNumElements();
  const uint8_t *src = in.bytes.data();
  for (uint64_t i = 0; i < count; ++i) {
    switch (in.desc.dtype) {
    case DType::F32: {
      float sum = llvm::bit_cast<float>(read32le(src + 4 * i)) + constant;
      write32le(out + 4 * i, llvm::bit_cast<uint32_t>(sum));
      break;
    }
    case DType::F16:
      write16le(out + 2 * i,
                floatToHalf(halfToFloat(read16le(src + 2 * i)) + constant));
      break;
    default: // BF16; the transform was checked when recorded.
      write16le(
          out + 2 * i,
          floatToBFloat16(bfloat16ToFloat(read16le(src + 2 * i)) + constant));
      break;
    }
  }
}

} // namespace

/// A weight: where its values come from and what happens to them.
struct WeightStore::Node {
  std::string name;
  /// Either a source tensor...
  const TensorView *source = nullptr;
  /// ...or a concatenation of snapshots of other weights.
  std::vector<Node> parts;
  int64_t concatAxis = 0;
  /// Before and after the transforms.
  WeightDesc baseDesc;
  WeightDesc desc;
  std::vector<Transform> transforms;
};

namespace {

void applyTransform(const Value &in, const Transform &t, uint8_t *out) {
  switch (t.kind) {
  case TransformKind::Convert:
    return applyConvert(in, t.target, out);
  case TransformKind::Transpose:
    return applyTranspose(in, out);
  case TransformKind::Slice:
    return applySlice(in, t, out);
  case TransformKind::UnpermuteQK:
    return applyUnpermuteQK(in, t.numHeads, out);
  case TransformKind::AddConstant:
    return applyAddConstant(in, t.constant, out);
  }
}

/// The description after `t`; recording already checked that it applies.
WeightDesc describeAfter(const WeightDesc &in, const Transform &t) {
  WeightDesc out = in;
  switch (t.kind) {
  case TransformKind::Convert:
    out.dtype = t.target;
    break;
  case TransformKind::Transpose:
    std::swap(out.shape[0], out.shape[1]);
    break;
  case TransformKind::Slice:
    out.shape[t.axis] = t.end - t.begin;
    break;
  case TransformKind::UnpermuteQK:
  case TransformKind::AddConstant:
    break;
  }
  return out;
}

// Writes the concatenation's bytes into `out`.
void materializeNode(const WeightStore::Node &node,
                     llvm::MutableArrayRef<uint8_t> out);

void concatenateInto(const WeightStore::Node &node, uint8_t *out) {
  const WeightDesc &desc = node.baseDesc;
  uint64_t stride = *getAxisStrideBytes(desc, node.concatAxis);
  uint64_t outer =
      product(llvm::ArrayRef(desc.shape).take_front(node.concatAxis));
  uint64_t outRowBytes = desc.shape[node.concatAxis] * stride;
  uint64_t columnOffset = 0;
  std::vector<uint8_t> scratch;
  for (const WeightStore::Node &part : node.parts) {
    // Parts are materialized one at a time, each in its own scratch.
    scratch.resize(part.desc.getBytes());
    materializeNode(part, scratch);
    uint64_t partRowBytes = part.desc.shape[node.concatAxis] * stride;
    for (uint64_t o = 0; o < outer; ++o)
      std::memcpy(out + o * outRowBytes + columnOffset,
                  scratch.data() + o * partRowBytes, partRowBytes);
    columnOffset += partRowBytes;
  }
}

void materializeNode(const WeightStore::Node &node,
                     llvm::MutableArrayRef<uint8_t> out) {
  Value current;
  current.desc = node.baseDesc;
  if (node.source) {
    current.bytes = node.source->bytes;
    if (node.transforms.empty()) {
      if (!out.empty())
        std::memcpy(out.data(), current.bytes.data(), current.bytes.size());
      return;
    }
  } else if (node.transforms.empty()) {
    concatenateInto(node, out.data());
    return;
  } else {
    std::vector<uint8_t> storage(node.baseDesc.getBytes());
    concatenateInto(node, storage.data());
    setOwned(current, std::move(storage));
  }
  // The last transform writes straight into `out`; earlier ones into
  // scratch that replaces the previous value.
  for (size_t i = 0; i < node.transforms.size(); ++i) {
    const Transform &t = node.transforms[i];
    WeightDesc next = describeAfter(current.desc, t);
    if (i + 1 == node.transforms.size()) {
      applyTransform(current, t, out.data());
      return;
    }
    std::vector<uint8_t> storage(next.getBytes());
    applyTransform(current, t, storage.data());
    current.desc = next;
    setOwned(current, std::move(storage));
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// WeightDesc
//===----------------------------------------------------------------------===//

uint64_t WeightDesc::getNumElements() const { return product(shape); }

uint64_t WeightDesc::getBytes() const {
  return getStorageBytes(dtype, getNumElements()).value_or(0);
}

//===----------------------------------------------------------------------===//
// WeightStore
//===----------------------------------------------------------------------===//

WeightStore::WeightStore() = default;
WeightStore::~WeightStore() = default;

llvm::Error WeightStore::addSourceTensor(const TensorView &tensor) {
  auto [it, inserted] = sourceTensors.try_emplace(tensor.name, &tensor);
  if (!inserted)
    return makeError(tensor.path + ": tensor '" + tensor.name +
                     "' is already provided by " + it->second->path);
  return llvm::Error::success();
}

llvm::Error
WeightStore::addSource(std::unique_ptr<SafetensorsCheckpoint> checkpoint) {
  for (const TensorView *tensor : checkpoint->getTensors())
    if (llvm::Error error = addSourceTensor(*tensor))
      return error;
  checkpoints.push_back(std::move(checkpoint));
  return llvm::Error::success();
}

llvm::Error WeightStore::addSource(std::unique_ptr<GgufFile> file) {
  for (const GgufTensorInfo &info : file->getTensorInfos())
    if (llvm::Error error = addSourceTensor(info.view))
      return error;
  ggufFiles.push_back(std::move(file));
  return llvm::Error::success();
}

const TensorView *WeightStore::lookupSourceTensor(llvm::StringRef name) const {
  auto it = sourceTensors.find(name);
  return it == sourceTensors.end() ? nullptr : it->second;
}

llvm::Error WeightStore::addWeight(llvm::StringRef name,
                                   llvm::StringRef sourceTensor) {
  if (sourceTensor.empty())
    sourceTensor = name;
  if (weights.count(name))
    return makeError("weight '" + name + "' is already declared");
  const TensorView *tensor = lookupSourceTensor(sourceTensor);
  if (!tensor)
    return makeError("weight '" + name + "': no source holds tensor '" +
                     sourceTensor + "'");
  auto node = std::make_unique<Node>();
  node->name = name.str();
  node->source = tensor;
  node->baseDesc.dtype = tensor->dtype;
  node->baseDesc.shape = tensor->shape;
  node->desc = node->baseDesc;
  weights[name] = std::move(node);
  return llvm::Error::success();
}

void WeightStore::addAllSourceTensors() {
  std::vector<llvm::StringRef> names;
  for (const auto &entry : sourceTensors)
    names.push_back(entry.first());
  llvm::sort(names);
  for (llvm::StringRef name : names)
    if (!contains(name))
      llvm::consumeError(addWeight(name));
}

llvm::Error WeightStore::addConcat(llvm::StringRef name,
                                   llvm::ArrayRef<std::string> parts,
                                   int64_t axis) {
  if (weights.count(name))
    return makeError("weight '" + name + "' is already declared");
  if (parts.empty())
    return makeError("weight '" + name + "': concat of no weights");
  auto node = std::make_unique<Node>();
  node->name = name.str();
  node->concatAxis = axis;
  for (const std::string &partName : parts) {
    auto it = weights.find(partName);
    if (it == weights.end())
      return makeError("weight '" + name + "': concat part '" + partName +
                       "' is not declared");
    const Node &part = *it->second;
    if (!node->parts.empty()) {
      const WeightDesc &first = node->parts.front().desc;
      bool sameOtherDims = first.shape.size() == part.desc.shape.size();
      for (size_t d = 0; sameOtherDims && d < first.shape.size(); ++d)
        if (static_cast<int64_t>(d) != axis &&
            first.shape[d] != part.desc.shape[d])
          sameOtherDims = false;
      if (first.dtype != part.desc.dtype || !sameOtherDims)
        return makeError(
            "weight '" + name + "': concat part '" + partName + "' is " +
            getDTypeName(part.desc.dtype) + " " + formatShape(part.desc.shape) +
            " but '" + node->parts.front().name + "' is " +
            getDTypeName(first.dtype) + " " + formatShape(first.shape) +
            " (axis " + llvm::Twine(axis) + " may differ)");
    }
    node->parts.push_back(part);
  }
  WeightDesc &desc = node->baseDesc;
  desc = node->parts.front().desc;
  int64_t rank = desc.shape.size();
  if (axis < 0 || axis >= rank)
    return makeError("weight '" + name + "': concat axis " + llvm::Twine(axis) +
                     " is out of range for rank " + llvm::Twine(rank));
  desc.shape[axis] = 0;
  for (const Node &part : node->parts)
    desc.shape[axis] += part.desc.shape[axis];
  if (!getAxisStrideBytes(desc, axis))
    return makeError("weight '" + name + "': cannot concatenate " +
                     getDTypeName(desc.dtype) +
                     " blocks along the innermost axis; convert first");
  node->desc = desc;
  weights[name] = std::move(node);
  return llvm::Error::success();
}

bool WeightStore::contains(llvm::StringRef name) const {
  return weights.count(name) != 0;
}

std::vector<std::string> WeightStore::getWeightNames() const {
  std::vector<std::string> names;
  for (const auto &entry : weights)
    names.push_back(entry.first().str());
  llvm::sort(names);
  return names;
}

llvm::Expected<WeightStore::Node *>
WeightStore::findWeight(llvm::StringRef name, llvm::StringRef action) {
  auto it = weights.find(name);
  if (it == weights.end())
    return makeError("weight '" + name + "': cannot " + action +
                     ": not declared");
  return it->second.get();
}

llvm::Error WeightStore::convert(llvm::StringRef name, DType target) {
  llvm::Expected<Node *> node = findWeight(name, "convert");
  if (!node)
    return node.takeError();
  if (target != DType::F32 && target != DType::F16 && target != DType::BF16)
    return makeError("weight '" + name + "': cannot convert to " +
                     getDTypeName(target) + "; only F32, F16 and BF16");
  Transform t{TransformKind::Convert};
  t.target = target;
  (*node)->transforms.push_back(t);
  (*node)->desc = describeAfter((*node)->desc, t);
  return llvm::Error::success();
}

llvm::Error WeightStore::transpose(llvm::StringRef name) {
  llvm::Expected<Node *> node = findWeight(name, "transpose");
  if (!node)
    return node.takeError();
  const WeightDesc &desc = (*node)->desc;
  if (desc.shape.size() != 2)
    return makeError("weight '" + name +
                     "': transpose needs a 2-D weight, "
                     "not " +
                     formatShape(desc.shape));
  if (isBlockQuantized(desc.dtype))
    return makeError("weight '" + name + "': cannot transpose " +
                     getDTypeName(desc.dtype) +
                     " blocks; convert to F32, F16 or BF16 first");
  Transform t{TransformKind::Transpose};
  (*node)->transforms.push_back(t);
  (*node)->desc = describeAfter(desc, t);
  return llvm::Error::success();
}

llvm::Error WeightStore::slice(llvm::StringRef name, int64_t axis,
                               int64_t begin, int64_t end) {
  llvm::Expected<Node *> node = findWeight(name, "slice");
  if (!node)
    return node.takeError();
  const WeightDesc &desc = (*node)->desc;
  int64_t rank = desc.shape.size();
  if (axis < 0 || axis >= rank)
    return makeError("weight '" + name + "': slice axis " + llvm::Twine(axis) +
                     " is out of range for shape " + formatShape(desc.shape));
  if (begin < 0 || begin > end || end > desc.shape[axis])
    return makeError("weight '" + name + "': slice [" + llvm::Twine(begin) +
                     ", " + llvm::Twine(end) + ") of axis " +
                     llvm::Twine(axis) + " is outside shape " +
                     formatShape(desc.shape));
  if (!getAxisStrideBytes(desc, axis))
    return makeError("weight '" + name + "': cannot slice " +
                     getDTypeName(desc.dtype) +
                     " blocks along the innermost axis; convert first");
  Transform t{TransformKind::Slice};
  t.axis = axis;
  t.begin = begin;
  t.end = end;
  (*node)->transforms.push_back(t);
  (*node)->desc = describeAfter(desc, t);
  return llvm::Error::success();
}

llvm::Error WeightStore::unpermuteQK(llvm::StringRef name, int64_t numHeads) {
  llvm::Expected<Node *> node = findWeight(name, "unpermute");
  if (!node)
    return node.takeError();
  const WeightDesc &desc = (*node)->desc;
  if (desc.shape.empty() || numHeads <= 0 ||
      desc.shape[0] % (2 * numHeads) != 0)
    return makeError("weight '" + name + "': cannot unpermute " +
                     formatShape(desc.shape) + " for " + llvm::Twine(numHeads) +
                     " heads: rows must be heads x an even head size");
  Transform t{TransformKind::UnpermuteQK};
  t.numHeads = numHeads;
  // A 1-D weight (a bias) permutes single elements, which a block type
  // cannot do.
  if (!getAxisStrideBytes(desc, 0))
    return makeError("weight '" + name + "': cannot unpermute " +
                     getDTypeName(desc.dtype) +
                     " blocks of a 1-D weight; convert first");
  (*node)->transforms.push_back(t);
  return llvm::Error::success();
}

llvm::Error WeightStore::addConstant(llvm::StringRef name, float constant) {
  llvm::Expected<Node *> node = findWeight(name, "add a constant");
  if (!node)
    return node.takeError();
  DType dtype = (*node)->desc.dtype;
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    return makeError("weight '" + name + "': cannot add a constant to " +
                     getDTypeName(dtype) +
                     "; convert to F32, F16 or BF16 first");
  Transform t{TransformKind::AddConstant};
  t.constant = constant;
  (*node)->transforms.push_back(t);
  return llvm::Error::success();
}

llvm::Expected<WeightDesc> WeightStore::describe(llvm::StringRef name) const {
  auto it = weights.find(name);
  if (it == weights.end())
    return makeError("weight '" + name + "' is not declared");
  return it->second->desc;
}

llvm::Error
WeightStore::materialize(llvm::StringRef name,
                         llvm::MutableArrayRef<uint8_t> destination) const {
  auto it = weights.find(name);
  if (it == weights.end())
    return makeError("weight '" + name + "' is not declared");
  const Node &node = *it->second;
  if (destination.size() != node.desc.getBytes())
    return makeError(
        "weight '" + name + "' is " + getDTypeName(node.desc.dtype) + " " +
        formatShape(node.desc.shape) + " = " +
        llvm::Twine(node.desc.getBytes()) +
        " bytes, but the destination holds " + llvm::Twine(destination.size()));
  if (!destination.empty())
    materializeNode(node, destination);
  return llvm::Error::success();
}

} // namespace llmc::weights
