//===- PlanBase.td - the plan dialect, its enums and constraints ----------===//
//
// The `plan` dialect is the executable plan `llm` lowers to: per rank, an
// ordered list of steps (kernel launches, GEMM calls, collectives, host work)
// over buffers carved out of byte arenas. Everything is static: every buffer
// has a fixed arena, offset and shape, so the artifact writer copies the plan
// into the FlatBuffer without any analysis.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_PLAN_PLANBASE_TD
#define LLMC_DIALECTS_PLAN_PLANBASE_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/OpBase.td"

def Plan_Dialect : Dialect {
  let name = "plan";
  let cppNamespace = "::llmc::plan";
  let summary = "the executable plan: arenas, buffers, launches, GEMMs, collectives";
  let description = [{
    A `plan` module is what the artifact writer serializes and the runtime
    executes. It declares byte arenas (`plan.arena`) and compiled kernels
    (`plan.kernel`) as module-level symbols, and holds one `plan.rank` per
    rank of the deployment. A rank's body is its steps in execution order;
    every buffer a step touches is a `plan.slice` of an arena, a static-shape
    memref at a fixed byte offset.

    Each rank allocates its own instance of every arena with the declared
    size and alignment; the memory planner sizes an arena for the rank that
    needs the most.

    Element types are MLIR builtins: f32, f16, bf16, f8E4M3FN, f8E5M2, i8,
    i32 and i4 (packed two per byte).
  }];
  let useDefaultAttributePrinterParser = 1;
  // `plan.launches` on a step (see Plan_LaunchAttr) is checked against the
  // step it sits on.
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// The discardable attribute of a step that lists its launches.
    static constexpr ::llvm::StringLiteral getLaunchesAttrName() {
      return ::llvm::StringLiteral("plan.launches");
    }
  }];
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// What a buffer may hold. i4 is packed two per byte; its buffers take
// ceil(elements / 2) bytes.
def Plan_Buffer : ConfinedType<
    MemRefOf<[F32, F16, BF16, F8E4M3FN, F8E5M2, I8, I32, I<4>]>,
    [HasStaticShapePred],
    "statically shaped memref of f32, f16, bf16, f8E4M3FN, f8E5M2, i8, i32 or i4",
    "::mlir::MemRefType">;

// Dequantization scales of a GEMM: f32, one per tensor or one per row/column.
def Plan_ScaleBuffer : ConfinedType<MemRefOf<[F32]>, [HasStaticShapePred],
    "statically shaped memref of f32", "::mlir::MemRefType">;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Plan_ArenaKind : I32EnumAttr<"ArenaKind",
    "what an arena holds and where it lives", [
      // Device memory for intermediate values, reused across steps.
      I32EnumAttrCase<"Activations", 0, "activations">,
      // Device memory for the paged KV cache; lives across forward calls.
      I32EnumAttrCase<"KVCache", 1, "kv_cache">,
      // Device memory filled from the artifact's weight section at load.
      I32EnumAttrCase<"Weights", 2, "weights">,
      // Pinned host memory the runtime copies tokens and logits through.
      I32EnumAttrCase<"Host", 3, "host">]> {
  let cppNamespace = "::llmc::plan";
  // EnumAttr below wraps it as a dialect attribute (#plan<...>).
  let genSpecializedAttr = 0;
}

def Plan_GemmBackend : I32EnumAttr<"GemmBackend",
    "which library or code runs a GEMM", [
      I32EnumAttrCase<"CublasLt", 0, "cublaslt">,
      // A kernel llmc generates (modes cuBLASLt lacks, fused epilogues).
      I32EnumAttrCase<"Generated", 1, "generated">,
      // The CPU backend's reference implementation.
      I32EnumAttrCase<"Cpu", 2, "cpu">]> {
  let cppNamespace = "::llmc::plan";
  // EnumAttr below wraps it as a dialect attribute (#plan<...>).
  let genSpecializedAttr = 0;
}

def Plan_CollectiveKind : I32EnumAttr<"CollectiveKind",
    "which collective communication a step performs", [
      I32EnumAttrCase<"AllReduce", 0, "all_reduce">,
      I32EnumAttrCase<"AllGather", 1, "all_gather">,
      I32EnumAttrCase<"Send", 2, "send">,
      I32EnumAttrCase<"Recv", 3, "recv">]> {
  let cppNamespace = "::llmc::plan";
  // EnumAttr below wraps it as a dialect attribute (#plan<...>).
  let genSpecializedAttr = 0;
}

def Plan_ReductionKind : I32EnumAttr<"ReductionKind",
    "how an all_reduce combines values", [
      I32EnumAttrCase<"Sum", 0, "sum">,
      I32EnumAttrCase<"Max", 1, "max">,
      I32EnumAttrCase<"Min", 2, "min">]> {
  let cppNamespace = "::llmc::plan";
  // EnumAttr below wraps it as a dialect attribute (#plan<...>).
  let genSpecializedAttr = 0;
}

def Plan_ArenaKindAttr : EnumAttr<Plan_Dialect, Plan_ArenaKind, "arena_kind">;
def Plan_GemmBackendAttr : EnumAttr<Plan_Dialect, Plan_GemmBackend, "gemm_backend">;
def Plan_CollectiveKindAttr : EnumAttr<Plan_Dialect, Plan_CollectiveKind, "collective_kind">;
def Plan_ReductionKindAttr : EnumAttr<Plan_Dialect, Plan_ReductionKind, "reduction">;

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

// A launch is an attribute of the step it runs rather than an op that
// replaces it: the CPU backend (the reference) runs the step, a GPU backend
// its launches, so one plan (and one artifact) serves both. The buffers are
// the step's own operands, named by index, so they cannot drift apart.
def Plan_LaunchAttr : AttrDef<Plan_Dialect, "Launch"> {
  let mnemonic = "launch";
  let summary = "one launch of a generated kernel that runs (part of) a step";
  let description = [{
    Sits in the `plan.launches` list of a `plan.compute` or `plan.gemm`: a
    GPU backend runs the step as its launches, in order, skipping those whose
    token range `[min_tokens, max_tokens]` (0: unbounded) does not hold the
    forward call's token count T. `kernel` names a `plan.kernel`; `args` are
    indices of the step's operands, in the kernel's parameter order. `grid`
    and `block` are those of a launch over max-tokens; a grid dimension d
    with `grid_token_scale[2d] > 0` is `min(ceil(T * grid_token_scale[2d] /
    grid_token_scale[2d + 1]), grid[d])` for T tokens. After the buffers the
    kernel takes one 64-bit `T * k` per `token_args` entry k, then the
    `extra_args` ("batch": the forward call's `LlmcDeviceBatch`, "layer": the
    step's `layer` attribute, "scratch": `scratch_bytes` of device scratch).

    ```mlir
    plan.compute "rms_norm"(%x, %w : memref<64x576xbf16>, memref<576xbf16>
        -> %y : memref<64x576xbf16>) {epsilon = 1.000000e-05 : f64,
        plan.launches = [#plan.launch<kernel = @llmc_rms_norm_576_0123abcd,
          grid = [64, 1, 1], block = [256, 1, 1],
          args = [0, 1, 2],
          grid_token_scale = [1, 1, 0, 1, 0, 1],
          token_args = [1]>]}
    ```
  }];
  let parameters = (ins
    "::mlir::FlatSymbolRefAttr":$kernel,
    "::mlir::DenseI64ArrayAttr":$grid,
    "::mlir::DenseI64ArrayAttr":$block,
    "::mlir::DenseI64ArrayAttr":$args,
    OptionalParameter<"::mlir::DenseI64ArrayAttr">:$grid_token_scale,
    OptionalParameter<"::mlir::DenseI64ArrayAttr">:$token_args,
    OptionalParameter<"::mlir::ArrayAttr">:$extra_args,
    DefaultValuedParameter<"int64_t", "0">:$shared_bytes,
    DefaultValuedParameter<"int64_t", "0">:$scratch_bytes,
    DefaultValuedParameter<"int64_t", "0">:$min_tokens,
    DefaultValuedParameter<"int64_t", "0">:$max_tokens);
  let assemblyFormat = "`<` struct(params) `>`";
  // What needs no step: shapes, limits and names. The dialect's
  // verifyOperationAttribute checks the rest against the step.
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Base op
//===----------------------------------------------------------------------===//

class Plan_Op<string mnemonic, list<Trait> traits = []>
    : Op<Plan_Dialect, mnemonic, traits>;

#endif // LLMC_DIALECTS_PLAN_PLANBASE_TD
