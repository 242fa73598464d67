//===- PlanDialect.h - the plan dialect and its enum attributes -----------===//

#ifndef LLMC_DIALECTS_PLAN_PLANDIALECT_H
#define LLMC_DIALECTS_PLAN_PLANDIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/plan/PlanDialect.h.inc"
#include "dialects/plan/PlanEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/plan/PlanAttrs.h.inc"

namespace llmc::plan {

/// The communicator every collective of a rank goes through; plan.collective
/// reads and writes it so collectives keep their order.
struct CommunicatorResource
    : mlir::SideEffects::Resource::Base<CommunicatorResource> {
  llvm::StringRef getName() final { return "<Communicator>"; }
};

} // namespace llmc::plan

#endif // LLMC_DIALECTS_PLAN_PLANDIALECT_H
