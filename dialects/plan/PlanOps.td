//===- PlanOps.td - ops of the plan dialect -------------------------------===//

#ifndef LLMC_DIALECTS_PLAN_PLANOPS_TD
#define LLMC_DIALECTS_PLAN_PLANOPS_TD

include "dialects/plan/PlanBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Every rank must enter collectives in the same order or the job deadlocks.
// Reading and writing one communicator resource keeps any pass from
// reordering collectives against each other, even over disjoint buffers.
def Plan_CommunicatorResource : Resource<"::llmc::plan::CommunicatorResource">;

//===----------------------------------------------------------------------===//
// Module-level declarations
//===----------------------------------------------------------------------===//

def Plan_ArenaOp : Plan_Op<"arena", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "declares a byte arena that buffers are carved out of";
  let description = [{
    An arena is one allocation the runtime makes per rank at load time:
    `size` bytes aligned to `alignment` (a power of two), in the memory
    `kind` says (`activations`, `kv_cache` and `weights` on the device,
    `host` in pinned host memory). `plan.slice` views parts of it as
    buffers; the memory planner chooses the offsets.

    ```mlir
    plan.arena @act kind = activations size = 1048576 alignment = 256
    plan.arena @weights kind = weights size = 14680064 alignment = 4096
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Plan_ArenaKindAttr:$kind,
                       I64Attr:$size, I64Attr:$alignment);
  let assemblyFormat = [{
    $sym_name `kind` `=` `` $kind `size` `=` $size `alignment` `=` $alignment attr-dict
  }];
  let hasVerifier = 1;
}

def Plan_KernelOp : Plan_Op<"kernel", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "declares a compiled kernel that plan.launch runs";
  let description = [{
    Names one kernel of the artifact's kernel section by its `entry` point
    (a C identifier, the `extern "C"` name in the CUDA source). `kind` names
    the fused pattern it implements, for statistics and `--emit`;
    `source_hash` identifies the generated source so identical kernels are
    compiled once.

    ```mlir
    plan.kernel @add_rms_norm_576 entry = "add_rms_norm_576" kind = "add_rms_norm"
    plan.kernel @rope_kv_write entry = "rope_kv_write_0" source_hash = "9f2c41d0"
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$entry,
                       OptionalAttr<StrAttr>:$kind,
                       OptionalAttr<StrAttr>:$source_hash);
  let assemblyFormat = [{
    $sym_name `entry` `=` $entry (`kind` `=` $kind^)?
    (`source_hash` `=` $source_hash^)? attr-dict
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Per-rank plans and buffers
//===----------------------------------------------------------------------===//

// A dedicated op rather than `func.func @rank0`: the rank number is an
// attribute instead of a naming convention, there are no arguments or return
// to interpret, and IsolatedFromAbove plus "only plan ops inside" (checked by
// the verifier) means every buffer a step touches is a plan.slice in the same
// body. The artifact writer walks `module.getOps<RankOp>()` and serializes each
// body in order, resolving every operand through its plan.slice.
// No side-effect interface: a rank's plan is never dead code.
def Plan_RankOp : Plan_Op<"rank", [HasParent<"::mlir::ModuleOp">,
    IsolatedFromAbove, NoTerminator, SingleBlock]> {
  let summary = "the steps one rank executes, in order";
  let description = [{
    The body holds `plan.slice` buffers and the steps of rank `rank`, which
    the runtime executes top to bottom on every forward call. A module has at
    most one `plan.rank` per rank number.

    ```mlir
    plan.rank 0 {
      %x = plan.slice @act[0] : memref<16x576xbf16>
      %y = plan.slice @act[18432] : memref<16x576xbf16>
      plan.launch @silu_576 grid = [16, 1, 1] block = [256, 1, 1]
          args(%x, %y : memref<16x576xbf16>, memref<16x576xbf16>)
    }
    ```
  }];
  let arguments = (ins I64Attr:$rank);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$rank attr-dict-with-keyword $body";
  let hasVerifier = 1;
}

// Pure: a slice only names memory; the steps that use it carry the effects.
def Plan_SliceOp : Plan_Op<"slice", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "a buffer: bytes of an arena viewed as a static-shape memref";
  let description = [{
    The result views `offset` bytes into `arena` as a contiguous row-major
    buffer of the result type. The buffer must fit in the arena and its
    offset must be a multiple of the element size (one byte for i4, which is
    packed two per byte, rounding the buffer's size up).

    A slice with `view(%base ...)` is a no-copy view of bytes another slice
    owns (what `llm.reshape` becomes): it lies within `%base`'s bytes in the
    same arena. The memory planner moves a view with its base and treats a
    use of the view as a use of the base; every other pair of slices that is
    live at the same time must not share bytes.

    ```mlir
    %h = plan.slice @act[4096] : memref<16x576xbf16>
    %h3 = plan.slice @act[4096] view(%h : memref<16x576xbf16>) : memref<16x9x64xbf16>
    ```
  }];
  // The view keeps its own arena and offset (repeating the base's) so that
  // every buffer is still resolved by its plan.slice alone, as the artifact
  // writer does; the verifier keeps the two consistent.
  let arguments = (ins FlatSymbolRefAttr:$arena, I64Attr:$offset,
                       Optional<Plan_Buffer>:$base);
  let results = (outs Plan_Buffer:$result);
  let assemblyFormat = [{
    $arena `[` $offset `]` (`view` `(` $base^ `:` type($base) `)`)? attr-dict
    `:` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The slice that owns this slice's bytes: itself, or the base at the end
    /// of its chain of views.
    SliceOp getRootBuffer();
  }];
}

//===----------------------------------------------------------------------===//
// Steps
//===----------------------------------------------------------------------===//

// Steps write memory, so CSE and DCE must never remove or merge them: gemm
// and collective declare their effects on their buffers; launch and host
// declare none, which MLIR reads as "may touch anything".

// No side-effect interface: a kernel's signature does not say which arguments
// it writes, and effects listed per argument would let a launch without
// arguments be erased as dead.
def Plan_LaunchOp : Plan_Op<"launch", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "launches a compiled kernel on a grid of thread blocks";
  let description = [{
    Runs `kernel` (a `plan.kernel`) over a `grid` of `[x, y, z]` thread
    blocks of `block` threads each, with `shared_bytes` of dynamic shared
    memory, passing the buffers `args` in order. A block has at most 1024
    threads.

    ```mlir
    plan.launch @add_rms_norm_576 grid = [16, 1, 1] block = [256, 1, 1] shared_bytes = 1024
        args(%h, %r, %w, %y : memref<16x576xbf16>, memref<16x576xbf16>, memref<576xbf16>, memref<16x576xf8E4M3FN>)
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$kernel, DenseI64ArrayAttr:$grid,
                       DenseI64ArrayAttr:$block,
                       DefaultValuedAttr<I64Attr, "0">:$shared_bytes,
                       Variadic<Plan_Buffer>:$args);
  let assemblyFormat = [{
    $kernel `grid` `=` $grid `block` `=` $block
    (`shared_bytes` `=` $shared_bytes^)?
    (`args` `(` $args^ `:` type($args) `)`)? attr-dict
  }];
  let hasVerifier = 1;
}

def Plan_GemmOp : Plan_Op<"gemm", [AttrSizedOperandSegments]> {
  let summary = "a general matrix multiply through a GEMM library or kernel";
  let description = [{
    `C[m, n] = alpha * scale_a[m] * scale_b[n] * sum_k A[m, k] * B'[k, n]
    (+ beta * C[m, n])` with A `[M, K]`, C `[M, N]` and B `[N, K]` when
    `transpose_b` is set (the `[out_features, in_features]` layout of
    `nn.Linear`), else `[K, N]`. `backend` says what runs it: `cublaslt`,
    a `generated` kernel, or the `cpu` reference.

    Element types: f32, f16 or bf16 inputs of one type give a float result;
    i8 x i8 gives i32 (the raw accumulator) or a float; f8 x f8 gives f32,
    f16 or bf16. The optional f32 scales dequantize quantized inputs into a
    float result: `scale_a` holds 1 value (per tensor) or M (per row, e.g.
    per token), `scale_b` 1 or N (per output channel).

    Weight-only quantization: a float A (f32, f16, bf16) times an i8 or i4 B
    stored `[N, K]` (`transpose_b`; i4 packed two per byte, the low nibble
    the even column) gives a float C. B is dequantized on the fly as
    `(B[n, k] - zero_b[n, k / G]) * scale_b[n, k / G]`: `scale_b` is f32
    `[N, K / G]` (group size G; `[N, 1]` is per channel) and the optional
    `zero_b` holds i8 zero points of the same shape (asymmetric schemes).

    ```mlir
    plan.gemm cpu %x, %w4 into %y transpose_b scale_b(%s : memref<1024x32xf32>)
        zero_b(%z : memref<1024x32xi8>)
        : memref<16x4096xbf16>, memref<1024x4096xi4>, memref<16x1024xbf16>
    ```

    ```mlir
    plan.gemm cublaslt %x, %w into %y transpose_b scale_a(%sx : memref<16xf32>)
        scale_b(%sw : memref<1024xf32>)
        : memref<16x4096xf8E4M3FN>, memref<1024x4096xf8E4M3FN>, memref<16x1024xbf16>
    plan.gemm cpu %a, %b into %c alpha = 5.000000e-01 beta = 1.000000e+00
        : memref<8x64xf32>, memref<64x32xf32>, memref<8x32xf32>
    ```
  }];
  let arguments = (ins
    Plan_GemmBackendAttr:$backend,
    Arg<Plan_Buffer, "A, [M, K]", [MemRead]>:$a,
    Arg<Plan_Buffer, "B, [N, K] or [K, N]", [MemRead]>:$b,
    Arg<Plan_Buffer, "C, [M, N]", [MemRead, MemWrite]>:$c,
    Arg<Optional<Plan_ScaleBuffer>, "per-tensor or per-row scales of A",
        [MemRead]>:$scale_a,
    Arg<Optional<Plan_ScaleBuffer>,
        "per-tensor, per-column or group-wise scales of B", [MemRead]>:$scale_b,
    Arg<Optional<Plan_Buffer>, "i8 zero points of a weight-only B, group-wise",
        [MemRead]>:$zero_b,
    UnitAttr:$transpose_b,
    DefaultValuedAttr<F32Attr, "1.0">:$alpha,
    DefaultValuedAttr<F32Attr, "0.0">:$beta);
  // Defaulted alpha and beta are not printed, so a plain product reads plainly.
  let assemblyFormat = [{
    `` $backend $a `,` $b `into` $c (`transpose_b` $transpose_b^)?
    (`scale_a` `(` $scale_a^ `:` type($scale_a) `)`)?
    (`scale_b` `(` $scale_b^ `:` type($scale_b) `)`)?
    (`zero_b` `(` $zero_b^ `:` type($zero_b) `)`)?
    (`alpha` `=` $alpha^)? (`beta` `=` $beta^)? attr-dict
    `:` type($a) `,` type($b) `,` type($c)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::LogicalResult verifyWeightOnly(int64_t k, int64_t n);
  }];
}

def Plan_CollectiveOp : Plan_Op<"collective", [
    MemoryEffects<[MemRead<Plan_CommunicatorResource>,
                   MemWrite<Plan_CommunicatorResource>]>]> {
  let summary = "a collective communication among the ranks of a group";
  let description = [{
    Every rank of `group` (the communicator) runs the same collective, in the
    same order relative to its other collectives.

    - `all_reduce` combines `buffer` across the group with `reduction`
      (`sum`, `max` or `min`), in place or `into` a buffer of the same type.
    - `all_gather` concatenates every rank's part along `axis`, rank
      `group[i]`'s part at position i: `into` a buffer whose `axis` dimension
      is the group size times the part's, or in place in a full-size `buffer`
      that already holds this rank's part at its position.
    - `send` / `recv` move `buffer` to / from rank `peer` of the group
      (pipeline stage boundaries).

    Inside `plan.rank r`, `r` must belong to the group and cannot be its own
    peer. An in-place all_reduce or all_gather over one rank does nothing and
    canonicalizes away.

    ```mlir
    plan.collective all_reduce %o reduction = sum group = [0, 1, 2, 3] : memref<16x4096xbf16>
    plan.collective all_gather %part into %logits axis = 1 group = [0, 1]
        : memref<16x24576xf32>, memref<16x49152xf32>
    plan.collective send %h peer = 1 group = [0, 1] : memref<16x4096xbf16>
    ```
  }];
  let arguments = (ins
    Plan_CollectiveKindAttr:$kind,
    OptionalAttr<Plan_ReductionKindAttr>:$reduction,
    Arg<Plan_Buffer, "the buffer sent, received or combined in place",
        [MemRead, MemWrite]>:$buffer,
    Arg<Optional<Plan_Buffer>, "the result of an out-of-place collective",
        [MemWrite]>:$output,
    OptionalAttr<I64Attr>:$axis,
    OptionalAttr<I64Attr>:$peer,
    DenseI64ArrayAttr:$group);
  // The generated parser cannot anchor an optional group on a bare enum
  // keyword, hence `reduction = sum`. The empty literals before enums drop the
  // space the format would add to the one the enum prints itself.
  let assemblyFormat = [{
    `` $kind $buffer (`into` $output^)? (`reduction` `=` `` $reduction^)?
    (`axis` `=` $axis^)? (`peer` `=` $peer^)? `group` `=` $group attr-dict
    `:` type($buffer) (`,` type($output)^)?
  }];
  let hasVerifier = 1;
  let hasCanonicalizeMethod = 1;
}

// A backend-neutral step, beside plan.launch rather than a plan.launch with a
// made-up grid: before code generation there is no compiled kernel to name
// and no grid or block to choose, and the CPU backend has neither. The step
// says what to compute (`name`, the llm op's name) on which buffers, with
// plain integer, float or string parameters the artifact stores as key/value
// pairs. The CPU backend runs it directly; GPU code generation replaces it,
// alone or fused with its neighbours, by a plan.launch of a generated kernel.
// No side-effect interface: which buffers a step writes is in its syntax, but
// some steps touch state beyond their buffers (attention appends to the KV
// cache), so no pass may assume a step is dead or movable.
def Plan_ComputeOp : Plan_Op<"compute", [AttrSizedOperandSegments]> {
  let summary = "a computation step the backend implements, destination-passing";
  let description = [{
    Computes `name` (`"rms_norm"`, `"rope"`, `"attention"`, ...) from the
    buffers `inputs` into the buffers `outputs`, with the op's other
    attributes as its parameters: integers, floats or strings, so that they
    serialize without the dialect that defined them (names with a dialect
    prefix, such as `plan.note`, are annotations and may hold anything). An
    output may also be an input (in place).

    ```mlir
    plan.compute "rms_norm"(%x, %w : memref<16x576xbf16>, memref<576xbf16>
        -> %y : memref<16x576xbf16>) {epsilon = 1.000000e-05 : f64}
    plan.compute "attention"(%q, %k, %v : memref<16x9x64xbf16>, memref<16x3x64xbf16>,
        memref<16x3x64xbf16> -> %o : memref<16x9x64xbf16>) {layer = 0 : i64, scale = 1.250000e-01 : f64}
    ```
  }];
  let arguments = (ins StrAttr:$name, Variadic<Plan_Buffer>:$inputs,
                       Variadic<Plan_Buffer>:$outputs);
  let assemblyFormat = [{
    $name `(` ($inputs^ `:` type($inputs))? `->` $outputs `:` type($outputs) `)`
    attr-dict
  }];
  let hasVerifier = 1;
}

// No side-effect interface on purpose: host steps touch runtime state beyond
// their buffers (the request queue, the sampler's random state, the output
// stream), so no pass may assume anything about them.
def Plan_HostOp : Plan_Op<"host"> {
  let summary = "a step the runtime performs on the host";
  let description = [{
    Runs the runtime's host routine `name` on `args` with the op's other
    attributes as parameters, e.g. copying this step's token ids in,
    copying logits out, or sampling.

    ```mlir
    plan.host "copy_tokens_in"(%ids : memref<16xi32>)
    plan.host "sample"(%logits, %tokens : memref<16x49152xf32>, memref<16xi32>) {top_k = 40 : i64}
    ```
  }];
  let arguments = (ins StrAttr:$name, Variadic<Plan_Buffer>:$args);
  let assemblyFormat = [{
    $name `(` ($args^ `:` type($args))? `)` attr-dict
  }];
  let hasVerifier = 1;
}

#endif // LLMC_DIALECTS_PLAN_PLANOPS_TD
