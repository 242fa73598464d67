//===- llmc-codegen.cpp - writes the CUDA kernels of a plan (lit, timing) -===//
//
// llmc-codegen MODEL.mlir --target=h100 --emit=cuda|ptx -o DIR|-
// MODEL.mlir is a plan module, or an llm-dialect module that is lowered
// first (llm-lower-to-plan, plan-memory). `--time` compiles every kernel
// with NVRTC through the cache and prints the seconds and cache hits;
// `--attach-launches` prints the plan with each generated step's launches.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/EmitCuda.h"
#include "compiler/codegen/cuda/LaunchLowering.h"
#include "compiler/registration/Registration.h"
#include "dialects/plan/PlanOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace llvm;
namespace cuda = llmc::codegen::cuda;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input.mlir>"),
                                      cl::Required);
static cl::opt<std::string> targetName("target", cl::desc("GPU target"),
                                       cl::init("h100"));
static cl::opt<std::string> emit("emit", cl::desc("cuda or ptx"),
                                 cl::init("cuda"));
static cl::opt<std::string> outputDirectory("o", cl::desc("folder, or -"),
                                            cl::init("-"));
static cl::opt<int64_t> maxTokens("max-tokens",
                                  cl::desc("for lowering llm modules"),
                                  cl::init(512));
static cl::opt<std::string> gemmBackend("gemm-backend",
                                        cl::desc("for lowering llm modules"),
                                        cl::init("cublaslt"));
static cl::opt<std::string> cacheDirectory("cache-dir",
                                           cl::desc("kernel cache folder"));
static cl::opt<bool> noCache("no-cache", cl::desc("bypass the kernel cache"));
static cl::opt<bool> attachLaunchesToSteps(
    "attach-launches",
    cl::desc("attach each generated step's plan.launches and print the plan"));
static cl::opt<bool>
    timeCompile("time",
                cl::desc("compile every kernel and print seconds, no output"));

static int fail(const Twine &message) {
  errs() << "llmc-codegen: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "llmc CUDA code generation\n");
  const llmc::Target *target = llmc::lookupTarget(targetName);
  if (!target)
    return fail("unknown target '" + targetName +
                "'; known targets: " + llmc::knownTargetNames());

  mlir::DialectRegistry registry;
  llmc::registerAllLlmcDialects(registry);
  llmc::registerAllLlmcPasses();
  mlir::MLIRContext context(registry);
  SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(inputFile, sourceMgr, &context);
  if (!module)
    return 1;
  if (module->getOps<llmc::plan::RankOp>().empty()) {
    mlir::PassManager pm(&context);
    std::string pipeline =
        "llm-lower-to-plan{max-tokens=" + std::to_string(maxTokens) +
        " backend=" + gemmBackend + "},plan-memory";
    if (failed(mlir::parsePassPipeline(pipeline, pm)) ||
        failed(pm.run(*module)))
      return 1;
  }

  if (attachLaunchesToSteps) {
    Expected<cuda::PlanKernels> kernels =
        cuda::collectPlanKernelsOrError(*module, *target);
    if (!kernels)
      return fail(toString(kernels.takeError()));
    if (failed(cuda::attachLaunches(*module, *kernels)) ||
        failed(mlir::verify(*module)))
      return 1;
    module->print(outs());
    outs() << "\n";
    return 0;
  }

  cuda::KernelCompilerOptions options;
  options.cacheDirectory = cacheDirectory;
  options.useCache = !noCache;
  if (timeCompile) {
    auto start = std::chrono::steady_clock::now();
    Expected<cuda::PlanKernels> kernels =
        cuda::collectPlanKernelsOrError(*module, *target);
    if (!kernels)
      return fail(toString(kernels.takeError()));
    cuda::KernelCompileStatistics statistics;
    auto compiled =
        cuda::compileKernels(kernels->kernels, *target, options, &statistics);
    if (!compiled)
      return fail(toString(compiled.takeError()));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    outs() << format("%s: %zu kernels for %lld steps: %lld compiled, %lld "
                     "from cache, %lld rebuilt, %.2f s\n",
                     target->describe().c_str(), kernels->kernels.size(),
                     static_cast<long long>(kernels->generatedSteps),
                     static_cast<long long>(statistics.compiled),
                     static_cast<long long>(statistics.cacheHits),
                     static_cast<long long>(statistics.cacheEntriesRebuilt),
                     seconds);
    return 0;
  }
  cuda::EmitFormat format;
  if (emit == "cuda")
    format = cuda::EmitFormat::Cuda;
  else if (emit == "ptx")
    format = cuda::EmitFormat::Ptx;
  else
    return fail("--emit must be cuda or ptx, got '" + emit + "'");
  if (Error error = cuda::emitCudaKernels(*module, *target, format,
                                          outputDirectory, options))
    return fail(toString(std::move(error)));
  return 0;
}
