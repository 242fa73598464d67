//===- llamacpp_test.cpp - the real models against llama.cpp's logits -----===//
//
// For each real model (SmolLM2-135M-Instruct Q4_1, Gemma 3 270M Q4_K_M; the
// GGUFs scripts/fetch-models.sh puts in the model cache): check that the GGUF
// is the file the goldens were made from (sha256 in
// test/e2e/data/llamacpp/manifest.json), compile it with the built
// `llmc compile --target=cpu --quant=f32 --max-tokens=512`, load it and
//  1. encode data/eval_text.txt with the artifact's tokenizer: it must give
//     exactly MODEL.tokens.npy (BOS only where the GGUF asks for it);
//  2. run the tokens through runtime/engine (one sequence, prefill in chunks
//     of at most max_tokens) and compare every row with llama.cpp's logits:
//     against the `f32` run (llama.cpp on the same weights dequantized to
//     F32, the primary reference) and, with the looser measured bounds, the
//     `quant` run (the GGUF as shipped);
//  3. generate greedily (64 tokens, stop after an end-of-generation token)
//     from the manifest's 5 prompts and compare with the `f32` generations.
// Bounds: test/e2e/README.md ("What the e2e test must check").
//
//===----------------------------------------------------------------------===//

#include "runtime/engine/Engine.h"
#include "runtime/loader/Artifact.h"
#include "runtime/tokenizer/Tokenizer.h"
#include "test/unit/cpu_backend/Npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace llmc;

//===----------------------------------------------------------------------===//
// A minimal JSON reader (the manifest only).
//===----------------------------------------------------------------------===//

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;
  std::map<std::string, Json> fields;

  const Json &operator[](const std::string &key) const {
    static const Json null;
    auto it = fields.find(key);
    return it == fields.end() ? null : it->second;
  }
  std::vector<int32_t> ints() const {
    std::vector<int32_t> out;
    for (const Json &item : items)
      out.push_back(static_cast<int32_t>(item.number));
    return out;
  }
};

class JsonParser {
public:
  explicit JsonParser(const std::string &text) : text_(text) {}
  bool parse(Json &out) {
    bool ok = value(out);
    skip();
    return ok && pos_ == text_.size();
  }

private:
  void skip() {
    while (pos_ < text_.size() &&
           std::isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
  }
  bool literal(const char *word) {
    size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0)
      return false;
    pos_ += n;
    return true;
  }
  bool str(std::string &out) {
    if (text_[pos_] != '"')
      return false;
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size())
        return false;
      char e = text_[pos_++];
      switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        if (pos_ + 4 > text_.size())
          return false;
        uint32_t cp = std::stoul(text_.substr(pos_, 4), nullptr, 16);
        pos_ += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && text_.compare(pos_, 2, "\\u") == 0) {
          uint32_t lo = std::stoul(text_.substr(pos_ + 2, 4), nullptr, 16);
          pos_ += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
          out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        break;
      }
      default:
        out.push_back(e);
      }
    }
    if (pos_ >= text_.size())
      return false;
    ++pos_;
    return true;
  }
  bool value(Json &out) {
    skip();
    if (pos_ >= text_.size())
      return false;
    char c = text_[pos_];
    if (c == '{') {
      out.kind = Json::Object;
      ++pos_;
      skip();
      if (text_[pos_] == '}') {
        ++pos_;
        return true;
      }
      while (true) {
        skip();
        std::string key;
        if (!str(key))
          return false;
        skip();
        if (text_[pos_++] != ':')
          return false;
        if (!value(out.fields[key]))
          return false;
        skip();
        if (text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (text_[pos_] == '}') {
          ++pos_;
          return true;
        }
        return false;
      }
    }
    if (c == '[') {
      out.kind = Json::Array;
      ++pos_;
      skip();
      if (text_[pos_] == ']') {
        ++pos_;
        return true;
      }
      while (true) {
        out.items.emplace_back();
        if (!value(out.items.back()))
          return false;
        skip();
        if (text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (text_[pos_] == ']') {
          ++pos_;
          return true;
        }
        return false;
      }
    }
    if (c == '"') {
      out.kind = Json::String;
      return str(out.string);
    }
    if (literal("true")) {
      out.kind = Json::Bool;
      out.boolean = true;
      return true;
    }
    if (literal("false")) {
      out.kind = Json::Bool;
      return true;
    }
    if (literal("null"))
      return true;
    if (literal("NaN") || literal("Infinity") || literal("-Infinity")) {
      out.kind = Json::Number;
      out.number = std::nan("");
      return true;
    }
    out.kind = Json::Number;
    const char *begin = text_.c_str() + pos_;
    char *end = nullptr;
    out.number = std::strtod(begin, &end);
    if (end == begin)
      return false;
    pos_ += end - begin;
    return true;
  }

  const std::string &text_;
  size_t pos_ = 0;
};

//===----------------------------------------------------------------------===//
// SHA-256 (FIPS 180-4) of a file, streamed.
//===----------------------------------------------------------------------===//

class Sha256 {
public:
  void update(const unsigned char *data, size_t n) {
    bits_ += static_cast<uint64_t>(n) * 8;
    while (n > 0) {
      size_t take = std::min(n, 64 - used_);
      std::memcpy(block_ + used_, data, take);
      used_ += take;
      data += take;
      n -= take;
      if (used_ == 64) {
        compress(block_);
        used_ = 0;
      }
    }
  }
  std::string hex() {
    uint64_t bits = bits_;
    unsigned char pad = 0x80;
    update(&pad, 1);
    unsigned char zero = 0;
    while (used_ != 56)
      update(&zero, 1);
    unsigned char length[8];
    for (int i = 0; i < 8; ++i)
      length[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(length, 8);
    char out[65];
    for (int i = 0; i < 8; ++i)
      std::snprintf(out + 8 * i, 9, "%08x", h_[i]);
    return std::string(out, 64);
  }

private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void compress(const unsigned char *p) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
        0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
        0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) |
             (uint32_t(p[4 * i + 2]) << 8) | uint32_t(p[4 * i + 3]);
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5],
             g = h_[6], hh = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = hh + s1 + ch + k[i] + w[i];
      uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = s0 + maj;
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f,
        h_[6] += g, h_[7] += hh;
  }

  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block_[64];
  size_t used_ = 0;
  uint64_t bits_ = 0;
};

bool sha256File(const std::string &path, std::string &out) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return false;
  Sha256 sha;
  std::vector<char> buffer(1 << 20);
  while (file) {
    file.read(buffer.data(), buffer.size());
    sha.update(reinterpret_cast<const unsigned char *>(buffer.data()),
               static_cast<size_t>(file.gcount()));
  }
  out = sha.hex();
  return true;
}

TEST(Sha256, KnownVectors) {
  Sha256 empty;
  EXPECT_EQ(empty.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.update(reinterpret_cast<const unsigned char *>("abc"), 3);
  EXPECT_EQ(abc.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

//===----------------------------------------------------------------------===//
// Goldens and bounds.
//===----------------------------------------------------------------------===//

bool readFile(const std::string &path, std::string &out) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return false;
  std::ostringstream buffer;
  buffer << file.rdbuf();
  out = buffer.str();
  return true;
}

const std::string kGoldens = LLMC_LLAMACPP_GOLDENS;

/// The bounds of test/e2e/README.md for one model and run.
struct Bounds {
  double minTop1;   // fraction
  double maxTop64;  // max |Δlogit| at the stored top-64 entries
  double maxRows;   // max |Δlogit| over rows.npy
  double maxLse;    // max |Δ logsumexp|
  double maxPplRel; // |PPL - manifest PPL| / manifest PPL
  int minGreedy;    // identical greedy generations (-1: report only)
};

struct ModelCase {
  const char *name;      // manifest key and file prefix
  const char *gguf;      // path in the model cache
  const char *fetchName; // scripts/fetch-models.sh argument
  Bounds f32, quant;
};

const ModelCase kModels[] = {
    {"smollm2", "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
     "smollm2",
     /*f32=*/{0.99, 0.1, 0.1, 0.1, 0.005, 4},
     /*quant=*/{0.95, 1.75, 2.6, 0.85, 0.005, -1}},
    {"gemma3", "gemma-3-270m/gemma-3-270m-q4_k_m.gguf", "gemma3",
     /*f32=*/{0.99, 0.25, 0.25, 0.25, 0.01, 4},
     /*quant=*/{0.92, 4.0, 6.7, 2.6, 0.03, -1}},
};

/// GoogleTest prints the parameter in test names and ctest's listing.
void PrintTo(const ModelCase &model, std::ostream *os) { *os << model.name; }

/// One llama.cpp run's per-position goldens.
struct RunGoldens {
  std::string run;
  std::vector<int32_t> topIds;  // [T, 64]
  std::vector<float> topLogits; // [T, 64]
  std::vector<float> lse;       // [T]
  std::vector<float> rows;      // [R, V]
  int64_t topK = 0;
  double perplexity = 0;
  std::vector<std::vector<int32_t>> generations;

  // Measured.
  int64_t top1Agree = 0;
  double maxTop64 = 0, maxTop1 = 0, maxRows = 0, maxLse = 0;
  int64_t worstTop64Pos = -1, worstRowsPos = -1, worstLsePos = -1;
};

::testing::AssertionResult loadNpy(const std::string &file,
                                   const std::string &descr,
                                   std::vector<int64_t> shape,
                                   test::NpyArray &out) {
  std::string error;
  std::string path = kGoldens + "/" + file;
  if (!test::loadNpy(path, out, error))
    return ::testing::AssertionFailure() << error;
  if (out.descr != descr || out.shape.size() != shape.size())
    return ::testing::AssertionFailure()
           << path << ": expected " << descr << " of rank " << shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] >= 0 && out.shape[i] != shape[i])
      return ::testing::AssertionFailure()
             << path << ": dimension " << i << " is " << out.shape[i]
             << ", expected " << shape[i];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult loadRun(const std::string &model,
                                   const Json &manifest, const std::string &run,
                                   int64_t tokens, int64_t vocab,
                                   int64_t numRows, RunGoldens &out) {
  out.run = run;
  std::string prefix = model + "." + run + ".";
  test::NpyArray array;
  if (auto r = loadNpy(prefix + "top64_ids.npy", "<i4", {tokens, -1}, array);
      !r)
    return r;
  out.topK = array.shape[1];
  out.topIds = array.as<int32_t>();
  if (auto r = loadNpy(prefix + "top64_logits.npy", "<f4", {tokens, out.topK},
                       array);
      !r)
    return r;
  out.topLogits = array.as<float>();
  if (auto r = loadNpy(prefix + "lse.npy", "<f4", {tokens}, array); !r)
    return r;
  out.lse = array.as<float>();
  if (auto r = loadNpy(prefix + "rows.npy", "<f4", {numRows, vocab}, array); !r)
    return r;
  out.rows = array.as<float>();
  const Json &entry = manifest["models"][model][run];
  out.perplexity = entry["perplexity"].number;
  if (!(out.perplexity > 0))
    return ::testing::AssertionFailure()
           << "manifest: no perplexity for " << model << "." << run;
  for (const Json &generation : entry["generations"].items)
    out.generations.push_back(generation["tokens"].ints());
  return ::testing::AssertionSuccess();
}

/// Argmax with ties to the lowest id (llama.cpp goldens' rule).
int32_t argmax(const float *row, int64_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

double logSumExp(const float *row, int64_t n) {
  double m = *std::max_element(row, row + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += std::exp(static_cast<double>(row[i]) - m);
  return m + std::log(sum);
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

class LlamaCppGoldenTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(LlamaCppGoldenTest, MatchesLlamaCpp) {
  const ModelCase &model = GetParam();
  const std::string name = model.name;

  std::string manifestText;
  ASSERT_TRUE(readFile(kGoldens + "/manifest.json", manifestText))
      << "cannot read " << kGoldens << "/manifest.json";
  Json manifest;
  ASSERT_TRUE(JsonParser(manifestText).parse(manifest))
      << kGoldens << "/manifest.json is not valid JSON";
  const Json &entry = manifest["models"][name];
  ASSERT_EQ(entry.kind, Json::Object) << "manifest has no model " << name;

  // The model, from the cache scripts/fetch-models.sh fills.
  const char *cacheEnv = std::getenv("LLMC_MODEL_CACHE");
  const char *home = std::getenv("HOME");
  std::string cache = cacheEnv && *cacheEnv ? std::string(cacheEnv)
                                            : std::string(home ? home : "") +
                                                  "/.cache/llmc/models";
  std::string gguf = cache + "/" + model.gguf;
  {
    std::ifstream probe(gguf, std::ios::binary);
    ASSERT_TRUE(static_cast<bool>(probe))
        << gguf << " is missing; run scripts/fetch-models.sh "
        << model.fetchName
        << " (it puts the model in "
           "${LLMC_MODEL_CACHE:-$HOME/.cache/llmc/models})";
  }
  auto start = std::chrono::steady_clock::now();
  std::string sha;
  ASSERT_TRUE(sha256File(gguf, sha)) << "cannot read " << gguf;
  ASSERT_EQ(sha, entry["gguf_sha256"].string)
      << gguf << " is not the GGUF the llama.cpp goldens were made from; "
      << "re-run scripts/fetch-models.sh " << model.fetchName
      << " or regenerate test/e2e/data/llamacpp/ "
      << "(test/e2e/make_llamacpp_goldens.py)";

  // Compile with the built llmc.
  std::string artifactPath =
      std::string(LLMC_E2E_OUT_DIR) + "/" + name + ".cpu.llmc";
  std::remove(artifactPath.c_str());
  std::string command = std::string("\"") + LLMC_BIN + "\" compile \"" + gguf +
                        "\" --target=cpu --quant=f32 --max-tokens=512 -o \"" +
                        artifactPath + "\" 2>&1";
  start = std::chrono::steady_clock::now();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::printf("[ e2e ] %s: %s compiled in %.1f s\n", name.c_str(), gguf.c_str(),
              seconds(start));

  std::unique_ptr<loader::Artifact> artifact;
  runtime::Status status =
      loader::Artifact::open(artifactPath, loader::OpenOptions{}, artifact);
  ASSERT_TRUE(status.ok()) << status.message();

  // 1. The tokenizer stored in the artifact reproduces llama.cpp's tokens.
  tokenizer::TokenizerVectors vectors;
  status = artifact->tokenizerVectors(vectors);
  ASSERT_TRUE(status.ok()) << status.message();
  std::unique_ptr<tokenizer::Tokenizer> tok;
  status = tokenizer::Tokenizer::fromVectors(vectors, tok);
  ASSERT_TRUE(status.ok()) << status.message();

  test::NpyArray tokensArray;
  ASSERT_TRUE(loadNpy(name + ".tokens.npy", "<i4", {-1}, tokensArray));
  std::vector<int32_t> tokens = tokensArray.as<int32_t>();
  const int64_t T = static_cast<int64_t>(tokens.size());
  ASSERT_EQ(T, static_cast<int64_t>(entry["n_tokens"].number));
  {
    std::string text;
    ASSERT_TRUE(readFile(LLMC_EVAL_TEXT, text))
        << "cannot read " << LLMC_EVAL_TEXT;
    tokenizer::EncodeOptions options;
    options.addSpecialTokens = true;    // BOS where the GGUF asks for it
    options.parseSpecialTokens = false; // llama.cpp tokenize(special=False)
    std::vector<int32_t> ours;
    status = tok->encode(text, options, ours);
    ASSERT_TRUE(status.ok()) << status.message();
    bool bos = entry["bos_added"].boolean;
    EXPECT_EQ(!ours.empty() && ours[0] == tok->bosId(), bos)
        << name << ": BOS " << (bos ? "missing" : "unexpected");
    size_t firstDiff = 0;
    while (firstDiff < std::min(ours.size(), tokens.size()) &&
           ours[firstDiff] == tokens[firstDiff])
      ++firstDiff;
    ASSERT_EQ(ours, tokens)
        << name << ": the artifact's tokenizer disagrees with llama.cpp on "
        << "eval_text.txt (" << ours.size() << " vs " << tokens.size()
        << " tokens, first difference at " << firstDiff << ")";
    std::printf("[ e2e ] %s: tokenizer: %lld tokens, identical to llama.cpp\n",
                name.c_str(), static_cast<long long>(T));
  }

  // 2. Teacher-forced logits over the whole text.
  engine::EngineOptions options;
  options.threads = 2;
  options.maxSequences = 1;
  options.maxSeqLen = 640;
  std::unique_ptr<engine::Engine> engine;
  status = engine::Engine::create(*artifact, options, engine);
  ASSERT_TRUE(status.ok()) << status.message();
  const int64_t V = engine->vocabSize();
  ASSERT_EQ(engine->maxTokens(), 512);

  std::vector<int32_t> rowsPos = entry["rows_pos"].ints();
  const int64_t R = static_cast<int64_t>(rowsPos.size());
  RunGoldens runs[2];
  ASSERT_TRUE(loadRun(name, manifest, "f32", T, V, R, runs[0]));
  ASSERT_TRUE(loadRun(name, manifest, "quant", T, V, R, runs[1]));
  const Bounds *bounds[2] = {&model.f32, &model.quant};

  double nllSum = 0;
  start = std::chrono::steady_clock::now();
  engine::ForwardBatch batch;
  std::vector<float> logits;
  for (int64_t begin = 0; begin < T; begin += engine->maxTokens()) {
    int64_t count = std::min<int64_t>(engine->maxTokens(), T - begin);
    batch.tokenIds.assign(tokens.begin() + begin,
                          tokens.begin() + begin + count);
    batch.positions.clear();
    for (int64_t i = 0; i < count; ++i)
      batch.positions.push_back(static_cast<int32_t>(begin + i));
    batch.sequences = {{0, count}};
    status = engine->forward(batch, logits);
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_EQ(static_cast<int64_t>(logits.size()), count * V);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t t = begin + i;
      const float *row = logits.data() + i * V;
      int32_t top = argmax(row, V);
      double lse = logSumExp(row, V);
      if (t + 1 < T)
        nllSum += lse - row[tokens[t + 1]];
      auto fullRow = std::find(rowsPos.begin(), rowsPos.end(), t);
      for (RunGoldens &g : runs) {
        const int32_t *ids = g.topIds.data() + t * g.topK;
        const float *want = g.topLogits.data() + t * g.topK;
        if (top == ids[0])
          ++g.top1Agree;
        for (int64_t k = 0; k < g.topK; ++k) {
          double d = std::fabs(static_cast<double>(row[ids[k]]) - want[k]);
          if (k == 0)
            g.maxTop1 = std::max(g.maxTop1, d);
          if (!(d <= g.maxTop64)) {
            g.maxTop64 = d;
            g.worstTop64Pos = t;
          }
        }
        double dl = std::fabs(lse - g.lse[t]);
        if (!(dl <= g.maxLse)) {
          g.maxLse = dl;
          g.worstLsePos = t;
        }
        if (fullRow != rowsPos.end()) {
          const float *wantRow =
              g.rows.data() + (fullRow - rowsPos.begin()) * V;
          for (int64_t v = 0; v < V; ++v) {
            double d = std::fabs(static_cast<double>(row[v]) - wantRow[v]);
            if (!(d <= g.maxRows)) {
              g.maxRows = d;
              g.worstRowsPos = t;
            }
          }
        }
      }
    }
  }
  engine->freeSequence(0);
  double ppl = std::exp(nllSum / static_cast<double>(T - 1));
  std::printf("[ e2e ] %s: forward over %lld tokens in %.1f s; PPL %.4f\n",
              name.c_str(), static_cast<long long>(T), seconds(start), ppl);

  for (int r = 0; r < 2; ++r) {
    const RunGoldens &g = runs[r];
    const Bounds &b = *bounds[r];
    double top1 = static_cast<double>(g.top1Agree) / static_cast<double>(T);
    double pplRel = std::fabs(ppl - g.perplexity) / g.perplexity;
    std::printf(
        "[ e2e ] %s vs llama.cpp %-5s: top-1 %.2f %% (%lld/%lld, bound >= "
        "%.0f %%), max |dlogit| top-64 %.4f (pos %lld, bound %.3g), top-1 "
        "entry %.4f, full rows %.4f (pos %lld, bound %.3g), max |dlse| %.4f "
        "(pos %lld, bound %.3g), PPL %.4f vs %.4f (%.3f %%, bound %.1f %%)\n",
        name.c_str(), g.run.c_str(), 100 * top1,
        static_cast<long long>(g.top1Agree), static_cast<long long>(T),
        100 * b.minTop1, g.maxTop64, static_cast<long long>(g.worstTop64Pos),
        b.maxTop64, g.maxTop1, g.maxRows,
        static_cast<long long>(g.worstRowsPos), b.maxRows, g.maxLse,
        static_cast<long long>(g.worstLsePos), b.maxLse, ppl, g.perplexity,
        100 * pplRel, 100 * b.maxPplRel);
    EXPECT_GE(top1, b.minTop1) << name << " vs " << g.run << ": top-1";
    EXPECT_LE(g.maxTop64, b.maxTop64)
        << name << " vs " << g.run << ": max |dlogit| at top-64 entries";
    EXPECT_LE(g.maxRows, b.maxRows)
        << name << " vs " << g.run << ": max |dlogit| over rows.npy";
    EXPECT_LE(g.maxLse, b.maxLse) << name << " vs " << g.run << ": |dlse|";
    EXPECT_LE(pplRel, b.maxPplRel)
        << name << " vs " << g.run << ": PPL " << ppl << " vs " << g.perplexity;
  }
  std::fflush(stdout);

  // 3. Greedy generation from the manifest's prompts.
  const int64_t maxNew =
      static_cast<int64_t>(manifest["settings"]["n_gen"].kind == Json::Number
                               ? manifest["settings"]["n_gen"].number
                               : 64);
  std::vector<int32_t> stops = tok->stopIds();
  const std::vector<Json> &prompts = entry["prompts"].items;
  ASSERT_EQ(prompts.size(), runs[0].generations.size());
  ASSERT_EQ(prompts.size(), runs[1].generations.size());
  int identical[2] = {0, 0};
  start = std::chrono::steady_clock::now();
  for (size_t p = 0; p < prompts.size(); ++p) {
    std::vector<int32_t> prompt = prompts[p]["prompt_tokens"].ints();
    ASSERT_FALSE(prompt.empty());
    ASSERT_LE(static_cast<int64_t>(prompt.size()), engine->maxTokens());
    const int64_t seq = 0;
    batch.tokenIds = prompt;
    batch.positions.clear();
    for (size_t i = 0; i < prompt.size(); ++i)
      batch.positions.push_back(static_cast<int32_t>(i));
    batch.sequences = {{seq, static_cast<int64_t>(prompt.size())}};
    status = engine->forward(batch, logits);
    ASSERT_TRUE(status.ok()) << status.message();
    std::vector<int32_t> generated;
    const float *last = logits.data() + (prompt.size() - 1) * V;
    while (true) {
      int32_t next = argmax(last, V);
      generated.push_back(next);
      if (std::find(stops.begin(), stops.end(), next) != stops.end() ||
          static_cast<int64_t>(generated.size()) >= maxNew)
        break;
      batch.tokenIds = {next};
      batch.positions = {
          static_cast<int32_t>(prompt.size() + generated.size() - 1)};
      batch.sequences = {{seq, 1}};
      status = engine->forward(batch, logits);
      ASSERT_TRUE(status.ok()) << status.message();
      last = logits.data();
    }
    engine->freeSequence(seq);
    std::string report;
    for (int r = 0; r < 2; ++r) {
      const std::vector<int32_t> &want = runs[r].generations[p];
      size_t prefix = 0;
      while (prefix < std::min(want.size(), generated.size()) &&
             want[prefix] == generated[prefix])
        ++prefix;
      bool same = generated == want;
      identical[r] += same;
      report += " " + runs[r].run + ": " +
                (same ? std::string("identical")
                      : "common prefix " + std::to_string(prefix) + "/" +
                            std::to_string(want.size()));
    }
    std::printf("[ e2e ] %s: greedy prompt %zu: %zu tokens;%s\n", name.c_str(),
                p, generated.size(), report.c_str());
  }
  std::printf("[ e2e ] %s: greedy identical to llama.cpp f32 %d/%zu (bound "
              ">= %d), quant %d/%zu (report only); %.1f s\n",
              name.c_str(), identical[0], prompts.size(), model.f32.minGreedy,
              identical[1], prompts.size(), seconds(start));
  EXPECT_GE(identical[0], model.f32.minGreedy)
      << name << ": greedy generations identical to llama.cpp f32";
}

INSTANTIATE_TEST_SUITE_P(RealModels, LlamaCppGoldenTest,
                         ::testing::ValuesIn(kModels), [](const auto &info) {
                           return std::string(info.param.name);
                         });

} // namespace
