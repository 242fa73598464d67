//===- Calibration.cpp - reading llmc-calibration-1 files -----------------===//

#include "passes/Calibration.h"

#include "llvm/Support/FileSystem.h"

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

} // namespace llmc
