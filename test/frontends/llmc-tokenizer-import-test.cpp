//===- llmc-tokenizer-import-test.cpp - the imported tokenizer, encoding --===//
//
// Test tool for e2e/tokenizer_import.py: imports a model exactly as `llmc
// import` does (compiler/frontends/Importer.h) and encodes lines of a text
// file with the tokenizer the import returned, one JSON object per line:
//
//   llmc-tokenizer-import-test MODEL TEXT_FILE [--lines N]
//   {"ids": [...], "ids_with_special_tokens": [...]}
//
// Lines are split on '\n' only (a final newline ends the last line), so "\r"
// and the other Unicode line breaks stay inside a line.
//
//===----------------------------------------------------------------------===//

#include "compiler/frontends/Importer.h"
#include "compiler/registration/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

using namespace llmc;

static int fail(const llvm::Twine &message) {
  llvm::errs() << "llmc-tokenizer-import-test: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  std::vector<std::string> positional;
  size_t maxLines = static_cast<size_t>(-1);
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--lines" && i + 1 < argc) {
      if (llvm::StringRef(argv[++i]).getAsInteger(10, maxLines))
        return fail("--lines needs a number");
    } else {
      positional.push_back(arg.str());
    }
  }
  if (positional.size() != 2)
    return fail("usage: llmc-tokenizer-import-test MODEL TEXT_FILE "
                "[--lines N]");

  mlir::DialectRegistry registry;
  registerAllLlmcDialects(registry);
  mlir::MLIRContext context(registry);
  llvm::Expected<frontends::ImportedModel> imported =
      frontends::importModel(context, positional[0]);
  if (!imported)
    return fail(llvm::toString(imported.takeError()));
  if (!imported->tokenizer)
    return fail(positional[0] + ": the checkpoint has no tokenizer");
  const tokenizer::Tokenizer &tok = *imported->tokenizer->tokenizer;
  llvm::errs() << "llmc-tokenizer-import-test: "
               << imported->tokenizer->summarize() << "\n";

  auto buffer = llvm::MemoryBuffer::getFile(positional[1], /*IsText=*/false);
  if (!buffer)
    return fail(positional[1] + ": " + buffer.getError().message());
  llvm::StringRef rest = (*buffer)->getBuffer();
  if (rest.ends_with("\n"))
    rest = rest.drop_back();
  for (size_t count = 0; count < maxLines && !rest.empty(); ++count) {
    auto [line, tail] = rest.split('\n');
    rest = tail;
    llvm::json::Object object;
    for (bool special : {false, true}) {
      tokenizer::EncodeOptions options;
      options.addSpecialTokens = special;
      std::vector<int32_t> ids;
      tokenizer::Status status = tok.encode(line.str(), options, ids);
      if (!status)
        return fail("line " + llvm::Twine(count + 1) + ": " + status.message());
      llvm::json::Array array;
      for (int32_t id : ids)
        array.push_back(id);
      object[special ? "ids_with_special_tokens" : "ids"] = std::move(array);
    }
    llvm::outs() << llvm::json::Value(std::move(object)) << "\n";
  }
  return 0;
}
