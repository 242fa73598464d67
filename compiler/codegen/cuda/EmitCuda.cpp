//===- EmitCuda.cpp - writing generated kernels as .cu or .ptx files ------===//

#include "compiler/codegen/cuda/EmitCuda.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace llmc::codegen::cuda {

llvm::Expected<PlanKernels> collectPlanKernelsOrError(mlir::ModuleOp plan,
                                                      const Target &target) {
  std::string messages;
  mlir::FailureOr<PlanKernels> kernels;
  {
    mlir::ScopedDiagnosticHandler handler(
        plan.getContext(), [&](mlir::Diagnostic &diagnostic) {
          llvm::raw_string_ostream os(messages);
          if (!messages.empty())
            os << "\n";
          os << diagnostic.getLocation() << ": " << diagnostic;
          return mlir::success();
        });
    kernels = collectPlanKernels(plan, target);
  }
  if (mlir::failed(kernels))
    return llvm::createStringError(
        "CUDA code generation for %s failed: %s", target.describe().c_str(),
        messages.empty() ? "unknown error" : messages.c_str());
  return std::move(*kernels);
}

std::string formatKernelManifest(const PlanKernels &kernels,
                                 const Target &target) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "# llmc CUDA kernels for " << target.describe() << ": "
     << kernels.kernels.size() << " distinct kernels for "
     << kernels.generatedSteps << " steps\n";
  os << "# T is the runtime token count; after its buffers each kernel takes "
        "one long long T * k per token_args entry k.\n";
  for (const CudaKernel &kernel : kernels.kernels)
    for (const KernelEntry &entry : kernel.entries)
      os << "kernel " << entry.name << " kind=" << kernel.kind
         << " block=" << entry.blockThreads << " "
         << describeGridRule(entry.grid) << " extent=" << entry.gridExtent
         << " when=\"" << describeTokenRange(entry) << "\" uses=" << kernel.uses
         << " token_args=["
         << llvm::join(
                llvm::map_range(entry.tokenArguments,
                                [](int64_t k) { return std::to_string(k); }),
                ", ")
         << "] (" << entry.parameters << ")\n";
  for (const std::string &line : kernels.notGenerated)
    os << "not-generated " << line << "\n";
  return text;
}

llvm::Error emitCudaKernels(mlir::ModuleOp plan, const Target &target,
                            EmitFormat format, llvm::StringRef directory,
                            const KernelCompilerOptions &options,
                            KernelCompileStatistics *statistics) {
  llvm::Expected<PlanKernels> kernels = collectPlanKernelsOrError(plan, target);
  if (!kernels)
    return kernels.takeError();
  std::vector<std::string> texts;
  const char *extension = format == EmitFormat::Cuda ? ".cu" : ".ptx";
  if (format == EmitFormat::Cuda) {
    for (const CudaKernel &kernel : kernels->kernels)
      texts.push_back(kernel.source);
  } else {
    llvm::Expected<std::vector<CompiledKernel>> compiled =
        compileKernels(kernels->kernels, target, options, statistics);
    if (!compiled)
      return compiled.takeError();
    for (CompiledKernel &kernel : *compiled)
      texts.push_back(std::move(kernel.ptx));
  }
  std::string manifest = formatKernelManifest(*kernels, target);
  if (directory == "-") {
    llvm::outs() << manifest;
    for (auto [kernel, text] : llvm::zip(kernels->kernels, texts))
      llvm::outs() << "// ----- " << kernel.entries.front().name << extension
                   << "\n"
                   << text << "\n";
    return llvm::Error::success();
  }
  if (std::error_code error = llvm::sys::fs::create_directories(directory))
    return llvm::createStringError(error, "cannot create %s: %s",
                                   directory.str().c_str(),
                                   error.message().c_str());
  auto write = [&](llvm::StringRef name, llvm::StringRef text) -> llvm::Error {
    llvm::SmallString<256> path(directory);
    llvm::sys::path::append(path, name);
    std::error_code error;
    llvm::raw_fd_ostream os(path, error);
    if (!error) {
      os << text;
      os.close();
      error = os.error();
    }
    if (error)
      return llvm::createStringError(error, "cannot write %s: %s", path.c_str(),
                                     error.message().c_str());
    return llvm::Error::success();
  };
  for (auto [kernel, text] : llvm::zip(kernels->kernels, texts))
    if (llvm::Error error =
            write(kernel.entries.front().name + extension, text))
      return error;
  return write("kernels.txt", manifest);
}

} // namespace llmc::codegen::cuda
