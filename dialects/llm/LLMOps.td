//===- LLMOps.td - ops of the llm dialect ----------------------------------===//

#ifndef LLMC_DIALECTS_LLM_LLMOPS_TD
#define LLMC_DIALECTS_LLM_LLMOPS_TD

include "dialects/llm/LLMBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Attention appends to and reads from the KV cache the runtime owns; modelling
// that as a resource keeps attention from being CSE'd, hoisted or erased.
def LLM_KVCacheResource : Resource<"::llmc::llm::KVCacheResource">;

//===----------------------------------------------------------------------===//
// Weights and embeddings
//===----------------------------------------------------------------------===//

def LLM_WeightOp : LLM_Op<"weight", [Pure]> {
  let summary = "a named weight tensor kept outside the IR";
  let description = [{
    Refers to a tensor in the WeightStore by name; its data never enters the
    IR. Passes that change a weight (quantize, transpose, concatenate, shard)
    record a transform on the store and give the op its new type; the artifact
    writer applies the transforms while streaming. The type must be static.

    ```mlir
    %w = llm.weight @model.layers.0.self_attn.q_proj.weight : tensor<2048x2048xbf16>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs LLM_AnyTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def LLM_EmbeddingOp : LLM_Op<"embedding", [Pure]> {
  let summary = "gathers rows of an embedding table by token id";
  let description = [{
    `result[i, :] = table[ids[i], :]` for a `[vocab, hidden]` table and `[N]`
    token ids.

    ```mlir
    %h = llm.embedding %table[%ids] : tensor<49152x576xbf16>, tensor<?xi32> -> tensor<?x576xbf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$table, LLM_IndexTensor:$ids);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

def LLM_RMSNormOp : LLM_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "root-mean-square normalization over the last dimension";
  let description = [{
    `result = input / sqrt(mean(input^2, -1) + epsilon) * weight`, with the
    mean taken in f32. `weight` has the size of the last dimension. (Gemma's
    `1 + weight` is folded into the weight by the frontend.)

    ```mlir
    %y = llm.rms_norm %x, %w epsilon = 1.0e-05 : tensor<?x576xbf16>, tensor<576xbf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       F64Attr:$epsilon);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `epsilon` `=` $epsilon attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def LLM_LayerNormOp : LLM_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "layer normalization over the last dimension";
  let description = [{
    `result = (input - mean) / sqrt(var + epsilon) * weight [+ bias]`, with
    statistics over the last dimension in f32.

    ```mlir
    %y = llm.layer_norm %x, %w, %b epsilon = 1.0e-05 : tensor<?x768xf16>, tensor<768xf16>, tensor<768xf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       Optional<LLM_FloatTensor>:$bias, F64Attr:$epsilon);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? `epsilon` `=` $epsilon attr-dict `:`
    type($input) `,` type($weight) (`,` type($bias)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

// AttrSizedOperandSegments: bias and the two scales are each optional.
def LLM_LinearOp : LLM_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "a linear layer: input times transposed weight, plus bias";
  let description = [{
    `result[..., n] = sum_k input[..., k] * weight[n, k] (+ bias[n])`, the
    `[out_features, in_features]` layout of PyTorch's `nn.Linear`. Input and
    weight share an element type.

    Float inputs (f32, f16, bf16) give a result of the same kind and take no
    scales. Quantized inputs (i8 x i8, or f8 x f8) are the W8A8 form and need
    both `scales`: the result is the float
    `acc[..., n] * input_scale[...] * weight_scale[n] (+ bias[n])`, with `acc`
    the exact sum of products (int32 for i8). `input_scale` is f32 `[]` (per
    tensor) or the input's shape with a last dimension of 1 (per token);
    `weight_scale` is f32 `[]` or `[N, 1]` (per output channel). Weight-only
    quantization is not written here: it is an `llm.dequantize` of the
    quantized weight feeding a float `llm.linear`.

    ```mlir
    %q = llm.linear %x, %wq : tensor<?x576xbf16>, tensor<576x576xbf16> -> tensor<?x576xbf16>
    %y = llm.linear %x8, %w8 scales(%sx, %sw : tensor<?x1xf32>, tensor<1024x1xf32>)
        : tensor<?x4096xi8>, tensor<1024x4096xi8> -> tensor<?x1024xbf16>
    ```
  }];
  let arguments = (ins LLM_AnyTensor:$input, LLM_AnyTensor:$weight,
                       Optional<LLM_AnyTensor>:$bias,
                       Optional<F32Tensor>:$input_scale,
                       Optional<F32Tensor>:$weight_scale);
  let results = (outs LLM_AnyTensor:$result);
  // The scales carry their types inside the group: after the bias type an
  // optional `, type` would be ambiguous.
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)?
    (`scales` `(` $input_scale^ `,` $weight_scale `:` type($input_scale) `,`
      type($weight_scale) `)`)? attr-dict `:`
    type($input) `,` type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  // The float form, as frontends build it.
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$weight, "::mlir::Value":$bias), [{
      build($_builder, $_state, result, input, weight, bias, ::mlir::Value(),
            ::mlir::Value());
    }]>];
  let extraClassDeclaration = [{
    /// Whether this is the W8A8 form (quantized input and weight, scales).
    bool isQuantized() { return static_cast<bool>(getInputScale()); }
  }];
}

def LLM_MatmulOp : LLM_Op<"matmul", [Pure]> {
  let summary = "a batched matrix product of two activations";
  let description = [{
    `[..., M, K] x [..., K, N] -> [..., M, N]` with equal batch dimensions, or
    `[..., N, K]` for the right operand when `transpose_rhs` is set. Use
    `llm.linear` when the right operand is a weight.

    ```mlir
    %s = llm.matmul %q, %k {transpose_rhs} : tensor<9x16x64xf32>, tensor<9x16x64xf32> -> tensor<9x16x16xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$lhs, LLM_FloatTensor:$rhs,
                       UnitAttr:$transpose_rhs);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

def LLM_ReshapeOp : LLM_Op<"reshape", [Pure]> {
  let summary = "reinterprets a tensor's elements under another shape";
  let description = [{
    Row-major order is kept and the element count must match. The dynamic
    token dimension may appear once on each side, and the static dimensions
    must then have equal products; this is how `[N, heads * head_dim]`
    projections become the `[N, heads, head_dim]` that `llm.rope` and
    `llm.attention` take.

    ```mlir
    %q3 = llm.reshape %q : tensor<?x576xbf16> -> tensor<?x9x64xbf16>
    ```
  }];
  let arguments = (ins LLM_AnyTensor:$input);
  let results = (outs LLM_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Positional encoding and attention
//===----------------------------------------------------------------------===//

def LLM_RopeOp : LLM_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding of query or key heads";
  let description = [{
    Rotates the first `rotary_dim` elements of each `[N, heads, head_dim]`
    head by angles `position * theta^(-2i/rotary_dim)`, optionally rescaled by
    `scaling`. `rotary_dim` defaults to `head_dim`; `style` says which elements
    rotate together (`half`, the Hugging Face default, or `interleaved`).

    ```mlir
    %qr = llm.rope %q, %pos {theta = 500000.0 : f64,
        scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0,
                                    high_freq_factor = 4.0, original_max_position = 8192>}
        : tensor<?x32x128xbf16>, tensor<?xi32>
    ```
  }];
  let arguments = (ins
    LLM_FloatTensor:$input,
    LLM_IndexTensor:$positions,
    F64Attr:$theta,
    OptionalAttr<I64Attr>:$rotary_dim,
    DefaultValuedAttr<LLM_RopeStyleAttr, "RopeStyle::Half">:$style,
    OptionalAttr<LLM_RopeScalingAttr>:$scaling);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def LLM_AttentionOp : LLM_Op<"attention",
    [MemoryEffects<[MemRead<LLM_KVCacheResource>, MemWrite<LLM_KVCacheResource>]>]> {
  let summary = "causal attention of new tokens over the paged KV cache";
  let description = [{
    Appends this step's `key` and `value` rows to layer `layer`'s KV cache at
    the slots `batch` gives, then attends each query token over its sequence's
    cached keys and values up to and including itself (causal). Query heads
    are grouped over KV heads (GQA; MQA when there is one KV head), so the
    query head count must be a multiple of the KV head count. `scale`
    multiplies the logits (usually `head_dim^-0.5`); `sliding_window` limits
    each query to that many most recent keys; `softcap` applies
    `softcap * tanh(logits / softcap)` (Gemma 2). `kv_cache_dtype`
    (f8E4M3FN or i8) stores the cache quantized: each (token, KV head)
    vector of K and V with its own f32 scale, dequantized when read; without
    it the cache holds the key's element type. Query, key and value stay
    float either way.

    ```mlir
    %o = llm.attention %q, %k, %v, %batch {layer = 0 : i64, scale = 0.125 : f64}
        : tensor<?x9x64xbf16>, tensor<?x3x64xbf16>, tensor<?x3x64xbf16> -> tensor<?x9x64xbf16>
    %o8 = llm.attention %q, %k, %v, %batch {layer = 1 : i64, scale = 0.125 : f64,
        kv_cache_dtype = f8E4M3FN}
        : tensor<?x9x64xbf16>, tensor<?x3x64xbf16>, tensor<?x3x64xbf16> -> tensor<?x9x64xbf16>
    ```
  }];
  let arguments = (ins
    LLM_FloatTensor:$query,
    LLM_FloatTensor:$key,
    LLM_FloatTensor:$value,
    LLM_BatchType:$batch,
    I64Attr:$layer,
    F64Attr:$scale,
    OptionalAttr<I64Attr>:$sliding_window,
    OptionalAttr<F64Attr>:$softcap,
    OptionalAttr<TypeAttr>:$kv_cache_dtype);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $batch attr-dict `:`
    type($query) `,` type($key) `,` type($value) `->` type($result)
  }];
  // Without kv_cache_dtype, as frontends build it (llm-quantize adds it).
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$query,
                   "::mlir::Value":$key, "::mlir::Value":$value,
                   "::mlir::Value":$batch, "::mlir::IntegerAttr":$layer,
                   "::mlir::FloatAttr":$scale,
                   "::mlir::IntegerAttr":$sliding_window,
                   "::mlir::FloatAttr":$softcap), [{
      build($_builder, $_state, result, query, key, value, batch, layer, scale,
            sliding_window, softcap, ::mlir::TypeAttr());
    }]>];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise and softmax
//===----------------------------------------------------------------------===//

class LLM_UnaryFloatOp<string mnemonic, list<Trait> traits = []>
    : LLM_Op<mnemonic, !listconcat([Pure, SameOperandsAndResultType], traits)> {
  let arguments = (ins LLM_FloatTensor:$input);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

class LLM_BinaryFloatOp<string mnemonic, list<Trait> traits = []>
    : LLM_Op<mnemonic, !listconcat([Pure, SameOperandsAndResultType], traits)> {
  let arguments = (ins LLM_FloatTensor:$lhs, LLM_FloatTensor:$rhs);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LLM_SiluOp : LLM_UnaryFloatOp<"silu"> {
  let summary = "SiLU (swish) activation, x * sigmoid(x)";
  let description = [{
    ```mlir
    %a = llm.silu %gate : tensor<?x1536xbf16>
    ```
  }];
}

def LLM_GeluOp : LLM_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "GELU activation, exact or with the tanh approximation";
  let description = [{
    `approximation = tanh` is PyTorch's `gelu(approximate="tanh")`, used by
    Gemma's GeGLU.

    ```mlir
    %a = llm.gelu %gate approximation = tanh : tensor<?x2048xbf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
      DefaultValuedAttr<LLM_GeluApproximationAttr, "GeluApproximation::None">:$approximation);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`approximation` `=` $approximation^)? attr-dict `:` type($result)
  }];
}

def LLM_AddOp : LLM_BinaryFloatOp<"add", [Commutative]> {
  let summary = "elementwise sum of two tensors of one type";
  let description = [{
    ```mlir
    %h2 = llm.add %h, %attn : tensor<?x576xbf16>
    ```
  }];
  let hasFolder = 1;
}

def LLM_MulOp : LLM_BinaryFloatOp<"mul", [Commutative]> {
  let summary = "elementwise product of two tensors of one type";
  let description = [{
    ```mlir
    %g = llm.mul %act, %up : tensor<?x1536xbf16>
    ```
  }];
  let hasFolder = 1;
}

def LLM_ScaleOp : LLM_Op<"scale", [Pure, SameOperandsAndResultType]> {
  let summary = "multiplies every element by a constant factor";
  let description = [{
    Gemma multiplies its embeddings by sqrt(hidden_size); the table itself
    cannot absorb the factor because the LM head shares it.

    ```mlir
    %h = llm.scale %e by 25.25 : tensor<?x640xbf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, F64Attr:$factor);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input `by` $factor attr-dict `:` type($result)";
  let hasFolder = 1;
}

def LLM_SoftmaxOp : LLM_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax along one axis";
  let description = [{
    Computed in f32 with the maximum subtracted first. A negative `axis`
    counts from the back.

    ```mlir
    %p = llm.softmax %logits axis = -1 : tensor<?x49152xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input `axis` `=` $axis attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

// The scale's shape says the granularity: a scalar (rank 0) is per tensor; a
// scale of the input's rank applies each scale to one block of the input, the
// block being input_dim / scale_dim along every dimension. So per-channel is
// [M, 1] for an [M, K] weight, group-wise is [M, K/128], and per-token is
// [N, 1]. One rule covers them all and keeps scales out of types.
def LLM_QuantizeOp : LLM_Op<"quantize", [Pure]> {
  let summary = "quantizes a float tensor with block-wise scales";
  let description = [{
    `result = saturate(round(input / scale) [+ zero_point])`, rounding to
    nearest even and saturating to the result type (±448 for f8E4M3FN,
    ±57344 for f8E5M2, [-128, 127] for i8, [-8, 7] for i4). A `zero_point`
    (integer results only) has the scale's shape and makes the scheme
    asymmetric.

    ```mlir
    // Per-output-channel FP8 weights.
    %wq = llm.quantize %w, %s : tensor<1024x4096xbf16>, tensor<1024x1xf32> -> tensor<1024x4096xf8E4M3FN>
    // Group-wise INT4 with zero points, group size 128.
    %w4 = llm.quantize %w, %s, %z : tensor<1024x4096xf16>, tensor<1024x32xf16>, tensor<1024x32xi8> -> tensor<1024x4096xi4>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$scale,
                       Optional<LLM_ZeroPointTensor>:$zero_point);
  let results = (outs LLM_QuantTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale (`,` $zero_point^)? attr-dict `:`
    type($input) `,` type($scale) (`,` type($zero_point)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

// Per-token scales are computed from the data, so both results come from one
// op: the scale is what the runtime measured, not an operand.
def LLM_QuantizeDynamicOp : LLM_Op<"quantize_dynamic", [Pure]> {
  let summary = "quantizes each row with a scale computed from its own maximum";
  let description = [{
    Per token (each row over the last dimension):
    `amax = max |input[..., :]|`, `scale = amax / qmax` (qmax 127 for i8,
    448 for f8E4M3FN; 1 when amax is 0), then `result = saturate(round(input
    / scale))` as `llm.quantize` does. Returns the quantized tensor and its
    f32 scales, of the input's shape with a last dimension of 1. This is the
    activation side of dynamic W8A8.

    ```mlir
    %xq, %sx = llm.quantize_dynamic %x : tensor<?x4096xbf16> -> tensor<?x4096xi8>, tensor<?x1xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input);
  let results = (outs RankedTensorOf<[I8, F8E4M3FN]>:$result,
                      F32Tensor:$scale);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($result) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def LLM_DequantizeOp : LLM_Op<"dequantize", [Pure]> {
  let summary = "dequantizes a tensor with block-wise scales";
  let description = [{
    `result = (input [- zero_point]) * scale`, with the scale shapes of
    `llm.quantize`. A weight-only quantized linear layer is the dequantize of
    its weight feeding a float `llm.linear`; lowering turns the pair into one
    GEMM that dequantizes on the fly.

    ```mlir
    %w = llm.dequantize %wq, %s : tensor<1024x4096xf8E4M3FN>, tensor<1024x1xf32> -> tensor<1024x4096xbf16>
    ```
  }];
  let arguments = (ins LLM_DequantizableTensor:$input, LLM_FloatTensor:$scale,
                       Optional<LLM_ZeroPointTensor>:$zero_point);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale (`,` $zero_point^)? attr-dict `:`
    type($input) `,` type($scale) (`,` type($zero_point)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Collectives (tensor and pipeline parallelism)
//===----------------------------------------------------------------------===//

// Collectives are not Pure: every rank of the group must reach them, so they
// are never erased or reordered just because one rank does not use a result.
def LLM_AllReduceOp : LLM_Op<"all_reduce", [SameOperandsAndResultType]> {
  let summary = "combines a tensor across the ranks of a group";
  let description = [{
    Every rank in `group` contributes its tensor and receives the combination.
    Row-parallel linear layers are followed by an `all_reduce` of kind `sum`.

    ```mlir
    %o = llm.all_reduce sum %partial group = [0, 1, 2, 3] : tensor<?x4096xbf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_ReductionKindAttr:$reduction,
                       DenseI64ArrayAttr:$group);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $reduction $input `group` `=` $group attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLM_AllGatherOp : LLM_Op<"all_gather"> {
  let summary = "concatenates a tensor from every rank of a group along an axis";
  let description = [{
    The result's `axis` dimension is the input's times the group size, rank
    `group[i]`'s part at position i. Vocab-parallel LM heads gather logits.

    ```mlir
    %l = llm.all_gather %part axis = 1 group = [0, 1] : tensor<?x24576xf32> -> tensor<?x49152xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, I64Attr:$axis,
                       DenseI64ArrayAttr:$group);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `axis` `=` $axis `group` `=` $group attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLM_SendOp : LLM_Op<"send"> {
  let summary = "sends a tensor to another rank (pipeline stage boundary)";
  let description = [{
    ```mlir
    llm.send %hidden to 1 : tensor<?x4096xbf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, I64Attr:$peer);
  let assemblyFormat = "$input `to` $peer attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def LLM_RecvOp : LLM_Op<"recv"> {
  let summary = "receives a tensor from another rank (pipeline stage boundary)";
  let description = [{
    The result type must match what the peer sends; the token dimension may
    be dynamic.

    ```mlir
    %hidden = llm.recv from 0 : tensor<?x4096xbf16>
    ```
  }];
  let arguments = (ins I64Attr:$peer);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "`from` $peer attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Packed projections and the split KV-cache path (created by llm-fuse)
//===----------------------------------------------------------------------===//

def LLM_SplitOp : LLM_Op<"split", [Pure]> {
  let summary = "splits the last dimension into consecutive parts";
  let description = [{
    Result i holds columns `[sizes[0] + ... + sizes[i-1], ... + sizes[i])` of
    the input's last dimension; the other dimensions are kept. `llm-fuse`
    writes it after a horizontally merged `llm.linear` (Q, K and V, or gate
    and up, over one concatenated weight), so that each consumer still reads
    the part it read before. Inside a fused group the parts are read in place
    from the packed rows; on its own it lowers to a copy.

    ```mlir
    %q, %k, %v = llm.split %qkv : tensor<?x128xbf16> -> tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>
    ```
  }];
  let arguments = (ins LLM_AnyTensor:$input);
  let results = (outs Variadic<LLM_AnyTensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($results)";
  let hasVerifier = 1;
}

// The write and the read are separate ops so that the write can join the
// RoPE of the packed QKV rows in one kernel while attention stays its own.
def LLM_KVCacheWriteOp : LLM_Op<"kv_cache_write",
    [MemoryEffects<[MemWrite<LLM_KVCacheResource>]>]> {
  let summary = "appends key and value rows to one layer of the KV cache";
  let description = [{
    Stores this step's `key` and `value` rows (`[tokens, kv_heads,
    head_dim]`) into layer `layer`'s KV cache at the slots `batch` gives:
    the first half of what `llm.attention` does. `llm.cached_attention`
    then reads them. `kv_cache_dtype` (f8E4M3FN or i8) stores them quantized,
    as on `llm.attention`.

    ```mlir
    llm.kv_cache_write %k, %v, %batch {layer = 0 : i64} : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>
    llm.kv_cache_write %k, %v, %batch {layer = 1 : i64, kv_cache_dtype = f8E4M3FN}
        : tensor<?x2x16xbf16>, tensor<?x2x16xbf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$key, LLM_FloatTensor:$value,
                       LLM_BatchType:$batch, I64Attr:$layer,
                       OptionalAttr<TypeAttr>:$kv_cache_dtype);
  let assemblyFormat = [{
    $key `,` $value `,` $batch attr-dict `:` type($key) `,` type($value)
  }];
  let hasVerifier = 1;
}

def LLM_CachedAttentionOp : LLM_Op<"cached_attention",
    [MemoryEffects<[MemRead<LLM_KVCacheResource>]>]> {
  let summary = "causal attention over KV-cache rows already written";
  let description = [{
    The second half of `llm.attention`: attends each query token over its
    sequence's cached keys and values up to and including itself, after an
    `llm.kv_cache_write` of the same `layer` stored this step's rows. `scale`,
    `sliding_window` and `softcap` mean what they mean on `llm.attention`;
    the KV head count is the cache's, so only the query is an operand.
    `kv_cache_dtype` says how the `llm.kv_cache_write` stored the rows (it
    must be the write's).

    ```mlir
    %o = llm.cached_attention %q, %batch {layer = 0 : i64, scale = 0.25 : f64}
        : tensor<?x4x16xbf16> -> tensor<?x4x16xbf16>
    ```
  }];
  let arguments = (ins
    LLM_FloatTensor:$query,
    LLM_BatchType:$batch,
    I64Attr:$layer,
    F64Attr:$scale,
    OptionalAttr<I64Attr>:$sliding_window,
    OptionalAttr<F64Attr>:$softcap,
    OptionalAttr<TypeAttr>:$kv_cache_dtype);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $batch attr-dict `:` type($query) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

// IsolatedFromAbove: a fused group becomes one kernel, so everything it reads
// must come in through its inputs.
def LLM_FusedOp : LLM_Op<"fused", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "a group of ops that becomes one kernel";
  let description = [{
    The body's block arguments are the inputs, in order; `llm.yield` gives the
    results. `kind` names the fusion pattern for code generation and
    statistics. Fusion creates these; code generation emits one kernel each,
    and `llm-lower-to-plan` one step each, named by the kind. The body keeps
    the original ops, so a group means what its body means. The kinds
    `llm-fuse` creates (inputs -> results):

    - `add_rms_norm` (a, b, w -> a + b, rms_norm(a + b)): the residual sum
      and its normalization in one sweep; `add_rms_norm_quantize` (a, b, w,
      scale -> sum, quantized norm) and `rms_norm_quantize` (x, w, scale ->
      quantized norm) when an `llm.quantize` follows the norm;
      `add_rms_norm_quantize_dynamic` (a, b, w -> sum, codes, scales) and
      `rms_norm_quantize_dynamic` (x, w -> codes, scales) when an
      `llm.quantize_dynamic` does;
      `rms_norm_add_rms_norm` (branch, branch weight, residual, w -> sum,
      norm) when the added branch is itself normalized (Gemma's sandwich).
    - `gated_activation` (packed -> act(gate) * up): `llm.split` of packed
      `[gate | up]` rows, `llm.silu` or `llm.gelu` of the gate, `llm.mul`;
      `gated_activation_quantize` adds an `llm.quantize` (scale input),
      `gated_activation_quantize_dynamic` an `llm.quantize_dynamic` (-> codes,
      scales).
    - `linear_gated_activation` (x, w [, bias] -> act(gate) * up): the merged
      gate/up `llm.linear` with the gated activation as its epilogue; the
      linear may be W8A8 (its scales are inputs) or read a weight-only
      `llm.dequantize` outside the group; `_quantize` and
      `_quantize_dynamic` as for `gated_activation`.
    - `linear_residual` (x, w, residual -> residual + x * w^T): the residual
      add as a GEMM epilogue (beta = 1); `linear_bias` (x, w, bias -> y): a
      biased `llm.linear` as one GEMM with a bias epilogue.
    - `rope_kv_write` (packed QKV, positions, batch [, q_norm, k_norm] -> q):
      `llm.split` of the packed rows, reshapes to heads, optional per-head
      RMSNorm (Qwen3), `llm.rope` of q and k, and `llm.kv_cache_write` of k
      and v; the roped q goes to `llm.cached_attention`.
    - `cached_attention_quantize_dynamic` (q, batch -> codes, scales):
      `llm.cached_attention`, the reshape of its heads into token rows and
      their `llm.quantize_dynamic`.
    - `elementwise` (any inputs -> one result): a chain of elementwise ops
      (`add`, `mul`, `silu`, `gelu`, `scale`, `arith.extf`/`truncf`) of one
      shape, each used only by the next.

    ```mlir
    %n = llm.fused ins(%h, %r, %w : tensor<?x576xbf16>, tensor<?x576xbf16>, tensor<576xbf16>)
        attributes {kind = "add_rms_norm"} {
    ^bb0(%a: tensor<?x576xbf16>, %b: tensor<?x576xbf16>, %g: tensor<576xbf16>):
      %s = llm.add %a, %b : tensor<?x576xbf16>
      %y = llm.rms_norm %s, %g epsilon = 1.0e-05 : tensor<?x576xbf16>, tensor<576xbf16>
      llm.yield %y : tensor<?x576xbf16>
    } -> tensor<?x576xbf16>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs, OptionalAttr<StrAttr>:$kind);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    (`ins` `(` $inputs^ `:` type($inputs) `)`)? attr-dict-with-keyword $body
    `->` type($results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLM_YieldOp : LLM_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"FusedOp">]> {
  let summary = "returns the results of a fused group";
  let description = [{
    ```mlir
    llm.yield %y : tensor<?x576xbf16>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange()); }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // LLMC_DIALECTS_LLM_LLMOPS_TD
