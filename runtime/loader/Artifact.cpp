//===- Artifact.cpp - opens, verifies and exposes a .llmc artifact --------===//

#include "runtime/loader/Artifact.h"

#include "runtime/support/Float8.h"

#include "runtime/schema/ArtifactHeader.h"
#include "runtime/schema/Checksum.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace llmc::loader {

namespace {

using artifact::alignUp;
using artifact::kSectionAlignment;

std::string hex64(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof(text), "0x%016" PRIx64, value);
  return text;
}

std::string str(const flatbuffers::String *text) {
  return text ? text->str() : std::string();
}

struct DTypeInfo {
  const char *name;
  uint32_t blockElements;
  uint32_t blockBytes;
};

// Indexed by fb::DType; sizes follow ggml for the block-quantized types.
constexpr DTypeInfo kDTypes[] = {
    {"F64", 1, 8},      {"F32", 1, 4},      {"F16", 1, 2},
    {"BF16", 1, 2},     {"F8_E4M3", 1, 1},  {"F8_E5M2", 1, 1},
    {"I64", 1, 8},      {"I32", 1, 4},      {"I16", 1, 2},
    {"I8", 1, 1},       {"U8", 1, 1},       {"BOOL", 1, 1},
    {"Q4_0", 32, 18},   {"Q4_1", 32, 20},   {"Q5_0", 32, 22},
    {"Q5_1", 32, 24},   {"Q8_0", 32, 34},   {"Q4_K", 256, 144},
    {"Q5_K", 256, 176}, {"Q6_K", 256, 210}, {"I4", 2, 1},
};
constexpr size_t kDTypeCount = sizeof(kDTypes) / sizeof(kDTypes[0]);
static_assert(kDTypeCount == size_t(fb::DType::MAX) + 1,
              "kDTypes must cover every DType of artifact.fbs");

bool validDType(fb::DType dtype) { return size_t(dtype) < kDTypeCount; }

/// Elements of `shape`, false on a negative dimension or overflow.
bool countElements(const flatbuffers::Vector<int64_t> *shape,
                   uint64_t &elements) {
  elements = 1;
  if (!shape)
    return true;
  for (int64_t dim : *shape) {
    if (dim < 0)
      return false;
    if (dim != 0 && elements > UINT64_MAX / uint64_t(dim))
      return false;
    elements *= uint64_t(dim);
  }
  return true;
}

/// FlatBuffers 2.0.8's verifier checks a vector's length field but not the
/// alignment of 8-byte elements after it, so a crafted file could make every
/// later read of a shape a misaligned load. Checked here for each such vector
/// (the FlatBuffer itself starts 8-aligned).
template <typename T> bool elementsAligned(const flatbuffers::Vector<T> *v) {
  static_assert(sizeof(T) == 8, "only 8-byte elements can be misaligned");
  // The builder does not align empty vectors, which have nothing to load.
  return !v || v->size() == 0 ||
         reinterpret_cast<uintptr_t>(v->data()) % alignof(T) == 0;
}

std::string formatShape(const flatbuffers::Vector<int64_t> *shape) {
  std::string text = "[";
  if (shape)
    for (size_t i = 0; i < shape->size(); ++i)
      text += (i ? ", " : "") + std::to_string(shape->Get(i));
  return text + "]";
}

/// The element types a synthetic tensor may have.
bool syntheticDType(fb::DType dtype) {
  switch (dtype) {
  case fb::DType::F32:
  case fb::DType::F16:
  case fb::DType::BF16:
  case fb::DType::F8E4M3:
  case fb::DType::F8E5M2:
  case fb::DType::I8:
  case fb::DType::I4:
    return true;
  default:
    return false;
  }
}

/// The largest code magnitude of a quantized type (1 for float types):
/// synthetic codes span it.
float quantizedMagnitude(fb::DType dtype) {
  switch (dtype) {
  case fb::DType::I8:
    return 127.0f;
  case fb::DType::I4:
    return 7.0f;
  case fb::DType::F8E4M3:
    return numeric::kE4M3Max;
  case fb::DType::F8E5M2:
    return numeric::kE5M2Max;
  default:
    return 1.0f;
  }
}

} // namespace

std::string_view dtypeName(fb::DType dtype) {
  return validDType(dtype) ? kDTypes[size_t(dtype)].name : "unknown";
}

bool storageBytes(fb::DType dtype, uint64_t elements, uint64_t &bytes) {
  if (!validDType(dtype))
    return false;
  const DTypeInfo &info = kDTypes[size_t(dtype)];
  if (dtype == fb::DType::I4) {
    bytes = elements / 2 + elements % 2;
    return true;
  }
  if (elements % info.blockElements != 0)
    return false;
  uint64_t blocks = elements / info.blockElements;
  if (blocks > UINT64_MAX / info.blockBytes)
    return false;
  bytes = blocks * info.blockBytes;
  return true;
}

Artifact::~Artifact() {
  if (mapping_)
    munmap(mapping_, size_);
}

Status Artifact::fail(const std::string &message) const {
  return Status::error(name_ + ": " + message);
}

Status Artifact::open(const std::string &path, const OpenOptions &options,
                      std::unique_ptr<Artifact> &out) {
  std::unique_ptr<Artifact> artifact(new Artifact());
  artifact->name_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return artifact->fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    return artifact->fail(std::string("cannot stat: ") + std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return artifact->fail("not a regular file");
  }
  artifact->size_ = uint64_t(info.st_size);
  if (artifact->size_ > 0) {
    void *mapping =
        mmap(nullptr, artifact->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      int error = errno;
      ::close(fd);
      return artifact->fail(std::string("cannot map: ") + std::strerror(error));
    }
    artifact->mapping_ = mapping;
    artifact->data_ = static_cast<const uint8_t *>(mapping);
  }
  ::close(fd);
  return finishOpen(std::move(artifact), options, out);
}

Status Artifact::fromMemory(const uint8_t *data, size_t size,
                            const std::string &name, const OpenOptions &options,
                            std::unique_ptr<Artifact> &out) {
  std::unique_ptr<Artifact> artifact(new Artifact());
  artifact->name_ = name;
  // uint64_t storage keeps the FlatBuffer 8-byte aligned for the verifier.
  artifact->ownedBytes_.resize((size + 7) / 8);
  if (size)
    std::memcpy(artifact->ownedBytes_.data(), data, size);
  artifact->data_ =
      reinterpret_cast<const uint8_t *>(artifact->ownedBytes_.data());
  artifact->size_ = size;
  return finishOpen(std::move(artifact), options, out);
}

Status Artifact::finishOpen(std::unique_ptr<Artifact> artifact,
                            const OpenOptions &options,
                            std::unique_ptr<Artifact> &out) {
  artifact->options_ = options;
  if (Status status = artifact->verifyHeader(); !status)
    return status;
  if (Status status = artifact->verifyContents(); !status)
    return status;
  size_t count = artifact->tensorCount();
  artifact->tensorVerified_.reset(new std::atomic<uint8_t>[count]);
  artifact->synthetic_.reset(new SyntheticSlot[count]);
  for (size_t i = 0; i < count; ++i)
    artifact->tensorVerified_[i].store(0, std::memory_order_relaxed);
  if (options.checksums == ChecksumPolicy::AtOpen)
    if (Status status = artifact->verifyAllChecksums(); !status)
      return status;
  out = std::move(artifact);
  return Status::success();
}

Status Artifact::verifyHeader() {
  using namespace artifact;
  if (size_ == 0)
    return fail("not an llmc artifact (empty file)");
  if (!hasMagic(data_, size_)) {
    std::string hint;
    if (size_ >= 4 && std::memcmp(data_, "GGUF", 4) == 0)
      hint = "; it is a GGUF model: compile it with `llmc compile` first";
    else if (size_ >= 9 && data_[8] == '{')
      hint = "; it looks like a safetensors checkpoint: compile it with "
             "`llmc compile` first";
    bool prefix =
        size_ < kMagicBytes && std::memcmp(data_, kMagic, size_t(size_)) == 0;
    if (prefix)
      return fail("truncated: the file is " + std::to_string(size_) +
                  " bytes, shorter than the " + std::to_string(kHeaderBytes) +
                  "-byte llmc header");
    return fail("not an llmc artifact (bad magic" + hint + ")");
  }
  if (size_ < header_offset::kFlatbufferOffset)
    return fail("truncated: the file is " + std::to_string(size_) +
                " bytes, shorter than the " + std::to_string(kHeaderBytes) +
                "-byte llmc header");
  // The version sits at a fixed offset in every format, so it is judged
  // before anything whose layout a newer major may have changed.
  uint16_t major =
      detail::readLittleEndian<uint16_t>(data_ + header_offset::kFormatMajor);
  uint16_t minor =
      detail::readLittleEndian<uint16_t>(data_ + header_offset::kFormatMinor);
  std::string version = std::to_string(major) + "." + std::to_string(minor);
  std::string supported = std::to_string(kFormatMajor) + ".x";
  if (major > kFormatMajor)
    return fail("artifact format " + version +
                " is newer than this runtime supports (" + supported +
                "); rebuild with llmc " LLMC_VERSION " or update llmc-runtime");
  if (major < kFormatMajor)
    return fail("artifact format " + version +
                " is older than this runtime supports (" + supported +
                "); rebuild with llmc " LLMC_VERSION);
  if (size_ < kHeaderBytes)
    return fail("truncated: the file is " + std::to_string(size_) +
                " bytes, shorter than the " + std::to_string(kHeaderBytes) +
                "-byte llmc header");
  FixedHeader header = decodeHeader(data_);
  if (xxhash64(data_, header_offset::kHeaderXxhash64) != header.headerXxhash64)
    return fail("corrupt header (checksum mismatch)");
  if (header.headerBytes != kHeaderBytes)
    return fail("corrupt header: header size " +
                std::to_string(header.headerBytes) + ", expected " +
                std::to_string(kHeaderBytes));
  if (header.flatbufferOffset < kHeaderBytes ||
      header.flatbufferOffset % 8 != 0)
    return fail("corrupt header: metadata offset " +
                std::to_string(header.flatbufferOffset));
  if (header.flatbufferOffset > size_ ||
      header.flatbufferBytes > size_ - header.flatbufferOffset)
    return fail("truncated: the metadata (offset " +
                std::to_string(header.flatbufferOffset) + ", " +
                std::to_string(header.flatbufferBytes) +
                " bytes) ends past the end of the file (size " +
                std::to_string(size_) + ")");
  const uint8_t *table = data_ + header.flatbufferOffset;
  if (xxhash64(table, header.flatbufferBytes) != header.flatbufferXxhash64)
    return fail("checksum mismatch in the metadata (FlatBuffer at offset " +
                std::to_string(header.flatbufferOffset) + ", " +
                std::to_string(header.flatbufferBytes) +
                " bytes); the file is corrupted");
  flatbuffers::Verifier verifier(table, header.flatbufferBytes,
                                 /*max_depth=*/64, /*max_tables=*/1u << 26);
  if (!VerifyArtifactBuffer(verifier))
    return fail("corrupt metadata: the FlatBuffer does not verify against "
                "artifact.fbs");
  root_ = GetArtifact(table);
  if (root_->format_major() != major || root_->format_minor() != minor)
    return fail("corrupt metadata: format " +
                std::to_string(root_->format_major()) + "." +
                std::to_string(root_->format_minor()) +
                " in the metadata but " + version + " in the header");
  fileBytesInHeader_ = header.fileBytes;
  return Status::success();
}

std::string Artifact::describeTensor(size_t index) const {
  const fb::Tensor *tensor = root_->tensors()->Get(index);
  const fb::BlobRef *data = tensor->data();
  std::string text = "tensor '" + str(tensor->name()) + "'";
  if (data)
    text += " (section " + std::to_string(data->section()) + ", offset " +
            std::to_string(data->offset()) + ", " +
            std::to_string(data->bytes()) + " bytes)";
  return text;
}

Status Artifact::verifyBlob(const fb::BlobRef &blob,
                            const std::string &what) const {
  const auto *sections = root_->sections();
  if (!sections || blob.section() >= sections->size())
    return fail("corrupt metadata: " + what + " refers to section " +
                std::to_string(blob.section()) + " of " +
                std::to_string(sections ? sections->size() : 0));
  const fb::Section *section = sections->Get(blob.section());
  if (blob.offset() % kSectionAlignment != 0)
    return fail("corrupt metadata: " + what + " is not aligned to " +
                std::to_string(kSectionAlignment) + " bytes");
  if (blob.offset() > section->bytes() ||
      blob.bytes() > section->bytes() - blob.offset())
    return fail("corrupt metadata: " + what + " ends past the end of its " +
                "section (" + std::to_string(section->bytes()) + " bytes)");
  // Section offsets are checked before blobs (verifyContents), so this sum
  // cannot overflow.
  uint64_t end = section->offset() + blob.offset() + blob.bytes();
  if (end > size_)
    return fail("truncated: " + what + " ends past the end of the file (size " +
                std::to_string(size_) + ")");
  return Status::success();
}

Status Artifact::verifyContents() {
  if (!root_->config())
    return fail("corrupt metadata: no model config");
  if (!root_->target() || !root_->target()->name())
    return fail("corrupt metadata: no target");

  // Sections: aligned, after the metadata, in order, not overlapping, and
  // with ends that do not overflow. Whether they fit in the file is checked
  // after the blobs, whose messages are more precise.
  uint64_t metadataEnd =
      alignUp(artifact::decodeHeader(data_).flatbufferOffset +
                  artifact::decodeHeader(data_).flatbufferBytes,
              kSectionAlignment);
  uint64_t previousEnd = metadataEnd;
  const auto *sections = root_->sections();
  size_t sectionCount = sections ? sections->size() : 0;
  for (size_t i = 0; i < sectionCount; ++i) {
    const fb::Section *section = sections->Get(i);
    std::string what = "section " + std::to_string(i) + " (offset " +
                       std::to_string(section->offset()) + ", " +
                       std::to_string(section->bytes()) + " bytes)";
    if (section->alignment() != kSectionAlignment)
      return fail("corrupt metadata: " + what + " has alignment " +
                  std::to_string(section->alignment()) + ", expected " +
                  std::to_string(kSectionAlignment));
    if (section->offset() % kSectionAlignment != 0)
      return fail("corrupt metadata: " + what + " is not aligned to " +
                  std::to_string(kSectionAlignment) + " bytes");
    if (section->offset() < previousEnd)
      return fail("corrupt metadata: " + what +
                  " overlaps the metadata or the previous section");
    if (section->bytes() > UINT64_MAX / 2 || section->offset() > UINT64_MAX / 2)
      return fail("corrupt metadata: " + what + " is impossibly large");
    previousEnd = section->offset() + section->bytes();
  }

  // Tensors.
  const auto *tensors = root_->tensors();
  size_t tensorCount = tensors ? tensors->size() : 0;
  sortedNames_.clear();
  sortedNames_.reserve(tensorCount);
  for (size_t i = 0; i < tensorCount; ++i) {
    const fb::Tensor *tensor = tensors->Get(i);
    if (!tensor->name() || tensor->name()->size() == 0)
      return fail("corrupt metadata: tensor " + std::to_string(i) +
                  " has no name");
    std::string what = describeTensor(i);
    if (!elementsAligned(tensor->shape()) ||
        (tensor->quant() && !elementsAligned(tensor->quant()->block_shape())))
      return fail("corrupt metadata: " + what + " has a misaligned shape");
    bool synthetic = tensor->synthetic_seed().has_value();
    if (synthetic && tensor->data())
      return fail("corrupt metadata: " + what +
                  " is synthetic but also has data");
    if (!synthetic && !tensor->data())
      return fail("corrupt metadata: " + what + " has no data");
    if (synthetic && !syntheticDType(tensor->dtype()))
      return fail("corrupt metadata: " + what + " is synthetic with dtype " +
                  std::string(dtypeName(tensor->dtype())) +
                  "; synthetic tensors are F32, F16, BF16, F8_E4M3, F8_E5M2, "
                  "I8 or I4");
    if (!validDType(tensor->dtype()))
      return fail("corrupt metadata: " + what + " has unknown dtype " +
                  std::to_string(int(tensor->dtype())));
    uint64_t elements = 0, bytes = 0;
    if (!countElements(tensor->shape(), elements) ||
        !storageBytes(tensor->dtype(), elements, bytes))
      return fail("corrupt metadata: " + what + " has an invalid shape " +
                  formatShape(tensor->shape()) + " for " +
                  std::string(dtypeName(tensor->dtype())));
    if (synthetic && bytes > (uint64_t(1) << 40))
      return fail("corrupt metadata: " + what + " is synthetic and " +
                  std::to_string(bytes) + " bytes, impossibly large");
    if (!synthetic && bytes != tensor->data()->bytes())
      return fail("corrupt metadata: " + what + " should hold " +
                  std::to_string(bytes) + " bytes for " +
                  std::string(dtypeName(tensor->dtype())) + " " +
                  formatShape(tensor->shape()));
    if (!synthetic)
      if (Status status = verifyBlob(*tensor->data(), what); !status)
        return status;
    if (const fb::QuantParams *quant = tensor->quant())
      for (int32_t ref : {quant->scale_tensor(), quant->zero_point_tensor()})
        if (ref < -1 || ref >= int64_t(tensorCount))
          return fail("corrupt metadata: " + what +
                      " refers to quantization tensor " + std::to_string(ref) +
                      " of " + std::to_string(tensorCount));
    sortedNames_.emplace_back(tensor->name()->string_view(), uint32_t(i));
  }
  std::sort(sortedNames_.begin(), sortedNames_.end());
  for (size_t i = 1; i < sortedNames_.size(); ++i)
    if (sortedNames_[i].first == sortedNames_[i - 1].first)
      return fail("corrupt metadata: tensor '" +
                  std::string(sortedNames_[i].first) + "' appears twice");

  // Kernels.
  const auto *modules = root_->kernel_modules();
  size_t moduleCount = modules ? modules->size() : 0;
  for (size_t i = 0; i < moduleCount; ++i) {
    const fb::KernelModule *module = modules->Get(i);
    std::string what = "kernel module " + std::to_string(i) + " (sm_" +
                       str(module->sm()) + ")";
    if (module->cubin())
      if (Status status = verifyBlob(*module->cubin(), what + " cubin");
          !status)
        return status;
    if (module->ptx())
      if (Status status = verifyBlob(*module->ptx(), what + " PTX"); !status)
        return status;
  }
  const auto *kernels = root_->kernels();
  size_t kernelCount = kernels ? kernels->size() : 0;
  for (size_t i = 0; i < kernelCount; ++i) {
    const fb::Kernel *kernel = kernels->Get(i);
    if (kernel->module_index() >= moduleCount)
      return fail("corrupt metadata: kernel '" + str(kernel->name()) +
                  "' refers to module " +
                  std::to_string(kernel->module_index()) + " of " +
                  std::to_string(moduleCount));
    // A backend looks the entry up in its module by name; a module that
    // lists its entries must list this one.
    const auto *entries = modules->Get(kernel->module_index())->entries();
    if (!kernel->entry() || kernel->entry()->size() == 0)
      return fail("corrupt metadata: kernel '" + str(kernel->name()) +
                  "' has no entry point");
    if (entries && entries->size() > 0 &&
        std::none_of(entries->begin(), entries->end(),
                     [&](const flatbuffers::String *entry) {
                       return entry->string_view() ==
                              kernel->entry()->string_view();
                     }))
      return fail("corrupt metadata: kernel '" + str(kernel->name()) +
                  "': module " + std::to_string(kernel->module_index()) +
                  " has no entry '" + str(kernel->entry()) + "'");
  }

  // Plans: every index resolves and every buffer fits its arena.
  const auto *plans = root_->plans();
  size_t planCount = plans ? plans->size() : 0;
  for (size_t p = 0; p < planCount; ++p) {
    const fb::RankPlan *plan = plans->Get(p);
    std::string rank = "plan of rank " + std::to_string(plan->rank());
    const auto *arenas = plan->arenas();
    size_t arenaCount = arenas ? arenas->size() : 0;
    for (size_t a = 0; a < arenaCount; ++a) {
      const fb::Arena *arena = arenas->Get(a);
      if (arena->kind() > fb::ArenaKind::MAX)
        return fail("corrupt metadata: " + rank + ": arena '" +
                    str(arena->name()) + "' has unknown kind " +
                    std::to_string(int(arena->kind())));
      uint64_t alignment = arena->alignment();
      if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return fail("corrupt metadata: " + rank + ": arena '" +
                    str(arena->name()) + "' has alignment " +
                    std::to_string(alignment) + ", not a power of two");
    }
    auto checkBuffer = [&](const fb::Buffer *buffer,
                           const std::string &where) -> Status {
      if (!buffer)
        return fail("corrupt metadata: " + rank + ": " + where +
                    " has no buffer");
      if (!elementsAligned(buffer->shape()))
        return fail("corrupt metadata: " + rank + ": " + where +
                    " has a misaligned shape");
      if (buffer->arena() >= arenaCount)
        return fail("corrupt metadata: " + rank + ": " + where +
                    " uses arena " + std::to_string(buffer->arena()) + " of " +
                    std::to_string(arenaCount));
      uint64_t elements = 0, bytes = 0;
      if (!countElements(buffer->shape(), elements) ||
          !storageBytes(buffer->dtype(), elements, bytes))
        return fail("corrupt metadata: " + rank + ": " + where +
                    " has an invalid shape or dtype");
      if (buffer->token_rows() &&
          (plan->max_tokens() == 0 || !buffer->shape() ||
           buffer->shape()->size() == 0 ||
           buffer->shape()->Get(0) % int64_t(plan->max_tokens()) != 0))
        return fail("corrupt metadata: " + rank + ": " + where +
                    " has token rows but its leading dimension is not a "
                    "multiple of max_tokens (" +
                    std::to_string(plan->max_tokens()) + ")");
      const fb::Arena *arena = arenas->Get(buffer->arena());
      if (buffer->offset() > arena->bytes() ||
          bytes > arena->bytes() - buffer->offset())
        return fail("corrupt metadata: " + rank + ": " + where + " (" +
                    std::to_string(bytes) + " bytes at offset " +
                    std::to_string(buffer->offset()) +
                    ") does not fit arena '" + str(arena->name()) + "' (" +
                    std::to_string(arena->bytes()) + " bytes)");
      return Status::success();
    };
    if (const auto *loads = plan->weight_loads())
      for (const fb::WeightLoad *load : *loads) {
        if (load->tensor() >= tensorCount || load->arena() >= arenaCount)
          return fail("corrupt metadata: " + rank +
                      ": a weight load refers to tensor " +
                      std::to_string(load->tensor()) + " / arena " +
                      std::to_string(load->arena()) + " out of range");
        uint64_t bytes = tensorBytes(load->tensor());
        const fb::Arena *arena = arenas->Get(load->arena());
        if (load->offset() > arena->bytes() ||
            bytes > arena->bytes() - load->offset())
          return fail("corrupt metadata: " + rank + ": " +
                      describeTensor(load->tensor()) + " at offset " +
                      std::to_string(load->offset()) + " does not fit arena '" +
                      str(arena->name()) + "'");
      }
    const auto *steps = plan->steps();
    size_t stepCount = steps ? steps->size() : 0;
    for (size_t s = 0; s < stepCount; ++s) {
      const fb::Step *step = steps->Get(s);
      std::string where = "step " + std::to_string(s);
      auto checkBuffers =
          [&](const flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>> *list,
              const std::string &what) -> Status {
        if (list)
          for (size_t i = 0; i < list->size(); ++i)
            if (Status status = checkBuffer(
                    list->Get(i), where + " " + what + " " + std::to_string(i));
                !status)
              return status;
        return Status::success();
      };
      // A launch, as the step's op or one of its `launches`.
      auto checkLaunch = [&](const fb::LaunchStep *launch,
                             const std::string &what) -> Status {
        if (!launch)
          return fail("corrupt metadata: " + rank + ": " + what +
                      " is missing");
        if (launch->kernel() >= kernelCount)
          return fail("corrupt metadata: " + rank + ": " + what +
                      " launches kernel " + std::to_string(launch->kernel()) +
                      " of " + std::to_string(kernelCount));
        if (!launch->grid() || launch->grid()->size() != 3 ||
            !launch->block() || launch->block()->size() != 3)
          return fail("corrupt metadata: " + rank + ": " + what +
                      " needs a 3-D grid and block");
        for (size_t d = 0; d < 3; ++d)
          if (launch->grid()->Get(d) == 0 || launch->block()->Get(d) == 0)
            return fail("corrupt metadata: " + rank + ": " + what +
                        " has an empty grid or block");
        if (const auto *scale = launch->grid_token_scale()) {
          if (scale->size() != 6)
            return fail("corrupt metadata: " + rank + ": " + what +
                        " has a grid_token_scale of " +
                        std::to_string(scale->size()) +
                        " values, not 3 pairs (n, d)");
          // n = 0 (static) ignores d.
          for (size_t n = 0; n < 6; n += 2)
            if (scale->Get(n) > 0 && scale->Get(n + 1) == 0)
              return fail("corrupt metadata: " + rank + ": " + what +
                          " divides the grid by 0 tokens");
        }
        if (!elementsAligned(launch->token_args()))
          return fail("corrupt metadata: " + rank + ": " + what +
                      " has misaligned token arguments");
        if (const auto *extra = launch->extra_args())
          for (fb::LaunchArg arg : *extra)
            if (arg > fb::LaunchArg::MAX)
              return fail(rank + ": " + what + " passes a runtime argument " +
                          "this runtime does not know (" +
                          std::to_string(int(arg)) + "); update llmc-runtime");
        if (launch->max_tokens() != 0 &&
            launch->min_tokens() > launch->max_tokens())
          return fail("corrupt metadata: " + rank + ": " + what +
                      " runs for no token count (min_tokens " +
                      std::to_string(launch->min_tokens()) + " > max_tokens " +
                      std::to_string(launch->max_tokens()) + ")");
        const auto *args = launch->args();
        for (size_t i = 0; args && i < args->size(); ++i)
          if (Status status = checkBuffer(args->Get(i), what + " argument " +
                                                            std::to_string(i));
              !status)
            return status;
        return Status::success();
      };
      // The verifier accepts a union whose type is set but whose table is
      // absent; every op_as_*() below may then be null.
      if (!step->op())
        return fail("corrupt metadata: " + rank + ": " + where +
                    " has no operation");
      if (const auto *launches = step->launches()) {
        if (step->op_type() != fb::StepOp::ComputeStep &&
            step->op_type() != fb::StepOp::GemmStep && launches->size() > 0)
          return fail("corrupt metadata: " + rank + ": " + where +
                      " has launches but is not a compute or GEMM step");
        for (size_t l = 0; l < launches->size(); ++l)
          if (Status status = checkLaunch(
                  launches->Get(l), where + " launch " + std::to_string(l));
              !status)
            return status;
      }
      switch (step->op_type()) {
      case fb::StepOp::LaunchStep: {
        if (Status status = checkLaunch(step->op_as_LaunchStep(), where);
            !status)
          return status;
        break;
      }
      case fb::StepOp::GemmStep: {
        const fb::GemmStep *gemm = step->op_as_GemmStep();
        if (gemm->backend() > fb::GemmBackend::MAX)
          return fail("corrupt metadata: " + rank + ": " + where +
                      " has an unknown GEMM backend");
        for (auto [buffer, what] :
             {std::pair{gemm->a(), "A"}, {gemm->b(), "B"}, {gemm->c(), "C"}})
          if (Status status = checkBuffer(buffer, where + " " + what); !status)
            return status;
        for (auto [buffer, what] : {std::pair{gemm->scale_a(), "scale_a"},
                                    {gemm->scale_b(), "scale_b"},
                                    {gemm->zero_b(), "zero_b"}})
          if (buffer)
            if (Status status = checkBuffer(buffer, where + " " + what);
                !status)
              return status;
        break;
      }
      case fb::StepOp::CollectiveStep: {
        const fb::CollectiveStep *collective = step->op_as_CollectiveStep();
        if (!elementsAligned(collective->group()))
          return fail("corrupt metadata: " + rank + ": " + where +
                      " has a misaligned group");
        if (collective->kind() > fb::CollectiveKind::MAX ||
            collective->reduction() > fb::ReductionKind::MAX)
          return fail("corrupt metadata: " + rank + ": " + where +
                      " has an unknown collective");
        if (Status status = checkBuffer(collective->buffer(), where); !status)
          return status;
        if (collective->output())
          if (Status status =
                  checkBuffer(collective->output(), where + " output");
              !status)
            return status;
        break;
      }
      case fb::StepOp::HostStep:
        if (Status status =
                checkBuffers(step->op_as_HostStep()->args(), "argument");
            !status)
          return status;
        break;
      case fb::StepOp::ComputeStep: {
        const fb::ComputeStep *compute = step->op_as_ComputeStep();
        if (!compute->name() || compute->name()->size() == 0)
          return fail("corrupt metadata: " + rank + ": " + where +
                      " is a compute step without a name");
        if (Status status = checkBuffers(compute->inputs(), "input"); !status)
          return status;
        if (Status status = checkBuffers(compute->outputs(), "output"); !status)
          return status;
        break;
      }
      default:
        return fail(rank + ": " + where + " has a kind this runtime does " +
                    "not know (" + std::to_string(int(step->op_type())) +
                    "); update llmc-runtime");
      }
    }
    for (const auto *list : {plan->inputs(), plan->outputs()}) {
      if (!list)
        continue;
      const char *kind = list == plan->inputs() ? "input" : "output";
      for (size_t i = 0; i < list->size(); ++i) {
        const fb::NamedBuffer *named = list->Get(i);
        std::string what = std::string(kind) + " '" + str(named->name()) + "'";
        if (!named->name() || named->name()->size() == 0)
          return fail("corrupt metadata: " + rank + ": " + kind + " " +
                      std::to_string(i) + " has no name");
        if (Status status = checkBuffer(named->buffer(), what); !status)
          return status;
      }
    }
  }

  // Tokenizer: per-token vectors match the vocabulary, ids are in range.
  if (const fb::Tokenizer *tok = root_->tokenizer();
      tok && !hasHuggingFaceTokenizer()) {
    size_t vocab = tok->tokens() ? tok->tokens()->size() : 0;
    if (tok->scores() && tok->scores()->size() != 0 &&
        tok->scores()->size() != vocab)
      return fail("corrupt metadata: tokenizer has " +
                  std::to_string(tok->scores()->size()) + " scores for " +
                  std::to_string(vocab) + " tokens");
    if (tok->token_types() && tok->token_types()->size() != 0 &&
        tok->token_types()->size() != vocab)
      return fail("corrupt metadata: tokenizer has " +
                  std::to_string(tok->token_types()->size()) +
                  " token types for " + std::to_string(vocab) + " tokens");
    for (int32_t id :
         {tok->bos_id(), tok->eos_id(), tok->unknown_id(), tok->padding_id()})
      if (id < -1 || id >= int64_t(vocab))
        return fail("corrupt metadata: tokenizer special id " +
                    std::to_string(id) + " out of range (" +
                    std::to_string(vocab) + " tokens)");
  }

  // Now that every blob fits, the sections and the file size as written.
  for (size_t i = 0; i < sectionCount; ++i) {
    const fb::Section *section = sections->Get(i);
    if (section->offset() + section->bytes() > size_)
      return fail("truncated: section " + std::to_string(i) + " (offset " +
                  std::to_string(section->offset()) + ", " +
                  std::to_string(section->bytes()) +
                  " bytes) ends past the end of the file (size " +
                  std::to_string(size_) + ")");
  }
  if (size_ < fileBytesInHeader_)
    return fail("truncated: the file is " + std::to_string(size_) +
                " bytes but was written as " +
                std::to_string(fileBytesInHeader_));
  if (size_ > fileBytesInHeader_)
    return fail("the file is " + std::to_string(size_) +
                " bytes but was written as " +
                std::to_string(fileBytesInHeader_) +
                " (bytes appended after the artifact)");
  return Status::success();
}

const uint8_t *Artifact::blobData(const fb::BlobRef &blob) const {
  return data_ + root_->sections()->Get(blob.section())->offset() +
         blob.offset();
}

Status Artifact::checkBlobChecksum(const fb::BlobRef &blob,
                                   const std::string &what) const {
  uint64_t actual = artifact::xxhash64(blobData(blob), blob.bytes());
  if (actual != blob.xxhash64())
    return fail("checksum mismatch in " + what + ": expected xxhash64 " +
                hex64(blob.xxhash64()) + ", got " + hex64(actual) +
                "; the file is corrupted");
  return Status::success();
}

Status Artifact::verifyTensor(size_t index) const {
  if (index >= tensorCount())
    return fail("no tensor " + std::to_string(index));
  if (isSynthetic(index))
    return Status::success();
  if (tensorVerified_[index].load(std::memory_order_acquire))
    return Status::success();
  const fb::Tensor *tensor = root_->tensors()->Get(index);
  if (Status status = checkBlobChecksum(*tensor->data(), describeTensor(index));
      !status)
    return status;
  tensorVerified_[index].store(1, std::memory_order_release);
  return Status::success();
}

Status Artifact::verifyAllChecksums() const {
  for (size_t i = 0; i < tensorCount(); ++i)
    if (Status status = verifyTensor(i); !status)
      return status;
  const auto *modules = root_->kernel_modules();
  for (size_t i = 0; modules && i < modules->size(); ++i) {
    const fb::KernelModule *module = modules->Get(i);
    std::string what = "kernel module " + std::to_string(i) + " (sm_" +
                       str(module->sm()) + ")";
    if (module->cubin())
      if (Status status = checkBlobChecksum(*module->cubin(), what + " cubin");
          !status)
        return status;
    if (module->ptx())
      if (Status status = checkBlobChecksum(*module->ptx(), what + " PTX");
          !status)
        return status;
  }
  return Status::success();
}

size_t Artifact::tensorCount() const {
  return root_->tensors() ? root_->tensors()->size() : 0;
}

TensorRef Artifact::tensor(size_t index) const {
  const fb::Tensor *table = root_->tensors()->Get(index);
  TensorRef ref;
  ref.index = uint32_t(index);
  ref.name = table->name()->string_view();
  ref.dtype = table->dtype();
  if (table->shape())
    ref.shape.assign(table->shape()->begin(), table->shape()->end());
  ref.bytes = tensorBytes(index);
  ref.table = table;
  if (table->synthetic_seed()) {
    ref.synthetic = true;
    SyntheticSlot &slot = synthetic_[index];
    std::call_once(slot.once, [&] {
      slot.bytes.reset(new uint64_t[(ref.bytes + 7) / 8 + 1]);
      uint8_t *out = reinterpret_cast<uint8_t *>(slot.bytes.get());
      // The scales and zero points of a quantized weight are not random:
      // they make its real values spread like a float synthetic weight's.
      const fb::Tensor *owner = nullptr;
      bool isScale = false;
      for (const fb::Tensor *candidate : *root_->tensors())
        if (const fb::QuantParams *quant = candidate->quant()) {
          if (quant->scale_tensor() == int32_t(index))
            owner = candidate, isScale = true;
          else if (quant->zero_point_tensor() == int32_t(index))
            owner = candidate;
        }
      if (owner && owner->shape() && owner->shape()->size() > 0) {
        std::memset(out, 0, ref.bytes);
        float fanIn = float(std::max<int64_t>(
            owner->shape()->Get(owner->shape()->size() - 1), 1));
        float scale = 1.0f / (quantizedMagnitude(owner->dtype()) *
                              std::sqrt(fanIn));
        if (isScale && table->dtype() == fb::DType::F32)
          for (uint64_t i = 0; i < ref.bytes / 4; ++i)
            std::memcpy(out + 4 * i, &scale, 4);
      } else {
        fillSyntheticTensor(table->dtype(), ref.shape,
                            *table->synthetic_seed(), out, ref.bytes);
      }
    });
    ref.data = reinterpret_cast<const uint8_t *>(slot.bytes.get());
    return ref;
  }
  ref.data = blobData(*table->data());
  return ref;
}

uint64_t Artifact::tensorBytes(size_t index) const {
  const fb::Tensor *table = root_->tensors()->Get(index);
  if (table->data())
    return table->data()->bytes();
  // Synthetic: validated at open.
  uint64_t elements = 0, bytes = 0;
  countElements(table->shape(), elements);
  storageBytes(table->dtype(), elements, bytes);
  return bytes;
}

bool Artifact::isSynthetic(size_t index) const {
  return root_->tensors()->Get(index)->synthetic_seed().has_value();
}

size_t Artifact::syntheticTensorCount() const {
  size_t count = 0;
  for (size_t i = 0; i < tensorCount(); ++i)
    count += isSynthetic(i);
  return count;
}

namespace {

uint16_t roundToHalf(float value) {
  // IEEE binary16, round to nearest even (values here are small and finite).
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  float magnitude = std::fabs(value);
  if (magnitude < 6.103515625e-05f) {
    // Subnormal: multiples of 2^-24.
    return uint16_t(sign | uint32_t(std::nearbyint(magnitude * 16777216.0f)));
  }
  uint32_t abs = bits & 0x7fffffffu;
  uint32_t exponent = (abs >> 23) - 127 + 15;
  uint32_t mantissa = abs & 0x7fffffu;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1)))
    ++half;
  return uint16_t(sign | half);
}

uint16_t roundToBfloat16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7fffu + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

} // namespace

bool fillSyntheticTensor(fb::DType dtype, const std::vector<int64_t> &shape,
                         uint64_t seed, uint8_t *out, uint64_t bytes) {
  if (!syntheticDType(dtype))
    return false;
  const bool quantized = quantizedMagnitude(dtype) != 1.0f;
  size_t width = dtype == fb::DType::F32                               ? 4
                 : dtype == fb::DType::F16 || dtype == fb::DType::BF16 ? 2
                                                                       : 1;
  int64_t fanIn = shape.empty() ? 1 : std::max<int64_t>(shape.back(), 1);
  // Quantized codes span the format's range; their scale tensor brings
  // them back to the float spread.
  float scale = quantized ? quantizedMagnitude(dtype)
                          : float(1.0 / std::sqrt(double(fanIn)));
  uint64_t state = seed;
  uint64_t count = dtype == fb::DType::I4 ? bytes * 2 : bytes / width;
  if (dtype == fb::DType::I4)
    std::memset(out, 0, bytes);
  for (uint64_t i = 0; i < count; ++i) {
    // SplitMix64.
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    float unit = float(z >> 40) * (1.0f / 16777216.0f);
    float value = (2.0f * unit - 1.0f) * scale;
    if (dtype == fb::DType::I8) {
      out[i] = uint8_t(int8_t(std::lrint(value)));
    } else if (dtype == fb::DType::I4) {
      uint8_t nibble = uint8_t(std::lrint(value)) & 0x0f;
      out[i / 2] |= i % 2 ? uint8_t(nibble << 4) : nibble;
    } else if (quantized) {
      out[i] = numeric::floatToFp8Saturate(
          value, dtype == fb::DType::F8E4M3 ? numeric::Fp8Format::E4M3FN
                                            : numeric::Fp8Format::E5M2);
    } else if (width == 4) {
      std::memcpy(out + 4 * i, &value, 4);
    } else {
      uint16_t half =
          dtype == fb::DType::F16 ? roundToHalf(value) : roundToBfloat16(value);
      out[2 * i] = uint8_t(half);
      out[2 * i + 1] = uint8_t(half >> 8);
    }
  }
  return true;
}

Status Artifact::findTensor(std::string_view name, TensorRef &out) const {
  auto it =
      std::lower_bound(sortedNames_.begin(), sortedNames_.end(), name,
                       [](const std::pair<std::string_view, uint32_t> &entry,
                          std::string_view key) { return entry.first < key; });
  if (it == sortedNames_.end() || it->first != name)
    return fail("no tensor named '" + std::string(name) + "'");
  if (options_.checksums == ChecksumPolicy::Lazy)
    if (Status status = verifyTensor(it->second); !status)
      return status;
  out = tensor(it->second);
  return Status::success();
}

uint64_t Artifact::totalTensorBytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < tensorCount(); ++i)
    total += tensorBytes(i);
  return total;
}

uint64_t Artifact::storedTensorBytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < tensorCount(); ++i)
    if (const fb::BlobRef *data = root_->tensors()->Get(i)->data())
      total += data->bytes();
  return total;
}

Status Artifact::kernelModuleBlobs(size_t index, const uint8_t *&cubin,
                                   uint64_t &cubinBytes, const uint8_t *&ptx,
                                   uint64_t &ptxBytes) const {
  const auto *modules = root_->kernel_modules();
  if (!modules || index >= modules->size())
    return fail("no kernel module " + std::to_string(index));
  const fb::KernelModule *module = modules->Get(index);
  std::string what = "kernel module " + std::to_string(index) + " (sm_" +
                     str(module->sm()) + ")";
  cubin = ptx = nullptr;
  cubinBytes = ptxBytes = 0;
  if (module->cubin()) {
    if (options_.checksums == ChecksumPolicy::Lazy)
      if (Status status = checkBlobChecksum(*module->cubin(), what + " cubin");
          !status)
        return status;
    cubin = blobData(*module->cubin());
    cubinBytes = module->cubin()->bytes();
  }
  if (module->ptx()) {
    if (options_.checksums == ChecksumPolicy::Lazy)
      if (Status status = checkBlobChecksum(*module->ptx(), what + " PTX");
          !status)
        return status;
    ptx = blobData(*module->ptx());
    ptxBytes = module->ptx()->bytes();
  }
  return Status::success();
}

size_t Artifact::kernelModuleCount() const {
  return root_->kernel_modules() ? root_->kernel_modules()->size() : 0;
}

const fb::KernelModule &Artifact::kernelModule(size_t index) const {
  return *root_->kernel_modules()->Get(index);
}

size_t Artifact::kernelCount() const {
  return root_->kernels() ? root_->kernels()->size() : 0;
}

const fb::Kernel &Artifact::kernel(size_t index) const {
  return *root_->kernels()->Get(index);
}

size_t Artifact::launchCount(const fb::Step &step) {
  return step.launches() ? step.launches()->size() : 0;
}

const fb::LaunchStep &Artifact::launch(const fb::Step &step, size_t index) {
  return *step.launches()->Get(index);
}

bool Artifact::launchRunsFor(const fb::LaunchStep &launch, uint32_t tokens) {
  return launch.min_tokens() <= tokens &&
         (launch.max_tokens() == 0 || tokens <= launch.max_tokens());
}

bool Artifact::gpuBackendRuns(const fb::Step &step) {
  if (launchCount(step) > 0)
    return true;
  switch (step.op_type()) {
  case fb::StepOp::LaunchStep:
  case fb::StepOp::HostStep:
  case fb::StepOp::CollectiveStep:
    return true;
  case fb::StepOp::GemmStep:
    return step.op_as_GemmStep()->backend() == fb::GemmBackend::CublasLt;
  default:
    return false;
  }
}

const fb::RankPlan *Artifact::plan(uint32_t rank) const {
  if (const auto *plans = root_->plans())
    for (const fb::RankPlan *plan : *plans)
      if (plan->rank() == rank)
        return plan;
  return nullptr;
}

std::string_view Artifact::producer() const {
  return root_->producer() ? root_->producer()->string_view() : "";
}
std::string_view Artifact::quantization() const {
  return root_->quantization() ? root_->quantization()->string_view() : "";
}
std::string_view Artifact::targetName() const {
  return root_->target()->name()->string_view();
}
std::string_view Artifact::targetArchitecture() const {
  const auto *text = root_->target()->architecture();
  return text ? text->string_view() : "";
}
std::string_view Artifact::targetSm() const {
  const auto *text = root_->target()->sm();
  return text ? text->string_view() : "";
}

std::string Artifact::describeTarget() const {
  std::string text =
      std::string(targetName()) + " (" + std::string(targetArchitecture());
  if (!targetSm().empty())
    text += ", sm_" + std::string(targetSm());
  return text + ")";
}

Status Artifact::checkTarget(std::string_view name) const {
  if (targetName() == name)
    return Status::success();
  return fail("artifact targets " + describeTarget() + " but this device is " +
              std::string(name) +
              "; recompile with llmc compile --target=" + std::string(name));
}

bool Artifact::hasHuggingFaceTokenizer() const {
  const fb::Tokenizer *tok = root_->tokenizer();
  return tok && tok->hf_tokenizer_json() &&
         tok->hf_tokenizer_json()->size() != 0;
}

std::string_view Artifact::hfTokenizerJson() const {
  const fb::Tokenizer *tok = root_->tokenizer();
  return tok && tok->hf_tokenizer_json()
             ? tok->hf_tokenizer_json()->string_view()
             : std::string_view();
}

std::string_view Artifact::hfTokenizerConfigJson() const {
  const fb::Tokenizer *tok = root_->tokenizer();
  return tok && tok->hf_tokenizer_config_json()
             ? tok->hf_tokenizer_config_json()->string_view()
             : std::string_view();
}

Status
Artifact::loadTokenizer(std::unique_ptr<tokenizer::Tokenizer> &out) const {
  if (!hasTokenizer())
    return Status::error(name_ + ": the artifact has no tokenizer");
  if (hasHuggingFaceTokenizer())
    return tokenizer::Tokenizer::fromHuggingFaceJson(
        std::string(hfTokenizerJson()), std::string(hfTokenizerConfigJson()),
        out);
  tokenizer::TokenizerVectors vectors;
  if (Status status = tokenizerVectors(vectors); !status.ok())
    return status;
  return tokenizer::Tokenizer::fromVectors(vectors, out);
}

Status Artifact::tokenizerVectors(tokenizer::TokenizerVectors &out) const {
  const fb::Tokenizer *tok = root_->tokenizer();
  if (!tok)
    return fail("the artifact has no tokenizer");
  if (hasHuggingFaceTokenizer())
    return fail("the artifact's tokenizer is a Hugging Face tokenizer.json, "
                "not the vectors form; build it from hfTokenizerJson()");
  out = tokenizer::TokenizerVectors();
  out.model = tok->kind() == fb::TokenizerKind::Llama
                  ? tokenizer::ModelKind::SentencePieceBpe
                  : tokenizer::ModelKind::ByteLevelBpe;
  out.preTokenizer = str(tok->pre_tokenizer());
  if (tok->tokens())
    for (const flatbuffers::String *token : *tok->tokens())
      out.tokens.push_back(str(token));
  if (tok->merges())
    for (const flatbuffers::String *merge : *tok->merges())
      out.merges.push_back(str(merge));
  if (tok->scores())
    out.scores.assign(tok->scores()->begin(), tok->scores()->end());
  if (tok->token_types())
    for (int32_t type : *tok->token_types())
      out.tokenTypes.push_back(static_cast<tokenizer::TokenType>(type));
  out.bosId = tok->bos_id();
  out.eosId = tok->eos_id();
  out.unknownId = tok->unknown_id();
  out.paddingId = tok->padding_id();
  out.addBos = tok->add_bos();
  out.addEos = tok->add_eos();
  out.addSpacePrefix = tok->add_space_prefix();
  out.chatTemplate = str(tok->chat_template());
  return Status::success();
}

} // namespace llmc::loader
