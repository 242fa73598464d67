// Unit tests of the target table and precision policy (compiler/targets): the
// facts of every chip, name lookup, and the exact refusal messages.
//
// The expected rows are typed in from DESIGN.md "Targets and precision policy"
// (itself checked against NVIDIA's CUDA compute-capability tables), not copied
// from Target.cpp, so a wrong edit of the table fails here.

#include "compiler/targets/Target.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using llmc::QuantMode;
using llmc::Target;
using llmc::UnitSupport;

struct ExpectedTarget {
  const char *name;
  const char *architecture;
  const char *sm;
  bool bf16;
  bool int8;
  bool fp8;
  QuantMode defaultQuant;
};

const std::vector<ExpectedTarget> &designTable() {
  static const std::vector<ExpectedTarget> table = {
      {"b200", "Blackwell", "100a", true, true, true, QuantMode::Fp8},
      {"b100", "Blackwell", "100a", true, true, true, QuantMode::Fp8},
      {"h100", "Hopper", "90a", true, true, true, QuantMode::Fp8},
      {"h800", "Hopper", "90a", true, true, true, QuantMode::Fp8},
      {"h200", "Hopper", "90a", true, true, true, QuantMode::Fp8},
      {"rtx4090", "Ada", "89", true, true, true, QuantMode::Fp8},
      {"rtx4090d", "Ada", "89", true, true, true, QuantMode::Fp8},
      {"rtx4080", "Ada", "89", true, true, true, QuantMode::Fp8},
      {"rtx6000ada", "Ada", "89", true, true, true, QuantMode::Fp8},
      {"rtx5000ada", "Ada", "89", true, true, true, QuantMode::Fp8},
      {"a100", "Ampere", "80", true, true, false, QuantMode::Int8},
      {"a800", "Ampere", "80", true, true, false, QuantMode::Int8},
      {"rtx3090", "Ampere", "86", true, true, false, QuantMode::Int8},
      {"rtxa6000", "Ampere", "86", true, true, false, QuantMode::Int8},
      {"a2", "Ampere", "86", true, true, false, QuantMode::Int8},
      {"t4", "Turing", "75", false, true, false, QuantMode::Int8},
      {"rtx2080ti", "Turing", "75", false, true, false, QuantMode::Int8},
      {"v100", "Volta", "70", false, true, false, QuantMode::Int8},
  };
  return table;
}

const Target &target(const char *name) {
  const Target *found = llmc::lookupTarget(name);
  EXPECT_NE(found, nullptr) << name;
  static const Target empty{};
  return found ? *found : empty;
}

std::string modeNames(const std::vector<QuantMode> &modes) {
  std::string names;
  for (QuantMode mode : modes)
    names += std::string(names.empty() ? "" : " ") +
             std::string(llmc::quantModeName(mode));
  return names;
}

// Every GPU of DESIGN.md's table is found by name with its architecture, SM,
// tensor-core units and default mode.
TEST(TargetsTest, EveryDesignGpuHasItsFacts) {
  for (const ExpectedTarget &expected : designTable()) {
    SCOPED_TRACE(expected.name);
    const Target *found = llmc::lookupTarget(expected.name);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->name, expected.name);
    EXPECT_EQ(found->architecture, expected.architecture);
    EXPECT_EQ(found->sm, expected.sm);
    EXPECT_TRUE(found->isGpu());
    auto native = [](bool has) {
      return has ? UnitSupport::Native : UnitSupport::Absent;
    };
    EXPECT_EQ(found->bf16, native(expected.bf16));
    EXPECT_EQ(found->int8, native(expected.int8));
    EXPECT_EQ(found->fp8, native(expected.fp8));
    if (!found->isRefused())
      EXPECT_EQ(found->defaultQuant, expected.defaultQuant);
  }
}

// The CPU target has no SM, runs BF16 and INT8, emulates FP8 and defaults to
// int8.
TEST(TargetsTest, CpuTargetFacts) {
  const Target &cpu = target("cpu");
  EXPECT_FALSE(cpu.isGpu());
  EXPECT_EQ(cpu.sm, "");
  EXPECT_EQ(cpu.architecture, "x86-64");
  EXPECT_EQ(cpu.bf16, UnitSupport::Native);
  EXPECT_EQ(cpu.int8, UnitSupport::Native);
  EXPECT_EQ(cpu.fp8, UnitSupport::Emulated);
  EXPECT_EQ(cpu.defaultQuant, QuantMode::Int8);
  EXPECT_FALSE(cpu.isRefused());
}

// The table holds exactly DESIGN.md's GPUs plus cpu, in the printed order.
TEST(TargetsTest, TableHasExactlyTheDesignTargetsInOrder) {
  const std::vector<Target> &targets = llmc::allTargets();
  ASSERT_EQ(targets.size(), designTable().size() + 1);
  for (std::size_t i = 0; i < designTable().size(); ++i)
    EXPECT_EQ(targets[i].name, designTable()[i].name);
  EXPECT_EQ(targets.back().name, "cpu");
  EXPECT_EQ(llmc::knownTargetNames(),
            "b200, b100, h100, h800, h200, rtx4090, rtx4090d, rtx4080, "
            "rtx6000ada, rtx5000ada, a100, a800, rtx3090, rtxa6000, a2, t4, "
            "rtx2080ti, v100, cpu");
}

// Only v100 is refused, and its reason is CUDA 13 dropping sm_70.
TEST(TargetsTest, OnlyV100IsRefused) {
  for (const Target &each : llmc::allTargets())
    EXPECT_EQ(each.isRefused(), each.name == "v100") << each.name;
  EXPECT_EQ(target("v100").refusalReason,
            "CUDA 13 has no sm_70 code generation");
}

// Lookup ignores case.
TEST(TargetsTest, LookupIgnoresCase) {
  EXPECT_EQ(&target("H100"), &target("h100"));
  EXPECT_EQ(&target("RTX4090"), &target("rtx4090"));
  EXPECT_EQ(&target("Cpu"), &target("cpu"));
}

// Lookup ignores '-', '_' and ' ', the separators product names are written
// with.
TEST(TargetsTest, LookupIgnoresSeparators) {
  EXPECT_EQ(target("rtx-4090").name, "rtx4090");
  EXPECT_EQ(target("RTX 6000 Ada").name, "rtx6000ada");
  EXPECT_EQ(target("rtx_a6000").name, "rtxa6000");
  EXPECT_EQ(target("h100_sxm").name, "h100");
  EXPECT_EQ(target("RTX-2080-Ti").name, "rtx2080ti");
}

// The documented aliases name their chip.
TEST(TargetsTest, AliasesNameTheirChip) {
  EXPECT_EQ(target("h100-sxm").name, "h100");
  EXPECT_EQ(target("h100-pcie").name, "h100");
  EXPECT_EQ(target("h100-nvl").name, "h100");
  EXPECT_EQ(target("h200-nvl").name, "h200");
  EXPECT_EQ(target("a100-80g").name, "a100");
  EXPECT_EQ(target("a100-40g").name, "a100");
  EXPECT_EQ(target("4090").name, "rtx4090");
  EXPECT_EQ(target("4090d").name, "rtx4090d");
  EXPECT_EQ(target("rtx4080-super").name, "rtx4080");
  EXPECT_EQ(target("rtx3090ti").name, "rtx3090");
  EXPECT_EQ(target("a6000").name, "rtxa6000");
  EXPECT_EQ(target("tesla-t4").name, "t4");
  EXPECT_EQ(target("2080ti").name, "rtx2080ti");
  EXPECT_EQ(target("sm_70").name, "v100");
  EXPECT_EQ(target("v100-sxm2").name, "v100");
  EXPECT_EQ(target("x86-64").name, "cpu");
  EXPECT_EQ(target("host").name, "cpu");
}

// Every name and alias, once separators and case are ignored, belongs to one
// target only, so no lookup depends on the table's order.
TEST(TargetsTest, NamesAndAliasesAreUnambiguous) {
  std::set<std::string> seen;
  for (const Target &each : llmc::allTargets()) {
    std::vector<std::string> names = each.aliases;
    names.push_back(each.name);
    for (const std::string &name : names) {
      std::string key;
      for (char c : name)
        if (c != '-' && c != '_' && c != ' ')
          key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_TRUE(seen.insert(key).second) << name << " is used twice";
      EXPECT_EQ(llmc::lookupTarget(name), &each) << name;
    }
  }
}

// Names that several chips share (an SM, an architecture) are not aliases, and
// unknown or empty names find nothing.
TEST(TargetsTest, SharedAndUnknownNamesFindNothing) {
  for (const char *name :
       {"sm_90a", "sm_90", "hopper", "sm_80", "sm_86", "sm_89", "ada", "sm_75",
        "turing", "sm_100a", "xyz", "", "-", "h100x", "h10"})
    EXPECT_EQ(llmc::lookupTarget(name), nullptr) << name;
}

// Mode names round-trip, parse case-insensitively and are listed in the
// documented order.
TEST(TargetsTest, QuantModeNames) {
  EXPECT_EQ(llmc::knownQuantModeNames(), "int8, fp8, w8a16, w4a16, fp16, bf16, f32");
  for (QuantMode mode : llmc::allQuantModes()) {
    QuantMode parsed = QuantMode::Bf16;
    EXPECT_TRUE(llmc::parseQuantMode(llmc::quantModeName(mode), parsed));
    EXPECT_EQ(parsed, mode);
  }
  QuantMode parsed = QuantMode::Int8;
  EXPECT_TRUE(llmc::parseQuantMode("FP8", parsed));
  EXPECT_EQ(parsed, QuantMode::Fp8);
  EXPECT_TRUE(llmc::parseQuantMode("W4A16", parsed));
  EXPECT_EQ(parsed, QuantMode::W4A16);
  for (const char *unknown : {"fp4", "", "int4", "fp8 ", "w4a8"})
    EXPECT_FALSE(llmc::parseQuantMode(unknown, parsed)) << unknown;
}

// fp8, int8 and bf16 need their tensor-core unit; fp16 and the weight-only
// modes need nothing beyond a supported GPU.
TEST(TargetsTest, RequiredUnits) {
  EXPECT_EQ(llmc::requiredUnit(QuantMode::Fp8), llmc::TensorCoreUnit::Fp8);
  EXPECT_EQ(llmc::requiredUnit(QuantMode::Int8), llmc::TensorCoreUnit::Int8);
  EXPECT_EQ(llmc::requiredUnit(QuantMode::Bf16), llmc::TensorCoreUnit::Bf16);
  EXPECT_EQ(llmc::requiredUnit(QuantMode::Fp16), llmc::TensorCoreUnit::None);
  EXPECT_EQ(llmc::requiredUnit(QuantMode::W8A16), llmc::TensorCoreUnit::None);
  EXPECT_EQ(llmc::requiredUnit(QuantMode::W4A16), llmc::TensorCoreUnit::None);
  EXPECT_EQ(llmc::requiredUnit(QuantMode::F32), llmc::TensorCoreUnit::None);
}

// Supported modes follow the chip's units, in listing order; a refused chip
// has none.
TEST(TargetsTest, SupportedModesPerChip) {
  const std::string all = "int8 fp8 w8a16 w4a16 fp16 bf16 f32";
  EXPECT_EQ(modeNames(llmc::supportedQuantModes(target("h100"))), all);
  EXPECT_EQ(modeNames(llmc::supportedQuantModes(target("b200"))), all);
  EXPECT_EQ(modeNames(llmc::supportedQuantModes(target("rtx4090"))), all);
  EXPECT_EQ(modeNames(llmc::supportedQuantModes(target("cpu"))), all);
  EXPECT_EQ(modeNames(llmc::supportedQuantModes(target("a100"))),
            "int8 w8a16 w4a16 fp16 bf16 f32");
  EXPECT_EQ(modeNames(llmc::supportedQuantModes(target("rtx3090"))),
            "int8 w8a16 w4a16 fp16 bf16 f32");
  EXPECT_EQ(modeNames(llmc::supportedQuantModes(target("t4"))),
            "int8 w8a16 w4a16 fp16 f32");
  EXPECT_TRUE(llmc::supportedQuantModes(target("v100")).empty());
}

// Every supported target can run its own default mode.
TEST(TargetsTest, DefaultModeIsAlwaysSupported) {
  for (const Target &each : llmc::allTargets()) {
    if (each.isRefused())
      continue;
    EXPECT_TRUE(llmc::checkTargetQuant(each, each.defaultQuant).ok())
        << each.name;
  }
}

// checkTargetQuant accepts exactly the supported modes, for every pair.
TEST(TargetsTest, CheckAgreesWithSupportedModesForEveryPair) {
  for (const Target &each : llmc::allTargets()) {
    std::vector<QuantMode> supported = llmc::supportedQuantModes(each);
    for (QuantMode mode : llmc::allQuantModes()) {
      bool expected = std::find(supported.begin(), supported.end(), mode) !=
                      supported.end();
      EXPECT_EQ(llmc::checkTargetQuant(each, mode).ok(), expected)
          << each.name << " " << llmc::quantModeName(mode);
    }
  }
}

// The T4 FP8 refusal is exactly the line DESIGN.md and the lit tests pin.
TEST(TargetsTest, T4Fp8Message) {
  EXPECT_EQ(llmc::checkTargetQuant(target("t4"), QuantMode::Fp8).errorMessage,
            "t4 (Turing, sm_75) has no FP8 tensor cores; use --quant=int8, "
            "w8a16, w4a16 or fp16");
}

// A T4 has no BF16 tensor cores either.
TEST(TargetsTest, T4Bf16Message) {
  EXPECT_EQ(llmc::checkTargetQuant(target("t4"), QuantMode::Bf16).errorMessage,
            "t4 (Turing, sm_75) has no BF16 tensor cores; use --quant=int8, "
            "w8a16, w4a16 or fp16");
}

// Ampere lacks FP8 but offers bf16, which the hint lists last.
TEST(TargetsTest, AmpereFp8Messages) {
  EXPECT_EQ(
      llmc::checkTargetQuant(target("a100"), QuantMode::Fp8).errorMessage,
      "a100 (Ampere, sm_80) has no FP8 tensor cores; use --quant=int8, w8a16, "
      "w4a16, fp16 or bf16");
  EXPECT_EQ(
      llmc::checkTargetQuant(target("rtx3090"), QuantMode::Fp8).errorMessage,
      "rtx3090 (Ampere, sm_86) has no FP8 tensor cores; use --quant=int8, "
      "w8a16, w4a16, fp16 or bf16");
}

// v100 is refused with its reason whatever the mode, even fp16.
TEST(TargetsTest, V100RefusedForEveryMode) {
  const std::string refusal = "v100 (Volta, sm_70) is not supported: CUDA 13 "
                              "has no sm_70 code generation";
  EXPECT_EQ(llmc::checkTargetSupported(target("v100")).errorMessage, refusal);
  for (QuantMode mode : llmc::allQuantModes())
    EXPECT_EQ(llmc::checkTargetQuant(target("v100"), mode).errorMessage,
              refusal);
}

// Ada (sm_89) has FP8 tensor cores: the seed table's mistake stays fixed.
TEST(TargetsTest, AdaRunsFp8) {
  for (const char *name :
       {"rtx4090", "rtx4090d", "rtx4080", "rtx6000ada", "rtx5000ada"})
    EXPECT_TRUE(llmc::checkTargetQuant(target(name), QuantMode::Fp8).ok())
        << name;
}

// The CPU emulates FP8, so fp8 is allowed there.
TEST(TargetsTest, CpuAllowsEmulatedFp8) {
  EXPECT_TRUE(llmc::checkTargetQuant(target("cpu"), QuantMode::Fp8).ok());
}

// Messages name GPUs with architecture and SM, and the CPU with its ISA.
TEST(TargetsTest, Describe) {
  EXPECT_EQ(target("t4").describe(), "t4 (Turing, sm_75)");
  EXPECT_EQ(target("h100").describe(), "h100 (Hopper, sm_90a)");
  EXPECT_EQ(target("b200").describe(), "b200 (Blackwell, sm_100a)");
  EXPECT_EQ(target("cpu").describe(), "cpu (x86-64)");
}

// The printed table has a header, one row per target starting with its name,
// v100's refusal in place of a default, and no trailing blanks.
TEST(TargetsTest, FormattedTable) {
  std::istringstream table(llmc::formatTargetTable());
  std::string line;
  ASSERT_TRUE(std::getline(table, line));
  EXPECT_EQ(line.rfind("target", 0), 0u) << line;
  EXPECT_NE(line.find("default quant"), std::string::npos) << line;
  for (const Target &each : llmc::allTargets()) {
    ASSERT_TRUE(std::getline(table, line));
    EXPECT_EQ(line.rfind(each.name + " ", 0), 0u) << line;
    EXPECT_NE(line.back(), ' ') << line;
    if (each.name == "v100")
      EXPECT_NE(line.find("refused: CUDA 13 has no sm_70 code generation"),
                std::string::npos)
          << line;
    else
      EXPECT_EQ(line.find("refused"), std::string::npos) << line;
  }
}

} // namespace
