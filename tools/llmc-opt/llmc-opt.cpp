//===- llmc-opt.cpp - runs llmc passes on .mlir files (lit tests, debugging)
//===//

#include "compiler/registration/Registration.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  llmc::registerAllLlmcDialects(registry);
  llmc::registerAllLlmcPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "llmc optimizer driver\n", registry));
}
