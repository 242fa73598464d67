//===- Calibration.cpp - reading llmc-calibration-1 files -----------------===//

#include "passes/Calibration.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/EndianStream.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;

namespace llmc {

llvm::Error writeCalibration(StringRef path, const Calibration &calibration) {
  llvm::json::Object inputs;
  for (const auto &entry : calibration.inputs) {
    llvm::json::Array channels;
    for (float value : entry.second.channelAbsMax)
      channels.push_back(static_cast<double>(value));
    llvm::json::Object input{
        {"absmax", static_cast<double>(entry.second.absMax)}};
    if (!entry.second.channelAbsMax.empty())
      input["channel_absmax"] = std::move(channels);
    inputs[entry.first()] = std::move(input);
  }
  llvm::json::Object root{{"format", "llmc-calibration-1"},
                          {"model", calibration.model},
                          {"tokens", calibration.tokens},
                          {"inputs", std::move(inputs)}};
  if (!calibration.key.empty())
    root["key"] = calibration.key;
  if (!calibration.gramPath.empty())
    root["gram_file"] = llvm::sys::path::filename(calibration.gramPath).str();
  std::string temporary = (path + ".tmp").str();
  {
    std::error_code error;
    llvm::raw_fd_ostream os(temporary, error);
    if (error)
      return llvm::createStringError(error, "cannot write calibration file '" +
                                                temporary +
                                                "': " + error.message());
    os << llvm::json::Value(std::move(root)) << "\n";
    os.close();
    if (os.has_error())
      return llvm::createStringError(os.error(),
                                     "cannot write calibration file '" +
                                         temporary +
                                         "': " + os.error().message());
  }
  if (std::error_code error = llvm::sys::fs::rename(temporary, path))
    return llvm::createStringError(error, "cannot write calibration file '" +
                                              path + "': " + error.message());
  return llvm::Error::success();
}

FailureOr<Calibration> loadCalibration(StringRef path, Location loc) {
  auto fail = [&](const Twine &message) {
    emitError(loc, "calibration file '") << path << "': " << message;
    return failure();
  };
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fail("cannot read it: " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return fail("not JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail("expected a JSON object at the top");
  std::optional<StringRef> format = root->getString("format");
  if (!format || *format != "llmc-calibration-1")
    return fail("\"format\" must be \"llmc-calibration-1\"");
  Calibration calibration;
  calibration.path = path.str();
  if (std::optional<StringRef> model = root->getString("model"))
    calibration.model = model->str();
  if (std::optional<StringRef> key = root->getString("key"))
    calibration.key = key->str();
  if (std::optional<int64_t> tokens = root->getInteger("tokens"))
    calibration.tokens = *tokens;
  if (std::optional<StringRef> gram = root->getString("gram_file")) {
    if (gram->empty() || llvm::sys::path::filename(*gram) != *gram)
      return fail("\"gram_file\" must name a file in the same folder");
    llvm::SmallString<256> gramPath = llvm::sys::path::parent_path(path);
    llvm::sys::path::append(gramPath, *gram);
    calibration.gramPath = gramPath.str().str();
  }
  const llvm::json::Object *inputs = root->getObject("inputs");
  if (!inputs)
    return fail("\"inputs\" must be an object keyed by weight name");
  for (const auto &[key, value] : *inputs) {
    StringRef name = key;
    const llvm::json::Object *entry = value.getAsObject();
    if (!entry)
      return fail("inputs[\"" + name + "\"] must be an object");
    CalibrationEntry parsed;
    std::optional<double> absMax = entry->getNumber("absmax");
    if (!absMax || !std::isfinite(*absMax) || *absMax < 0)
      return fail("inputs[\"" + name +
                  "\"].absmax must be a finite non-negative number");
    parsed.absMax = static_cast<float>(*absMax);
    if (const llvm::json::Array *channels = entry->getArray("channel_absmax")) {
      for (const llvm::json::Value &channel : *channels) {
        std::optional<double> number = channel.getAsNumber();
        if (!number || !std::isfinite(*number) || *number < 0)
          return fail("inputs[\"" + name +
                      "\"].channel_absmax must hold finite non-negative "
                      "numbers");
        parsed.channelAbsMax.push_back(static_cast<float>(*number));
      }
    }
    calibration.inputs[name] = std::move(parsed);
  }
  return calibration;
}

static constexpr llvm::StringLiteral kGramMagic = "LLMCGRM1";

llvm::Error GramFile::write(StringRef path, int64_t tokens,
                            llvm::ArrayRef<GramEntry> entries) {
  using namespace llvm::support;
  std::string temporary = (path + ".tmp").str();
  auto failed = [&](std::error_code error) {
    llvm::sys::fs::remove(temporary);
    return llvm::createStringError(error, "cannot write Gram matrix file '" +
                                              path + "': " + error.message());
  };
  std::error_code error;
  llvm::raw_fd_ostream os(temporary, error);
  if (error)
    return failed(error);
  uint64_t offset = 0;
  auto put32 = [&](uint32_t value) {
    endian::write<uint32_t>(os, value, llvm::endianness::little);
    offset += 4;
  };
  os << kGramMagic;
  endian::write<uint64_t>(os, static_cast<uint64_t>(tokens),
                          llvm::endianness::little);
  offset = kGramMagic.size() + 8;
  put32(static_cast<uint32_t>(entries.size()));
  for (const GramEntry &entry : entries) {
    put32(static_cast<uint32_t>(entry.weights.size()));
    for (const std::string &weight : entry.weights) {
      put32(static_cast<uint32_t>(weight.size()));
      os << weight;
      offset += weight.size();
    }
    put32(static_cast<uint32_t>(entry.channels));
    for (; offset % 4 != 0; ++offset)
      os << '\0';
    for (float value : entry.values)
      endian::write<float>(os, value, llvm::endianness::little);
    offset += entry.values.size() * 4;
  }
  os.close();
  if (os.has_error())
    return failed(os.error());
  if (std::error_code renameError = llvm::sys::fs::rename(temporary, path))
    return failed(renameError);
  return llvm::Error::success();
}

llvm::Expected<std::shared_ptr<GramFile>> GramFile::open(StringRef path) {
  auto fail = [&](const Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "Gram matrix file '" + path +
                                       "': " + message);
  };
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail("cannot read it: " + buffer.getError().message());
  auto file = std::make_shared<GramFile>();
  file->buffer = std::move(*buffer);
  StringRef bytes = file->buffer->getBuffer();
  uint64_t offset = 0;
  auto take = [&](uint64_t count, const Twine &what) -> llvm::Error {
    if (bytes.size() - offset < count)
      return fail("truncated: " + what + " at byte " + Twine(offset) +
                  " needs " + Twine(count) + " bytes, " +
                  Twine(bytes.size() - offset) + " are left");
    offset += count;
    return llvm::Error::success();
  };
  auto read32 = [&](const Twine &what, uint32_t &value) -> llvm::Error {
    if (llvm::Error error = take(4, what))
      return error;
    value = llvm::support::endian::read32le(bytes.data() + offset - 4);
    return llvm::Error::success();
  };
  if (!bytes.starts_with(kGramMagic))
    return fail("not an llmc Gram matrix file (no \"LLMCGRM1\" header)");
  offset = kGramMagic.size();
  if (llvm::Error error = take(8, "the token count"))
    return std::move(error);
  file->tokens = static_cast<int64_t>(
      llvm::support::endian::read64le(bytes.data() + offset - 8));
  uint32_t entries = 0;
  if (llvm::Error error = read32("the entry count", entries))
    return std::move(error);
  for (uint32_t e = 0; e < entries; ++e) {
    const std::string entry = "entry " + std::to_string(e);
    uint32_t weightCount = 0, channels = 0;
    if (llvm::Error error = read32(entry + "'s weight count", weightCount))
      return std::move(error);
    std::vector<StringRef> names;
    for (uint32_t w = 0; w < weightCount; ++w) {
      uint32_t length = 0;
      if (llvm::Error error = read32(entry + "'s name length", length))
        return std::move(error);
      if (llvm::Error error = take(length, entry + "'s weight name"))
        return std::move(error);
      names.push_back(bytes.substr(offset - length, length));
    }
    if (llvm::Error error = read32(entry + "'s channel count", channels))
      return std::move(error);
    if (llvm::Error error = take((4 - offset % 4) % 4, entry + "'s padding"))
      return std::move(error);
    uint64_t matrixBytes = uint64_t(channels) * channels * 4;
    if (llvm::Error error = take(matrixBytes, entry + "'s " + Twine(channels) +
                                                  " x " + Twine(channels) +
                                                  " matrix"))
      return std::move(error);
    // Little-endian f32 read in place: llmc builds for little-endian hosts;
    // the mapping is page-aligned and the padding keeps each matrix 4-aligned.
    auto *values =
        reinterpret_cast<const float *>(bytes.data() + offset - matrixBytes);
    for (StringRef name : names)
      if (!file->byWeight.try_emplace(name, channels, values).second)
        return fail("weight '" + name + "' appears in two entries");
  }
  if (offset != bytes.size())
    return fail(Twine(bytes.size() - offset) +
                " bytes follow the last entry");
  return file;
}

std::shared_ptr<const weights::InputGram>
GramFile::lookup(StringRef weight) const {
  auto it = byWeight.find(weight);
  if (it == byWeight.end())
    return nullptr;
  auto gram = std::make_shared<weights::InputGram>();
  gram->channels = it->second.first;
  gram->values = it->second.second;
  gram->owner = shared_from_this();
  return gram;
}

} // namespace llmc
