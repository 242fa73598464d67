//===- Target.h - the chips llmc compiles for and their precision policy --===//
//
// Plain C++17 with no MLIR or LLVM dependency: the runtime reuses this table to
// check that an artifact matches the GPU it is loaded on.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_COMPILER_TARGETS_TARGET_H
#define LLMC_COMPILER_TARGETS_TARGET_H

#include <string>
#include <string_view>
#include <vector>

namespace llmc {

/// A `--quant` mode. The declaration order is the order modes are listed to
/// users (fastest GEMMs first), so `allQuantModes()` and every "use
/// --quant=..." hint agree.
/// How weights and activations are stored and multiplied. F32 quantizes
/// nothing: the full-precision reference that accuracy is measured against.
enum class QuantMode { Int8, Fp8, W8A16, W4A16, Fp16, Bf16, F32 };

/// The hardware unit whose GEMMs a mode needs. FP16 tensor cores exist on every
/// supported GPU and weight-only modes dequantize into FP16 GEMMs, so those
/// modes need nothing beyond a supported chip.
enum class TensorCoreUnit { None, Bf16, Int8, Fp8 };

/// How a target provides a tensor-core unit. The CPU backend emulates FP8 in
/// software (it is the reference GPU results are compared against), which is
/// slow but exact enough to test with, so it is allowed.
enum class UnitSupport { Absent, Native, Emulated };

struct Target {
  /// The canonical name users pass to `--target` and that messages print.
  std::string name;
  /// Other names users type for the same chip (board variants, bare model
  /// numbers). Only names that mean exactly this chip: `sm_90a` is shared by
  /// h100, h800 and h200, so it is not an alias of any of them.
  std::vector<std::string> aliases;
  /// NVIDIA architecture family ("Hopper") or the CPU ISA ("x86-64").
  std::string architecture;
  /// Compute capability as NVRTC spells it after `sm_` ("90a", "75"); empty
  /// for the CPU.
  std::string sm;
  UnitSupport bf16;
  UnitSupport int8;
  UnitSupport fp8;
  /// The mode used when `--quant` is not given: the fastest one the chip runs
  /// natively. Meaningless for a refused target.
  QuantMode defaultQuant;
  /// Why llmc cannot compile for this chip; empty when it can.
  std::string refusalReason;

  bool isGpu() const { return !sm.empty(); }
  bool isRefused() const { return !refusalReason.empty(); }
  /// "t4 (Turing, sm_75)" or "cpu (x86-64)": how messages name the target.
  std::string describe() const;
  UnitSupport support(TensorCoreUnit unit) const;
};

/// Every target, in the order `llmc targets` prints them (newest GPUs first,
/// cpu last).
const std::vector<Target> &allTargets();

/// The target called `nameOrAlias`, or nullptr. Matching ignores case and the
/// separators '-', '_' and ' ', so "H100-SXM", "h100_sxm" and "h100sxm" all
/// name the h100.
const Target *lookupTarget(std::string_view nameOrAlias);

/// The canonical target names joined by ", ", for "known targets: ..." hints.
std::string knownTargetNames();

/// Every mode in listing order.
const std::vector<QuantMode> &allQuantModes();
/// The spelling users type: "fp8", "w4a16", ...
std::string_view quantModeName(QuantMode mode);
/// The mode spelled `name` (case-insensitive); false when there is none.
bool parseQuantMode(std::string_view name, QuantMode &mode);
/// Every mode name joined by ", ", for "unknown --quant" hints.
std::string knownQuantModeNames();

TensorCoreUnit requiredUnit(QuantMode mode);
/// "FP8 tensor cores", for "has no ..." messages.
std::string_view unitName(TensorCoreUnit unit);

/// The modes `target` can run, in listing order; empty for a refused target.
std::vector<QuantMode> supportedQuantModes(const Target &target);

/// The outcome of checking a request against the table: ok, or a message
/// (without an "error: " prefix) a user can act on.
struct [[nodiscard]] TargetCheck {
  std::string errorMessage;
  bool ok() const { return errorMessage.empty(); }
};

/// Whether llmc compiles for `target` at all; the refusal names the chip and
/// the reason, e.g. "v100 (Volta, sm_70) is not supported: CUDA 13 has no
/// sm_70 code generation".
TargetCheck checkTargetSupported(const Target &target);

/// Whether `target` can run `mode`. The error names the chip, the missing unit
/// and the modes it does have: "t4 (Turing, sm_75) has no FP8 tensor cores;
/// use --quant=int8, w8a16, w4a16 or fp16". A refused target fails with its
/// refusal whatever the mode.
TargetCheck checkTargetQuant(const Target &target, QuantMode mode);

/// The table `llmc targets` prints: one aligned row per target with its
/// aliases, architecture, SM, BF16/INT8/FP8 support and default mode (or
/// "refused: <reason>").
std::string formatTargetTable();

} // namespace llmc

#endif // LLMC_COMPILER_TARGETS_TARGET_H
