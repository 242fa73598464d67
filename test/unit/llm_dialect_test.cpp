// Unit tests of the llm dialect's C++ API: attribute verification and parsing
// through the shared registration that every tool uses.

#include "compiler/registration/Registration.h"
#include "dialects/llm/LLMOps.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

namespace {

class LLMDialectTest : public ::testing::Test {
protected:
  LLMDialectTest() {
    mlir::DialectRegistry registry;
    llmc::registerAllLlmcDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }
  mlir::MLIRContext context;
};

// A rope scaling factor that is not positive is refused with the value in the
// message.
TEST_F(LLMDialectTest, RopeScalingRejectsNonPositiveFactor) {
  std::string message;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    message = diag.str();
    return mlir::success();
  });
  EXPECT_FALSE(mlir::parseAttribute("#llm.rope_scaling<linear, factor = -2.0>",
                                    &context));
  EXPECT_NE(message.find("factor must be a positive number, got -2"),
            std::string::npos)
      << message;
}

// llama3 scaling parses all four of its parameters into the attribute's
// getters.
TEST_F(LLMDialectTest, RopeScalingLlama3KeepsParameters) {
  auto attr =
      llvm::dyn_cast_or_null<llmc::llm::RopeScalingAttr>(mlir::parseAttribute(
          "#llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, "
          "high_freq_factor = 4.0, original_max_position = 8192>",
          &context));
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr.getKind(), llmc::llm::RopeScalingKind::Llama3);
  EXPECT_EQ(attr.getFactor().convertToDouble(), 8.0);
  EXPECT_EQ(attr.getHighFreqFactor().convertToDouble(), 4.0);
  EXPECT_EQ(attr.getOriginalMaxPosition(), 8192);
}

// A GQA attention with 9 query heads over 3 KV heads parses and verifies;
// the same with 4 KV heads is refused.
TEST_F(LLMDialectTest, AttentionVerifiesGroupedHeads) {
  const char *valid = R"mlir(
    func.func @f(%q: tensor<?x9x64xf32>, %k: tensor<?x3x64xf32>, %b: !llm.batch) -> tensor<?x9x64xf32> {
      %o = llm.attention %q, %k, %k, %b {layer = 0 : i64, scale = 0.125 : f64}
          : tensor<?x9x64xf32>, tensor<?x3x64xf32>, tensor<?x3x64xf32> -> tensor<?x9x64xf32>
      return %o : tensor<?x9x64xf32>
    })mlir";
  EXPECT_TRUE(mlir::parseSourceString<mlir::ModuleOp>(valid, &context));

  std::string message;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    message = diag.str();
    return mlir::success();
  });
  std::string invalid = valid;
  for (size_t at; (at = invalid.find("x3x64")) != std::string::npos;)
    invalid.replace(at, 5, "x4x64");
  EXPECT_FALSE(mlir::parseSourceString<mlir::ModuleOp>(invalid, &context));
  EXPECT_NE(message.find("multiple of KV heads (4)"), std::string::npos)
      << message;
}

} // namespace
