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
// Quantization (llm -> llm)
//===----------------------------------------------------------------------===//

def SmoothPass : Pass<"llm-smooth", "::mlir::ModuleOp"> {
  let summary = "SmoothQuant: moves activation outliers into the weights";
  let description = [{
    For every `llm.rms_norm` / `llm.layer_norm` whose result feeds only float
    `llm.linear`s (Q/K/V, gate/up) whose weights are `llm.weight`s read by
    nothing else, computes per input channel j

        s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)

    with max|X_j| the calibrated `channel_absmax` of the linears' input (from
    any consuming linear's entry of `calib-file`) and max|W_j| the largest
    |W[n, j]| over every consuming weight, clamped to [min-factor,
    1 / min-factor] (1 where either maximum is 0). The norm weight (and a
    LayerNorm's bias) is divided by s and every consuming weight's column j
    multiplied by s_j: the float network is unchanged, and the linears'
    inputs lose their outlier channels, which makes them quantize well.

    The weights are not touched here: the pass records the transform as
    attributes (`llm.smooth` on the norm weight, `llm.smoothed_by` on each
    linear weight; passes/WeightAnnotations.h) that the WeightStore applies
    while the artifact streams, computing s lazily from the weights.
    Gemma-style `1 + w` norms are exact too: the importer folds the `1 +`
    into the stored norm weight before this division. Norms that do not
    qualify (other users, shared weights, no calibration entry, or a
    non-weight norm scale) are skipped with a remark saying why; norms
    feeding a linear that `keep-fp` keeps in high precision (the LM head)
    are skipped silently.

    With `linear-pairs`, the inputs of linears fed by another linear through
    a per-channel linear map are smoothed too, the producer's output row j
    (and bias j) divided by s_j instead of a norm's channel:
    - down_proj reading `llm.mul(act(gate), up)`: up_proj's rows;
    - o_proj reading `llm.reshape(llm.attention(q, k, llm.reshape(v)))`:
      v_proj's rows (attention is linear in V per head). With GQA the V
      channel d of KV head g feeds the outputs d of query heads g * r ..
      g * r + r - 1 (r = query heads per KV head): it gets one factor from
      the largest activation and weight column of all of them, and o_proj's
      columns are scaled by their KV channel's factor.
    The record is `llm.smooth` on the producer weight (with `rows`, and
    `head_dim` / `query_heads_per_kv_head` for GQA) and `llm.smoothed_by`
    naming it on the consumer. These run before the norms, so a norm sees
    up_proj/v_proj with their rows divided.
  }];
  let options = [
    Option<"alpha", "alpha", "double", /*default=*/"0.5",
           "migration strength in [0, 1]: 0 keeps the activations, 1 moves "
           "all of their range into the weights">,
    Option<"calibFile", "calib-file", "std::string", /*default=*/"\"\"",
           "the llmc-calibration-1 JSON file with per-channel activation "
           "maxima (required)">,
    Option<"minFactor", "min-factor", "double", /*default=*/"1e-5",
           "smallest smoothing factor (the largest is its inverse)">,
    Option<"keepFp", "keep-fp", "std::string",
           /*default=*/"\"lm_head,embed_tokens\"",
           "llm-quantize's keep-fp: norms feeding a linear these match are "
           "not smoothed (a float linear gains nothing from it)">,
    Option<"norms", "norms", "bool", /*default=*/"true",
           "smooth the linears that read RMSNorm/LayerNorm outputs">,
    Option<"linearPairs", "linear-pairs", "bool", /*default=*/"true",
           "smooth down_proj (from up_proj) and o_proj (from v_proj)">,
  ];
  let statistics = [
    Statistic<"numSmoothed", "smoothed-norms", "norms smoothed">,
    Statistic<"numSkipped", "skipped-norms", "norms left alone">,
    Statistic<"numSmoothedPairs", "smoothed-linear-pairs",
              "linear outputs smoothed into the next linear">,
  ];
}

def QuantizePass : Pass<"llm-quantize", "::mlir::ModuleOp"> {
  let summary = "quantizes linear layers (FP8/INT8 W8A8, weight-only INT8/INT4) and the KV cache";
  let description = [{
    Rewrites every float `llm.linear` whose weight is an `llm.weight` (and
    whose name matches no `keep-fp` pattern) for `scheme`
    (docs/quantization.md has the contract):

    - `fp8`, `int8` (W8A8): the weight becomes f8E4M3FN / i8 with scales
      `@<W>.scale` (f32 `[N, 1]` per channel, or `[]` per tensor). The input
      is quantized per token by `llm.quantize_dynamic` (`activations=
      dynamic`), or per tensor by `llm.quantize` with the calibrated scale
      `@<W>.input_scale` = absmax / qmax from `calib-file`
      (`activations=static`); the linear takes both scales
      (`scales(%sx, %sw ...)`) and keeps its float result and bias.
    - `w8a16`, `w4a16` (weight-only): the weight becomes i8 / i4 with
      scales `@<W>.scale` (f32 `[N, K / group-size]`, or `[N, 1]` per
      channel) and, when `symmetric=false`, zero points `@<W>.zero_point`
      (i8, same shape); an `llm.dequantize` of it feeds the float linear. A
      weight whose in-features the group size does not divide gets the
      largest even group below it that does (576 -> 96), or per-channel
      scales with a remark when there is none; a row shorter than a group
      is one group (per channel).
    - `fp16`, `bf16`: no linear changes. The importer already builds the
      16-bit graph (`llmc compile --quant=fp16` imports at that activation
      type and converts the weights while streaming), so the pass only
      applies `kv-cache`.

    `kv-cache=fp8|int8` sets `kv_cache_dtype` (f8E4M3FN / i8) on every
    `llm.attention`, for any scheme.

    `gptq` rounds the weights of every quantized scheme with GPTQ
    (compiler/weights/Gptq.h) instead of to nearest: `calib-file` must
    carry a Gram matrix file (`llmc compile --calib TEXT --gptq`), named in
    each weight's `llm.quant` as `gptq = "<file>"`; the WeightStore reads
    the statistics of the weight's input from it.

    Weights are never read: the quantized weight carries `llm.quant`, its
    scales `llm.derived` and a calibrated input scale
    `llm.activation_scale` (passes/WeightAnnotations.h), which the
    WeightStore turns into lazy transforms. Static activation scales of
    linears that `llm-smooth` rescaled are computed from the smoothed
    maxima (max_j absmax_j / s_j).

    Errors name the option or the weight: an unknown scheme, a granularity
    the scheme cannot use (W8A8 has no group scales), asymmetric W8A8, static
    activations without `calib-file`, or a linear without a calibration
    entry (unless `static-fallback`, which quantizes that linear's input
    dynamically and says so in a remark).
  }];
  let options = [
    Option<"scheme", "scheme", "std::string", /*default=*/"\"int8\"",
           "fp8 | int8 (W8A8), w8a16 | w4a16 (weight-only), fp16 | bf16 | "
           "f32 (no quantization)">,
    Option<"weightGranularity", "weight-granularity", "std::string",
           /*default=*/"\"\"",
           "per-tensor | per-channel | group (default: per-channel for "
           "fp8/int8, group for w8a16/w4a16)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "input channels per weight scale with weight-granularity=group">,
    Option<"activations", "activations", "std::string",
           /*default=*/"\"dynamic\"",
           "W8A8 activation scales: dynamic (per token, at run time) or "
           "static (per tensor, from calib-file)">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"true",
           "symmetric weight scales; false adds i8 zero points "
           "(weight-only schemes only)">,
    Option<"keepFp", "keep-fp", "std::string",
           /*default=*/"\"lm_head,embed_tokens\"",
           "comma-separated weight-name substrings or globs (with * or ?) "
           "whose linears stay in high precision">,
    Option<"kvCache", "kv-cache", "std::string", /*default=*/"\"none\"",
           "KV-cache storage: none (the key's type), fp8 or int8">,
    Option<"calibFile", "calib-file", "std::string", /*default=*/"\"\"",
           "the llmc-calibration-1 JSON file (static activation scales)">,
    Option<"staticFallback", "static-fallback", "bool", /*default=*/"false",
           "with activations=static, quantize the input of a linear that "
           "has no calibration entry dynamically instead of failing">,
    Option<"clipSearch", "clip-search", "bool", /*default=*/"true",
           "weight-only integer weights (w8a16, w4a16): choose each "
           "block's range among 20 clipping ratios in [0.5, 1] by squared "
           "error (`clip_search` in llm.quant; WeightStore's "
           "QuantScheme::searchClipping)">,
    Option<"gptq", "gptq", "bool", /*default=*/"false",
           "round weights with GPTQ against the input Gram matrices of "
           "calib-file's gram_file, instead of to nearest">,
  ];
  let statistics = [
    Statistic<"numQuantized", "quantized-linears", "linears quantized">,
    Statistic<"numKept", "kept-linears", "linears kept in high precision">,
    Statistic<"numSmallerGroups", "smaller-groups",
              "weights whose rows group-size does not divide, given the "
              "largest even group that does">,
    Statistic<"numQuantizedAttention", "quantized-kv-caches",
              "attention ops given a quantized KV cache">,
  ];
}

//===----------------------------------------------------------------------===//
// Fusion (llm -> llm)
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
       (biases alike). Quantized linears merge too: W8A8 linears that share
       the input scale value (the per-token one CSE shares) with `[N, 1]`
       weight scales (a per-tensor `[]` scale keeps its linear apart), and
       weight-only linears whose `llm.dequantize`s have the same storage
       type, `[N, K/G]` scale blocks and zero-point-ness; the quantized
       weight, scales and zero points are concatenated alike and the packed
       weight's `llm.quant` names the packed scales.
    2. `rope-kv-write`: an `llm.attention` whose q and k are `llm.rope`s
       (optionally of a per-head `llm.rms_norm`) of reshaped parts of one
       3-way `llm.split`, and whose v is the third part, becomes an
       `rope_kv_write` group (RoPE of q and k read in place from the packed
       rows, k and v written to the KV cache by `llm.kv_cache_write`)
       followed by `llm.cached_attention` of its roped q. Both carry the
       attention's `kv_cache_dtype`.
    3. `gated-activations`: `act(gate) * up` over the two halves of a 2-way
       `llm.split` (act is `llm.silu` or `llm.gelu`) becomes a
       `gated_activation` group, with the `llm.quantize` that follows
       (`gated_activation_quantize`) or the `llm.quantize_dynamic`
       (`gated_activation_quantize_dynamic`) when `quantize` is set.
    4. `gemm-epilogues`: the packed GEMM feeding such a group joins it
       (`linear_gated_activation`, W8A8 and weight-only GEMMs included); an
       `llm.add` of a linear's result and a residual that dies there becomes
       `linear_residual` (lowered to `plan.gemm` with beta = 1 in the
       residual's buffer, with the GEMM's scales when it is quantized); a
       biased linear becomes `linear_bias` (float, W8A8 or weight-only).
    5. `norms`: `llm.add` feeding `llm.rms_norm` becomes `add_rms_norm`
       (both the sum and the norm are results); an `llm.quantize` of the
       norm joins (`add_rms_norm_quantize`, or `rms_norm_quantize` without
       the add) when `quantize` is set, as does an `llm.quantize_dynamic`
       (`add_rms_norm_quantize_dynamic`, `rms_norm_quantize_dynamic`); an
       `llm.rms_norm` of the added branch joins too
       (`rms_norm_add_rms_norm`, Gemma's sandwich norms).
    6. With `quantize` and `rope-kv-write`: `llm.cached_attention` whose
       output, reshaped to token rows, only an `llm.quantize_dynamic` reads
       becomes `cached_attention_quantize_dynamic` (W8A8's O projection
       input).
    7. `elementwise`: a chain of two or more elementwise ops of one shape,
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
           "pull an llm.quantize or llm.quantize_dynamic that follows a norm, "
           "a gated activation or cached attention into its group">,
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
      `backend` option; a bias is added in place by a `bias_add` step. A
      W8A8 linear's `scales` become `scale_a` (`[M, 1]` per token or `[]`)
      and `scale_b`; an `llm.dequantize` of an i8/i4 weight with f32
      `[N, K / G]` scales that only linears read is not a step: each of those
      linears becomes a weight-only `plan.gemm` of the quantized weight with
      `scale_b` and `zero_b` (docs/quantization.md). A quantized weight's
      slice carries `plan.quant = {scheme, scale, zero_point}` for the
      artifact's `Tensor.quant`.
    - `llm.quantize`, `llm.quantize_dynamic` and other `llm.dequantize`s
      become the `"quantize"`, `"quantize_dynamic"` (two outputs: values and
      per-token scales) and `"dequantize"` steps; an attention's
      `kv_cache_dtype` becomes the string parameter `"f8E4M3FN"` or `"i8"`.
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
      `linear_bias` (x, w [, GEMM scales], bias -> y); `rope_kv_write` (packed QKV,
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
    Option<"sm", "sm", "int64_t", /*default=*/"0",
           "with backend=cublaslt: the GPU's compute capability (90 for "
           "sm_90a); GEMMs cuBLASLt cannot run on it (weight-only, per-row "
           "INT8 scales, per-row FP8 scales before Hopper) get "
           "backend=generated">,
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
