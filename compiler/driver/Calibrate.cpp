//===- Calibrate.cpp - `llmc compile --calib`: activation maxima of a text ===//

#include "compiler/driver/Calibrate.h"

#include "compiler/driver/Compile.h"
#include "passes/Calibration.h"
#include "runtime/backends/cpu/Kernels.h"
#include "runtime/backends/cpu/ThreadPool.h"
#include "runtime/engine/Engine.h"
#include "runtime/loader/Artifact.h"
#include "runtime/schema/Checksum.h"
#include "runtime/tokenizer/Tokenizer.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

namespace llmc {

namespace {

constexpr llvm::StringLiteral kCalibrationFormat = "llmc-calibration-1";
/// Tokens per forward call and per sequence: long enough for attention to
/// see real context, short enough for a quick run.
constexpr int64_t kCalibrationContext = 512;

/// Running per-channel maxima of one linear layer's input.
struct ChannelMaxima {
  std::vector<float> channels;
  float overall = 0;
};

/// Running sum of x xᵀ over the rows entering the linears `weights`, which
/// all read the same input (q, k and v; gate and up).
struct GramAccumulator {
  std::vector<std::string> weights;
  int64_t channels = 0;
  int64_t rows = 0;
  std::vector<double> sum;
};

/// The Gram matrices of every distinct linear input, for --gptq. A GEMM
/// whose input equals, byte for byte, the previous GEMM's shares its
/// matrix (the calls of one forward run in order; q, k and v follow one
/// another on the same normed rows).
class GramRecorder {
public:
  void observe(const std::string &weight, const float *rows, int64_t m,
               int64_t k) {
    const size_t count = static_cast<size_t>(m * k);
    auto known = index.find(weight);
    const bool sameAsPrevious =
        previous >= 0 && accumulators[previous].channels == k &&
        previousInput.size() == count &&
        std::memcmp(previousInput.data(), rows, count * sizeof(float)) == 0;
    if (sameAsPrevious) {
      if (known == index.end()) {
        index[weight] = previous;
        accumulators[previous].weights.push_back(weight);
      }
      return; // counted with the previous GEMM
    }
    int64_t slot;
    if (known != index.end()) {
      slot = known->second;
    } else {
      slot = static_cast<int64_t>(accumulators.size());
      index[weight] = slot;
      accumulators.push_back({{weight}, k, 0, std::vector<double>(k * k)});
    }
    accumulate(accumulators[slot], rows, m, k);
    previous = slot;
    previousInput.assign(rows, rows + count);
  }

  /// E[x xᵀ] per input.
  std::vector<GramEntry> finish() const {
    std::vector<GramEntry> entries;
    for (const GramAccumulator &accumulator : accumulators) {
      GramEntry entry{accumulator.weights, accumulator.channels, {}};
      entry.values.resize(accumulator.sum.size());
      const double rows = std::max<int64_t>(1, accumulator.rows);
      for (size_t i = 0; i < accumulator.sum.size(); ++i)
        entry.values[i] = static_cast<float>(accumulator.sum[i] / rows);
      entries.push_back(std::move(entry));
    }
    return entries;
  }

private:
  /// sum += Xᵀ X through the CPU backend's GEMM: Xᵀ [k, m] times its own
  /// transpose.
  void accumulate(GramAccumulator &accumulator, const float *rows, int64_t m,
                  int64_t k) {
    transposed.resize(static_cast<size_t>(m * k));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < k; ++c)
        transposed[c * m + r] = rows[r * k + c];
    product.resize(static_cast<size_t>(k * k));
    cpu::ConstMatrixView xt(transposed.data(), cpu::DType::F32, k, m, m);
    cpu::matmul(xt, 0, xt, 0, /*transposeRhs=*/true,
                cpu::matrix(product.data(), cpu::DType::F32, k, k), 0, 1,
                &pool);
    for (size_t i = 0; i < product.size(); ++i)
      accumulator.sum[i] += product[i];
    accumulator.rows += m;
  }

  std::vector<GramAccumulator> accumulators;
  llvm::StringMap<int64_t> index;
  int64_t previous = -1;
  std::vector<float> previousInput, transposed, product;
  cpu::ThreadPool pool;
};

/// Identifies the model and text a calibration was measured on: the text's
/// bytes, and the model's files by name, size and modification time (a
/// directory by its entries). Changing either invalidates a cache.
std::string calibrationKey(const std::string &modelPath,
                           llvm::StringRef text) {
  std::string identity;
  auto addFile = [&](const std::string &path) {
    llvm::sys::fs::file_status status;
    if (llvm::sys::fs::status(path, status))
      return;
    identity += path + ":" + std::to_string(status.getSize()) + ":" +
                std::to_string(status.getLastModificationTime()
                                   .time_since_epoch()
                                   .count()) +
                ";";
  };
  if (llvm::sys::fs::is_directory(modelPath)) {
    std::vector<std::string> entries;
    std::error_code error;
    for (llvm::sys::fs::directory_iterator it(modelPath, error), end;
         it != end && !error; it.increment(error))
      entries.push_back(it->path());
    std::sort(entries.begin(), entries.end());
    for (const std::string &entry : entries)
      addFile(entry);
  } else {
    addFile(modelPath);
  }
  uint64_t modelHash = artifact::xxhash64(identity.data(), identity.size());
  uint64_t textHash = artifact::xxhash64(text.data(), text.size());
  std::string key;
  llvm::raw_string_ostream(key)
      << llvm::format_hex_no_prefix(modelHash, 16) << "-"
      << llvm::format_hex_no_prefix(textHash, 16);
  return key;
}

/// True when `path` holds a calibration file with `key` (and Gram matrices
/// when `needGrams`); `why` says what is wrong otherwise (empty when the
/// file does not exist).
bool cacheMatches(const std::string &path, const std::string &key,
                  bool needGrams, std::string &why) {
  if (!llvm::sys::fs::exists(path))
    return false;
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    why = "cannot read it: " + buffer.getError().message();
    return false;
  }
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse((*buffer)->getBuffer());
  if (!parsed) {
    why = "not JSON: " + llvm::toString(parsed.takeError());
    return false;
  }
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root || root->getString("format") != kCalibrationFormat) {
    why = "not an llmc calibration file";
    return false;
  }
  if (root->getString("key") != llvm::StringRef(key)) {
    why = "measured on another model or text";
    return false;
  }
  if (needGrams && !root->getString("gram_file")) {
    why = "measured without --gptq's Gram matrices";
    return false;
  }
  if (needGrams && !llvm::sys::fs::exists(gramFileFor(path))) {
    why = "its Gram matrix file '" + gramFileFor(path) + "' is missing";
    return false;
  }
  return true;
}

/// Runs the full-precision CPU artifact at `artifactPath` over `text` and
/// records the input maxima of every weight GEMM.
Status measure(const std::string &artifactPath, const std::string &textPath,
               const std::string &text,
               llvm::StringMap<ChannelMaxima> &maxima, GramRecorder *grams,
               int64_t &tokens) {
  std::unique_ptr<loader::Artifact> artifact;
  if (runtime::Status status = loader::Artifact::open(artifactPath, {},
                                                      artifact);
      !status.ok())
    return Status::failure("calibration: " + status.message());
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  if (runtime::Status status = artifact->loadTokenizer(tokenizer);
      !status.ok())
    return Status::failure("calibration: " + status.message());
  std::vector<int32_t> ids;
  tokenizer::EncodeOptions encode;
  encode.addSpecialTokens = true;
  encode.parseSpecialTokens = false;
  if (runtime::Status status = tokenizer->encode(text, encode, ids);
      !status.ok())
    return Status::failure("calibration text '" + textPath +
                           "': " + status.message());
  if (ids.size() < 2)
    return Status::failure("calibration text '" + textPath + "' holds " +
                           std::to_string(ids.size()) +
                           " token(s); give it some representative text");

  engine::EngineOptions engineOptions;
  engineOptions.maxSequences = 1;
  engineOptions.gemmInputObserver = [&](const std::string &weightName,
                                        const float *rows, int64_t m,
                                        int64_t k) {
    ChannelMaxima &entry = maxima[weightName];
    if (entry.channels.empty())
      entry.channels.assign(k, 0.0f);
    for (int64_t row = 0; row < m; ++row)
      for (int64_t column = 0; column < k; ++column)
        entry.channels[column] =
            std::max(entry.channels[column], std::fabs(rows[row * k + column]));
    if (grams)
      grams->observe(weightName, rows, m, k);
  };
  std::unique_ptr<engine::Engine> engine;
  if (runtime::Status status =
          engine::Engine::create(*artifact, engineOptions, engine);
      !status.ok())
    return Status::failure("calibration: " + status.message());

  const int64_t total = static_cast<int64_t>(ids.size());
  const int64_t step = std::min(engine->maxTokens(), kCalibrationContext);
  std::vector<float> logits;
  for (int64_t chunk = 0; chunk < total; chunk += kCalibrationContext) {
    const int64_t length = std::min(kCalibrationContext, total - chunk);
    engine->freeSequence(0);
    for (int64_t begin = 0; begin < length; begin += step) {
      engine::ForwardBatch batch;
      const int64_t count = std::min(step, length - begin);
      for (int64_t i = 0; i < count; ++i) {
        batch.tokenIds.push_back(ids[chunk + begin + i]);
        batch.positions.push_back(static_cast<int32_t>(begin + i));
      }
      batch.sequences.push_back({0, count});
      if (runtime::Status status = engine->forward(batch, logits);
          !status.ok())
        return Status::failure("calibration: " + status.message());
    }
  }
  engine->freeSequence(0);
  for (auto &entry : maxima)
    for (float value : entry.second.channels)
      entry.second.overall = std::max(entry.second.overall, value);
  tokens = total;
  return Status::success();
}

} // namespace

std::string gramFileFor(const std::string &calibrationFile) {
  return calibrationFile + ".gram";
}

Status calibrate(const CompileOptions &options,
                 const std::string &calibrationFile) {
  const std::string &cachePath = calibrationFile;
  const std::string &textPath = options.calibrationTextPath;
  std::string text;
  if (!textPath.empty()) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(textPath, /*IsText=*/false);
    if (!buffer)
      return Status::failure("cannot read calibration text '" + textPath +
                             "': " + buffer.getError().message());
    text = (*buffer)->getBuffer().str();
    if (text.empty())
      return Status::failure("calibration text '" + textPath + "' is empty");
  }

  if (textPath.empty()) {
    // Only a cache: it must exist and be an llmc calibration file; which
    // text it came from is its own business.
    std::string why;
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(cachePath);
    if (!buffer)
      return Status::failure("cannot read --calib-cache '" + cachePath +
                             "': " + buffer.getError().message() +
                             "; create it with --calib FILE.txt");
    llvm::Expected<llvm::json::Value> parsed =
        llvm::json::parse((*buffer)->getBuffer());
    const llvm::json::Object *root = parsed ? parsed->getAsObject() : nullptr;
    if (!parsed)
      llvm::consumeError(parsed.takeError());
    if (!root || root->getString("format") != kCalibrationFormat)
      return Status::failure("--calib-cache '" + cachePath +
                             "' is not an llmc calibration file");
    if (options.gptq && !root->getString("gram_file"))
      return Status::failure("--calib-cache '" + cachePath +
                             "' was measured without --gptq and holds no "
                             "Gram matrices; pass --calib FILE.txt too");
    return Status::success();
  }

  const std::string key = calibrationKey(options.modelPath, text);
  if (!options.calibrationCachePath.empty()) {
    std::string why;
    if (cacheMatches(cachePath, key, options.gptq, why)) {
      if (options.verbose)
        llvm::errs() << "llmc: reusing calibration '" << cachePath << "'\n";
      return Status::success();
    }
    if (!why.empty())
      llvm::errs() << "llmc: note: --calib-cache '" << cachePath
                   << "' is not reused (" << why << "); measuring again\n";
  }

  auto start = std::chrono::steady_clock::now();
  llvm::SmallString<128> artifactPath;
  if (std::error_code error = llvm::sys::fs::createTemporaryFile(
          "llmc-calibration", "llmc", artifactPath))
    return Status::failure("cannot create a temporary file for calibration: " +
                           error.message());
  llvm::FileRemover removeArtifact(artifactPath);
  CompileOptions reference;
  reference.modelPath = options.modelPath;
  reference.target = lookupTarget("cpu");
  reference.quant = QuantMode::F32;
  // The maxima are keyed by the weight each GEMM reads: llm-fuse's packed
  // QKV and gate/up weights would hide the linears' own names.
  reference.fuse = false;
  reference.outputPath = artifactPath.str().str();
  reference.maxTokens = kCalibrationContext;
  reference.maxSeqLen = kCalibrationContext;
  reference.syntheticWeights = options.syntheticWeights;
  if (Status status = compileModel(reference); !status.ok())
    return Status::failure("calibration: compiling the full-precision model "
                           "failed: " +
                           status.message);

  llvm::StringMap<ChannelMaxima> maxima;
  std::optional<GramRecorder> grams;
  if (options.gptq)
    grams.emplace();
  int64_t tokens = 0;
  if (Status status = measure(reference.outputPath, textPath, text, maxima,
                              grams ? &*grams : nullptr, tokens);
      !status.ok())
    return status;
  if (maxima.empty())
    return Status::failure("calibration recorded no linear layer inputs of '" +
                           options.modelPath + "'");

  Calibration calibration;
  calibration.model = options.modelPath;
  calibration.key = key;
  calibration.tokens = tokens;
  for (auto &entry : maxima)
    calibration.inputs[entry.first()] = {entry.second.overall,
                                         std::move(entry.second.channels)};
  if (grams) {
    calibration.gramPath = gramFileFor(calibrationFile);
    if (llvm::Error error =
            GramFile::write(calibration.gramPath, tokens, grams->finish()))
      return Status::failure(llvm::toString(std::move(error)));
  } else {
    // A cache measured again without --gptq: its old matrices are stale.
    llvm::sys::fs::remove(gramFileFor(calibrationFile));
  }
  if (llvm::Error error = writeCalibration(calibrationFile, calibration))
    return Status::failure(llvm::toString(std::move(error)));
  if (options.verbose)
    llvm::errs() << "llmc: calibrated " << maxima.size()
                 << " linear inputs on " << tokens << " tokens of '"
                 << textPath << "' in "
                 << llvm::format("%.2f",
                                 std::chrono::duration<double>(
                                     std::chrono::steady_clock::now() - start)
                                     .count())
                 << " s\n";
  return Status::success();
}

} // namespace llmc
