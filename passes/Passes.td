//===- Passes.td - llmc's transformations ----------------------------------===//
//
// Every llmc pass is declared here (IREE/MLIR style: no `let constructor`).
// Def names end in `Pass`; command-line names are `llm-<verb-noun>` for passes
// over the llm dialect and `plan-<noun>` for passes over the plan dialect.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_PASSES_TD
#define LLMC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// llm -> llm
//===----------------------------------------------------------------------===//

def FusePass : Pass<"llm-fuse", "::mlir::ModuleOp"> {
  let summary = "groups the ops of @forward into the kernels a decoder layer needs";
  let description = [{
    Rewrites `@forward` so that a decoder layer at decode takes at most 8
    kernel launches: [rms_norm] -> [QKV GEMM] -> [rope + KV-cache write] ->
    [attention] -> [O GEMM + residual] -> [rms_norm] -> [gate/up GEMM +
    SiLU * up] -> [down GEMM + residual]. Each group is an `llm.fused` whose
    `kind` names the pattern and whose body keeps the original ops (see
    `llm.fused` for the kinds and their operands). In order:

    1. `horizontal`: `llm.linear`s that read the same input with weights of
       one element type, shape `[*, K]` and bias-ness become one
       `llm.linear` over a new weight, their concatenation along the output
       dimension, followed by `llm.split`. The new `llm.weight` is named by
       joining the parts' distinct name pieces (`...q_proj.weight`,
       `k_proj`, `v_proj` -> `...qkv_proj.weight`; gate/up ->
       `...gate_up_proj.weight`) and carries `llm.concat = {parts = [...],
       axis = 0}`, which `applyWeightConcats` records in the WeightStore
       (biases alike).
    2. `rope-kv-write`: an `llm.attention` whose q and k are `llm.rope`s
       (optionally of a per-head `llm.rms_norm`) of reshaped parts of one
       3-way `llm.split`, and whose v is the third part, becomes an
       `rope_kv_write` group (RoPE of q and k read in place from the packed
       rows, k and v written to the KV cache by `llm.kv_cache_write`)
       followed by `llm.cached_attention` of its roped q.
    3. `gated-activations`: `act(gate) * up` over the two halves of a 2-way
       `llm.split` (act is `llm.silu` or `llm.gelu`) becomes a
       `gated_activation` group, with the `llm.quantize` that follows
       (`gated_activation_quantize`) when `quantize` is set.
    4. `gemm-epilogues`: the packed GEMM feeding such a group joins it
       (`linear_gated_activation`); an `llm.add` of a linear's result and a
       residual that dies there becomes `linear_residual` (lowered to
       `plan.gemm` with beta = 1 in the residual's buffer); a biased linear
       becomes `linear_bias`.
    5. `norms`: `llm.add` feeding `llm.rms_norm` becomes `add_rms_norm`
       (both the sum and the norm are results); an `llm.quantize` of the
       norm joins (`add_rms_norm_quantize`, or `rms_norm_quantize` without
       the add) when `quantize` is set; an `llm.rms_norm` of the added
       branch joins too (`rms_norm_add_rms_norm`, Gemma's sandwich norms).
    6. `elementwise`: a chain of two or more elementwise ops of one shape,
       each used only by the next, becomes an `elementwise` group.

    Every pattern applies only where it keeps the semantics: single users
    where an intermediate disappears, and a residual overwritten in place
    only when nothing reads it afterwards.
  }];
  let options = [
    Option<"horizontal", "horizontal", "bool", /*default=*/"true",
           "merge linears that read the same input into one GEMM">,
    Option<"ropeKVWrite", "rope-kv-write", "bool", /*default=*/"true",
           "fuse RoPE of the packed QKV with the KV-cache write">,
    Option<"gatedActivations", "gated-activations", "bool",
           /*default=*/"true", "fuse act(gate) * up over the packed gate/up">,
    Option<"gemmEpilogues", "gemm-epilogues", "bool", /*default=*/"true",
           "fold residual adds, biases and gated activations into GEMMs">,
    Option<"norms", "norms", "bool", /*default=*/"true",
           "fuse a residual add with the RMSNorm that reads it">,
    Option<"quantize", "quantize", "bool", /*default=*/"true",
           "pull an llm.quantize that follows a norm or a gated activation "
           "into its group">,
    Option<"elementwise", "elementwise", "bool", /*default=*/"true",
           "group chains of elementwise ops">,
  ];
  let statistics = [
    Statistic<"numMergedLinears", "merged-linears",
              "linears merged into horizontally fused GEMMs">,
    Statistic<"numGroups", "groups", "llm.fused groups created">,
  ];
}

//===----------------------------------------------------------------------===//
// llm -> plan
//===----------------------------------------------------------------------===//

def LowerToPlanPass : Pass<"llm-lower-to-plan", "::mlir::ModuleOp"> {
  let summary = "lowers the @forward function of an llm module to a plan.rank";
  let description = [{
    Rewrites `@forward` into the steps of one `plan.rank`, destination-passing:
    every step names the buffers it reads and the buffer it writes, and every
    buffer is a `plan.slice` of an arena.

    - Every tensor value becomes a slice of the `@activations` arena
      (`kind = activations`, 256-byte aligned) with the tensor's static shape.
      The dynamic token dimension becomes `max-tokens`: the plan is sized for
      the largest batch the runtime will submit, and the runtime passes the
      actual token count of each forward call, so one plan serves every
      batch. Such slices, and the views of them, are marked with the unit
      attribute `plan.token_rows`: their leading dimension is max-tokens (a
      multiple of it for a view such as `[tokens * heads, dim]`), and a call
      over N tokens uses only the first rows. Offsets are the naive layout, one buffer after another;
      `plan-memory` then packs them by liveness.
    - Every distinct `llm.weight @name` becomes one slice of the `@weights`
      arena (`kind = weights`), in order of first use, each at a
      4096-byte-aligned offset: the layout the artifact writer streams the
      weights into. The slice records the weight's name as
      `plan.weight = "name"`.
    - `llm.linear` (and a 2-D `llm.matmul`) becomes `plan.gemm` on the
      `backend` option; a bias is added in place by a `bias_add` step.
    - `llm.reshape` becomes a view: a second slice of the same bytes
      (`plan.slice ... view(%base ...)`), no step.
    - Collectives become `plan.collective`; `llm.send`/`llm.recv` use the
      group `[rank, peer]`.
    - Each `llm.fused` group of `llm-fuse` becomes one step named by its
      kind: `linear_residual` is `plan.gemm` with beta = 1 accumulating into
      the residual's buffer (which the group's result then is); the other
      kinds are `plan.compute` steps: `add_rms_norm` (a, b, w -> sum, norm)
      and its `_quantize` forms (+ scale -> quantized), `rms_norm_quantize`
      (x, w, scale -> q), all with `epsilon`; `rms_norm_add_rms_norm`
      (branch, branch weight, residual, w -> sum, norm) with `epsilon` and
      `branch_epsilon`; `gated_activation` (packed ->
      y) and `linear_gated_activation` (x, w -> y) with `activation`
      (`silu`, `gelu`) and `approximation` (+ scale for `_quantize`);
      `linear_bias` (x, w, bias -> y); `rope_kv_write` (packed QKV,
      positions [, q norm, k norm] -> q) with the rope parameters, `layer`,
      `num_heads`, `num_kv_heads`, `head_dim` (and `epsilon` with norms);
      `elementwise` (inputs -> y) with `program`, one
      `t<j>:<type>=<op>(<operands>)` per body op. `llm.cached_attention`
      becomes `cached_attention` (q -> o), and an `llm.split` outside a
      group a `split` copy.
    - Every other op becomes a backend-neutral `plan.compute` step named
      after the op (`"rms_norm"`, `"rope"`, `"attention"`, `"convert"` for
      `arith.extf`/`arith.truncf`) whose parameters are the op's attributes
      as integers, floats and strings (enums by name, RoPE scaling
      flattened into `scaling_*` parameters). Attention names its KV-cache
      layer (`layer`) and reads the batch metadata the runtime supplies.
    - The arguments become slices marked `plan.input` (`"token_ids"` for the
      ids `llm.embedding` reads, `"positions"` for those `llm.rope` reads,
      else `"arg<i>"`) that the runtime fills before the first step; the
      result becomes a slice marked `plan.output = "logits"` (`"result<i>"`
      when there are several) that it reads after the last. `!llm.batch`
      needs no buffer.

    ```mlir
    // llm.rms_norm %h, %w epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
    %w = plan.slice @weights[0] {plan.weight = "model.norm.weight"} : memref<64xbf16>
    %y = plan.slice @activations[1024] : memref<8x64xbf16>
    plan.compute "rms_norm"(%h, %w : memref<8x64xbf16>, memref<64xbf16>
        -> %y : memref<8x64xbf16>) {epsilon = 1.000000e-05 : f64}
    ```

    Errors name what cannot be lowered: an op without a lowering, a module
    without `@forward`, a dynamic dimension other than the leading token
    dimension, an element type no buffer can hold.
  }];
  let dependentDialects = ["::llmc::plan::PlanDialect"];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"512",
           "tokens of the largest batch; sizes the dynamic token dimension">,
    Option<"rank", "rank", "int64_t", /*default=*/"0",
           "the rank whose plan this is (collectives check membership)">,
    Option<"backend", "backend", "::llmc::plan::GemmBackend",
           /*default=*/"::llmc::plan::GemmBackend::Cpu",
           "what runs the GEMMs (the CPU reference by default, which runs "
           "every plan)",
           [{::llvm::cl::values(
               clEnumValN(::llmc::plan::GemmBackend::Cpu, "cpu",
                          "the CPU backend's reference GEMM"),
               clEnumValN(::llmc::plan::GemmBackend::CublasLt, "cublaslt",
                          "cuBLASLt"),
               clEnumValN(::llmc::plan::GemmBackend::Generated, "generated",
                          "GEMM kernels llmc generates"))}]>,
  ];
  let statistics = [
    Statistic<"numSteps", "steps", "steps in the lowered plan">,
    Statistic<"numWeights", "weights", "distinct weights placed in @weights">,
    Statistic<"weightBytes", "weight-bytes", "size of the @weights arena">,
  ];
}

//===----------------------------------------------------------------------===//
// plan
//===----------------------------------------------------------------------===//

def PlanMemoryPass : Pass<"plan-memory", "::mlir::ModuleOp"> {
  let summary = "packs activation buffers by liveness and sizes their arenas";
  let description = [{
    For each `activations` arena and each `plan.rank`: computes every
    buffer's live range over the rank's steps (from the first step that
    touches it to the last; a view's uses count as its base's), then assigns
    offsets greedily, largest buffer first, each into the smallest gap that
    fits among the buffers already placed whose live ranges overlap its own
    (best fit), aligned to 256 bytes. A view keeps its place within its base.
    Buffers marked `plan.input` are live from before the first step and
    buffers marked `plan.output` until after the last, so nothing live at
    the same time overlaps them. The arena's size becomes the peak over
    its ranks.

    The result is checked like `plan-verify-memory` does. Statistics
    (`-mlir-pass-statistics`): the peak and the naive sum (every buffer
    in its own bytes) in bytes. An LLVM built without statistics (Debian's
    release build turns them into no-ops) prints none, so `report` also
    gives both numbers as a remark on each arena.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "emit a remark per activations arena with its peak and naive "
           "bytes">,
  ];
  let statistics = [
    Statistic<"peakBytes", "peak-bytes",
              "bytes of the activation arenas after planning">,
    Statistic<"naiveBytes", "naive-bytes",
              "bytes the activation buffers take one after another">,
    Statistic<"numBuffers", "buffers", "activation buffers planned (views "
              "excluded)">,
  ];
}

def PlanVerifyMemoryPass : Pass<"plan-verify-memory", "::mlir::ModuleOp"> {
  let summary = "checks that no two buffers live at the same time share bytes";
  let description = [{
    In every arena except `weights` (never written by a step) and every
    `plan.rank`, two buffers (slices that are not views; a view's uses count
    as its base's) whose live ranges overlap must not share bytes, or one
    step would clobber what another still reads. Live ranges are computed as
    in `plan-memory`. Reports each conflict on both slices and fails.
  }];
}

#endif // LLMC_PASSES_PASSES_TD
