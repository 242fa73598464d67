//===- Registration.cpp - the dialects and passes every llmc tool knows
//----===//

#include "compiler/registration/Registration.h"

#include "dialects/llm/LLMDialect.h"
#include "dialects/plan/PlanDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "passes/Passes.h"

namespace llmc {

void registerAllLlmcDialects(mlir::DialectRegistry &registry) {
  registry.insert<llm::LLMDialect, plan::PlanDialect, mlir::arith::ArithDialect,
                  mlir::func::FuncDialect, mlir::tensor::TensorDialect>();
}

void registerAllLlmcPasses() {
  registerLlmcPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  mlir::registerInlinerPass();
}

} // namespace llmc
