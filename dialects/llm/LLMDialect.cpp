//===- LLMDialect.cpp - the llm dialect, its types and attributes
//----------===//

#include "dialects/llm/LLMDialect.h"

#include "dialects/common/VerifierUtils.h"
#include "dialects/llm/LLMOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::llm;

#include "dialects/llm/LLMDialect.cpp.inc"
#include "dialects/llm/LLMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/llm/LLMAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/llm/LLMTypes.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/llm/LLMOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/llm/LLMAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/llm/LLMTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// #llm.rope_scaling
//===----------------------------------------------------------------------===//

Attribute RopeScalingAttr::parse(AsmParser &parser, Type) {
  StringRef kindName;
  SMLoc kindLoc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword(&kindName))
    return {};
  std::optional<RopeScalingKind> kind = symbolizeRopeScalingKind(kindName);
  if (!kind) {
    parser.emitError(kindLoc, "unknown rope scaling kind '")
        << kindName << "'; expected linear, llama3 or yarn";
    return {};
  }
  std::optional<double> factor;
  double lowFreqFactor = 1.0, highFreqFactor = 4.0;
  int64_t originalMaxPosition = 0;
  while (succeeded(parser.parseOptionalComma())) {
    StringRef key;
    SMLoc keyLoc = parser.getCurrentLocation();
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    if (key == "factor") {
      double value;
      if (parser.parseFloat(value))
        return {};
      factor = value;
    } else if (key == "low_freq_factor") {
      if (parser.parseFloat(lowFreqFactor))
        return {};
    } else if (key == "high_freq_factor") {
      if (parser.parseFloat(highFreqFactor))
        return {};
    } else if (key == "original_max_position") {
      if (parser.parseInteger(originalMaxPosition))
        return {};
    } else {
      parser.emitError(keyLoc, "unknown rope scaling parameter '")
          << key << "'";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  if (!factor) {
    parser.emitError(kindLoc, "rope scaling needs 'factor'");
    return {};
  }
  return parser.getChecked<RopeScalingAttr>(
      parser.getContext(), *kind, APFloat(*factor), APFloat(lowFreqFactor),
      APFloat(highFreqFactor), originalMaxPosition);
}

void RopeScalingAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyRopeScalingKind(getKind())
          << ", factor = " << getFactor().convertToDouble();
  if (getKind() == RopeScalingKind::Llama3)
    printer << ", low_freq_factor = " << getLowFreqFactor().convertToDouble()
            << ", high_freq_factor = " << getHighFreqFactor().convertToDouble();
  if (getKind() != RopeScalingKind::Linear)
    printer << ", original_max_position = " << getOriginalMaxPosition();
  printer << ">";
}

LogicalResult
RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        RopeScalingKind kind, APFloat factorValue,
                        APFloat lowFreqValue, APFloat highFreqValue,
                        int64_t originalMaxPosition) {
  double factor = factorValue.convertToDouble();
  double lowFreqFactor = lowFreqValue.convertToDouble();
  double highFreqFactor = highFreqValue.convertToDouble();
  if (!(factor > 0.0) || !std::isfinite(factor))
    return emitError() << "rope scaling factor must be a positive number, got "
                       << formatNumber(factor);
  if (kind == RopeScalingKind::Linear)
    return success();
  if (originalMaxPosition <= 0)
    return emitError() << stringifyRopeScalingKind(kind)
                       << " rope scaling needs original_max_position > 0, got "
                       << originalMaxPosition;
  if (kind == RopeScalingKind::Llama3 &&
      !(lowFreqFactor > 0.0 && highFreqFactor > lowFreqFactor))
    return emitError() << "llama3 rope scaling needs 0 < low_freq_factor < "
                          "high_freq_factor, got "
                       << formatNumber(lowFreqFactor) << " and "
                       << formatNumber(highFreqFactor);
  return success();
}
