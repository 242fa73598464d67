//===- Target.cpp - the target table and the precision checks over it -----===//

#include "compiler/targets/Target.h"

#include <algorithm>
#include <cctype>
#include <cstddef>

namespace llmc {

namespace {

constexpr UnitSupport kYes = UnitSupport::Native;
constexpr UnitSupport kNo = UnitSupport::Absent;

// Rows follow DESIGN.md "Targets and precision policy", which corrects the
// seed's GPU table where NVIDIA's documentation disagrees: Ada (sm_89) has FP8
// tensor cores, and CUDA 13 dropped Volta (sm_70). Defaults are the fastest
// mode each chip runs natively: FP8 from Ada on, INT8 (W8A8) before.
std::vector<Target> buildTargetTable() {
  const std::string cuda13DroppedVolta = "CUDA 13 has no sm_70 code generation";
  // One row per line so the table reads like DESIGN.md's; clang-format would
  // spread each row over nine lines.
  // clang-format off
  return {
      // name        aliases                                                arch         sm      BF16  INT8  FP8   default          refusal
      {"b200",       {"b200-sxm"},                                          "Blackwell", "100a", kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"b100",       {"b100-sxm"},                                          "Blackwell", "100a", kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"h100",       {"h100-sxm", "h100-pcie", "h100-nvl"},                 "Hopper",    "90a",  kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"h800",       {"h800-sxm", "h800-pcie"},                             "Hopper",    "90a",  kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"h200",       {"h200-sxm", "h200-nvl"},                              "Hopper",    "90a",  kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"rtx4090",    {"4090"},                                              "Ada",       "89",   kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"rtx4090d",   {"4090d"},                                             "Ada",       "89",   kYes, kYes, kYes, QuantMode::Fp8,  ""},
      // The 4080 Super is the same AD103 chip.
      {"rtx4080",    {"4080", "rtx4080-super"},                             "Ada",       "89",   kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"rtx6000ada", {},                                                    "Ada",       "89",   kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"rtx5000ada", {},                                                    "Ada",       "89",   kYes, kYes, kYes, QuantMode::Fp8,  ""},
      {"a100",       {"a100-sxm", "a100-pcie", "a100-40g", "a100-80g"},     "Ampere",    "80",   kYes, kYes, kNo,  QuantMode::Int8, ""},
      {"a800",       {"a800-sxm", "a800-pcie"},                             "Ampere",    "80",   kYes, kYes, kNo,  QuantMode::Int8, ""},
      // The 3090 Ti is the same GA102 chip.
      {"rtx3090",    {"3090", "rtx3090ti"},                                 "Ampere",    "86",   kYes, kYes, kNo,  QuantMode::Int8, ""},
      {"rtxa6000",   {"a6000"},                                             "Ampere",    "86",   kYes, kYes, kNo,  QuantMode::Int8, ""},
      {"a2",         {},                                                    "Ampere",    "86",   kYes, kYes, kNo,  QuantMode::Int8, ""},
      {"t4",         {"tesla-t4"},                                          "Turing",    "75",   kNo,  kYes, kNo,  QuantMode::Int8, ""},
      {"rtx2080ti",  {"2080ti"},                                            "Turing",    "75",   kNo,  kYes, kNo,  QuantMode::Int8, ""},
      // Kept in the table so users get the reason instead of "unknown target".
      {"v100",       {"v100-sxm2", "v100-pcie", "sm_70"},                   "Volta",     "70",   kNo,  kYes, kNo,  QuantMode::Int8, cuda13DroppedVolta},
      {"cpu",        {"host", "x86-64"},                                    "x86-64",    "",     kYes, kYes, UnitSupport::Emulated, QuantMode::Int8, ""},
  };
  // clang-format on
}

// Users write "H100-SXM", "h100_sxm" or "RTX 4090"; all of them mean one chip.
std::string normalizeTargetName(std::string_view name) {
  std::string normalized;
  normalized.reserve(name.size());
  for (char c : name) {
    if (c == '-' || c == '_' || c == ' ')
      continue;
    normalized.push_back(
        static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return normalized;
}

bool equalsIgnoringCase(std::string_view lhs, std::string_view rhs) {
  return lhs.size() == rhs.size() &&
         std::equal(lhs.begin(), lhs.end(), rhs.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// "a, b or c": how the hints list alternatives.
std::string joinWithOr(const std::vector<std::string_view> &items) {
  std::string joined;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      joined += i + 1 == items.size() ? " or " : ", ";
    joined += items[i];
  }
  return joined;
}

std::string_view supportCell(UnitSupport support) {
  switch (support) {
  case UnitSupport::Native:
    return "yes";
  case UnitSupport::Emulated:
    return "emulated";
  case UnitSupport::Absent:
    return "no";
  }
  return "no";
}

} // namespace

std::string Target::describe() const {
  if (!isGpu())
    return name + " (" + architecture + ")";
  return name + " (" + architecture + ", sm_" + sm + ")";
}

UnitSupport Target::support(TensorCoreUnit unit) const {
  switch (unit) {
  case TensorCoreUnit::None:
    return UnitSupport::Native;
  case TensorCoreUnit::Bf16:
    return bf16;
  case TensorCoreUnit::Int8:
    return int8;
  case TensorCoreUnit::Fp8:
    return fp8;
  }
  return UnitSupport::Absent;
}

const std::vector<Target> &allTargets() {
  static const std::vector<Target> table = buildTargetTable();
  return table;
}

const Target *lookupTarget(std::string_view nameOrAlias) {
  std::string wanted = normalizeTargetName(nameOrAlias);
  if (wanted.empty())
    return nullptr;
  for (const Target &target : allTargets()) {
    if (normalizeTargetName(target.name) == wanted)
      return &target;
    for (const std::string &alias : target.aliases)
      if (normalizeTargetName(alias) == wanted)
        return &target;
  }
  return nullptr;
}

std::string knownTargetNames() {
  std::string names;
  for (const Target &target : allTargets()) {
    if (!names.empty())
      names += ", ";
    names += target.name;
  }
  return names;
}

const std::vector<QuantMode> &allQuantModes() {
  static const std::vector<QuantMode> modes = {
      QuantMode::Int8,  QuantMode::Fp8,  QuantMode::W8A16,
      QuantMode::W4A16, QuantMode::Fp16, QuantMode::Bf16, QuantMode::F32};
  return modes;
}

std::string_view quantModeName(QuantMode mode) {
  switch (mode) {
  case QuantMode::Int8:
    return "int8";
  case QuantMode::Fp8:
    return "fp8";
  case QuantMode::W8A16:
    return "w8a16";
  case QuantMode::W4A16:
    return "w4a16";
  case QuantMode::Fp16:
    return "fp16";
  case QuantMode::Bf16:
    return "bf16";
  case QuantMode::F32:
    return "f32";
  }
  return "unknown";
}

bool parseQuantMode(std::string_view name, QuantMode &mode) {
  for (QuantMode candidate : allQuantModes()) {
    if (equalsIgnoringCase(name, quantModeName(candidate))) {
      mode = candidate;
      return true;
    }
  }
  return false;
}

std::string knownQuantModeNames() {
  std::string names;
  for (QuantMode mode : allQuantModes()) {
    if (!names.empty())
      names += ", ";
    names += quantModeName(mode);
  }
  return names;
}

TensorCoreUnit requiredUnit(QuantMode mode) {
  switch (mode) {
  case QuantMode::Int8:
    return TensorCoreUnit::Int8;
  case QuantMode::Fp8:
    return TensorCoreUnit::Fp8;
  case QuantMode::Bf16:
    return TensorCoreUnit::Bf16;
  case QuantMode::W8A16:
  case QuantMode::W4A16:
  case QuantMode::Fp16:
  case QuantMode::F32:
    return TensorCoreUnit::None;
  }
  return TensorCoreUnit::None;
}

std::string_view unitName(TensorCoreUnit unit) {
  switch (unit) {
  case TensorCoreUnit::None:
    return "FP16 tensor cores";
  case TensorCoreUnit::Bf16:
    return "BF16 tensor cores";
  case TensorCoreUnit::Int8:
    return "INT8 tensor cores";
  case TensorCoreUnit::Fp8:
    return "FP8 tensor cores";
  }
  return "tensor cores";
}

std::vector<QuantMode> supportedQuantModes(const Target &target) {
  std::vector<QuantMode> modes;
  if (target.isRefused())
    return modes;
  for (QuantMode mode : allQuantModes())
    if (target.support(requiredUnit(mode)) != UnitSupport::Absent)
      modes.push_back(mode);
  return modes;
}

TargetCheck checkTargetSupported(const Target &target) {
  if (!target.isRefused())
    return {};
  return {target.describe() + " is not supported: " + target.refusalReason};
}

TargetCheck checkTargetQuant(const Target &target, QuantMode mode) {
  TargetCheck supported = checkTargetSupported(target);
  if (!supported.ok())
    return supported;
  TensorCoreUnit unit = requiredUnit(mode);
  if (target.support(unit) != UnitSupport::Absent)
    return {};
  std::vector<std::string_view> alternatives;
  // f32 is the accuracy reference, not a way to deploy: not suggested.
  for (QuantMode supportedMode : supportedQuantModes(target))
    if (supportedMode != QuantMode::F32)
      alternatives.push_back(quantModeName(supportedMode));
  return {target.describe() + " has no " + std::string(unitName(unit)) +
          "; use --quant=" + joinWithOr(alternatives)};
}

std::string formatTargetTable() {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"target", "aliases", "arch", "sm", "BF16", "INT8", "FP8",
                  "default quant"});
  for (const Target &target : allTargets()) {
    std::string aliases;
    for (const std::string &alias : target.aliases)
      aliases += (aliases.empty() ? "" : ",") + alias;
    rows.push_back({target.name, aliases.empty() ? "-" : aliases,
                    target.architecture, target.isGpu() ? target.sm : "-",
                    std::string(supportCell(target.bf16)),
                    std::string(supportCell(target.int8)),
                    std::string(supportCell(target.fp8)),
                    target.isRefused()
                        ? "refused: " + target.refusalReason
                        : std::string(quantModeName(target.defaultQuant))});
  }

  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const std::vector<std::string> &row : rows)
    for (std::size_t column = 0; column < row.size(); ++column)
      widths[column] = std::max(widths[column], row[column].size());

  std::string table;
  for (const std::vector<std::string> &row : rows) {
    for (std::size_t column = 0; column < row.size(); ++column) {
      table += row[column];
      // No padding after the last column: trailing blanks only get in the
      // way of people piping the table into other tools.
      if (column + 1 < row.size())
        table += std::string(widths[column] - row[column].size() + 2, ' ');
    }
    table += '\n';
  }
  table += "\nfp16, w8a16, w4a16 and f32 (the unquantized reference) run on "
           "every supported target; cpu emulates FP8 in software.\n";
  return table;
}

} // namespace llmc
