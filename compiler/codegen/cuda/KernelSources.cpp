//===- KernelSources.cpp - lookup of the embedded kernel headers ----------===//

#include "compiler/codegen/cuda/KernelSources.h"

namespace llmc::codegen::cuda {
namespace {

struct EmbeddedHeader {
  const char *name;
  const char *text;
};

const EmbeddedHeader kHeaders[] = {
#include "compiler/codegen/cuda/KernelSources.inc"
};

} // namespace

llvm::StringRef kernelHeader(llvm::StringRef fileName) {
  for (const EmbeddedHeader &header : kHeaders)
    if (fileName == header.name)
      return header.text;
  return {};
}

} // namespace llmc::codegen::cuda
