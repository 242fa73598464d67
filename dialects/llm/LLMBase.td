//===- LLMBase.td - the llm dialect, its types, attributes and constraints -===//
//
// The `llm` dialect describes a decoder-only transformer at the level a model
// author thinks in: embeddings, norms, linear layers, RoPE, attention over a
// paged KV cache, activations, quantization and collectives. Ops have value
// semantics on ranked tensors; weights are referenced by name (`llm.weight`)
// and never inlined.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_LLMBASE_TD
#define LLMC_DIALECTS_LLM_LLMBASE_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::llmc::llm";
  let summary = "model-level ops of a decoder-only transformer";
  let description = [{
    The `llm` dialect is what every frontend (Hugging Face, GGUF, ONNX) produces
    and what quantization, partitioning and fusion rewrite. A model is one
    function, `@forward`, over a flattened ragged batch of tokens: token ids
    `[N]`, positions `[N]` and an `!llm.batch` value carrying per-sequence
    metadata (query offsets, KV lengths, KV block tables). Prefill, decode and
    mixed batches are the same graph.

    Element types are MLIR builtins (f32, f16, bf16, f8E4M3FN, f8E5M2, i8, i4).
    Quantization scales are ordinary tensor operands, never part of a type.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def LLM_FloatElement : AnyTypeOf<[F32, F16, BF16]>;
// Storage types of quantized values; i4 is packed two per byte in the artifact.
def LLM_QuantElement : AnyTypeOf<[F8E4M3FN, F8E5M2, I8, I<4>]>;

def LLM_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def LLM_QuantTensor : RankedTensorOf<[F8E4M3FN, F8E5M2, I8, I<4>]>;
// What llm.dequantize reads: quantized values. (W8A8 linears apply their
// scales themselves, so no i32 accumulator is ever dequantized.)
def LLM_DequantizableTensor : RankedTensorOf<[F8E4M3FN, F8E5M2, I8, I<4>]>;
// Anything a weight may be stored as, including integer zero points.
def LLM_AnyTensor : RankedTensorOf<[F32, F16, BF16, F8E4M3FN, F8E5M2, I8, I<4>, I32]>;
// Token ids and positions of the flattened batch.
def LLM_IndexTensor : 1DTensorOf<[I32]>;
// Integer zero points of asymmetric quantization.
def LLM_ZeroPointTensor : RankedTensorOf<[I8, I<4>, I32]>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def LLM_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "how gelu is evaluated", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Tanh", 1, "tanh">]> {
  let cppNamespace = "::llmc::llm";
  // EnumAttr below wraps it as a dialect attribute (#llm<...>).
  let genSpecializedAttr = 0;
}

def LLM_RopeStyle : I32EnumAttr<"RopeStyle",
    "which elements of a head RoPE rotates together", [
      // Element i pairs with i + rotary_dim/2 (Hugging Face rotate_half, NeoX).
      I32EnumAttrCase<"Half", 0, "half">,
      // Element 2i pairs with 2i+1 (GPT-J, Meta's original Llama).
      I32EnumAttrCase<"Interleaved", 1, "interleaved">]> {
  let cppNamespace = "::llmc::llm";
  // EnumAttr below wraps it as a dialect attribute (#llm<...>).
  let genSpecializedAttr = 0;
}

def LLM_RopeScalingKind : I32EnumAttr<"RopeScalingKind",
    "how RoPE frequencies are rescaled for long context", [
      I32EnumAttrCase<"Linear", 0, "linear">,
      I32EnumAttrCase<"Llama3", 1, "llama3">,
      I32EnumAttrCase<"Yarn", 2, "yarn">]> {
  let cppNamespace = "::llmc::llm";
  // EnumAttr below wraps it as a dialect attribute (#llm<...>).
  let genSpecializedAttr = 0;
}

def LLM_ReductionKind : I32EnumAttr<"ReductionKind",
    "how a collective combines values", [
      I32EnumAttrCase<"Sum", 0, "sum">,
      I32EnumAttrCase<"Max", 1, "max">,
      I32EnumAttrCase<"Min", 2, "min">]> {
  let cppNamespace = "::llmc::llm";
  // EnumAttr below wraps it as a dialect attribute (#llm<...>).
  let genSpecializedAttr = 0;
}

def LLM_GeluApproximationAttr : EnumAttr<LLM_Dialect, LLM_GeluApproximation, "gelu_approximation">;
def LLM_RopeStyleAttr : EnumAttr<LLM_Dialect, LLM_RopeStyle, "rope_style">;
def LLM_ReductionKindAttr : EnumAttr<LLM_Dialect, LLM_ReductionKind, "reduction">;

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

// A double-precision parameter (APFloat: llvm::hash_value has no double overload).
class LLM_F64Parameter<string desc> : AttrParameter<"::llvm::APFloat", desc> {
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
}

class LLM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<LLM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def LLM_RopeScalingAttr : LLM_Attr<"RopeScaling", "rope_scaling"> {
  let summary = "a RoPE frequency scaling variant and its parameters";
  let description = [{
    `linear` divides positions by `factor`. `llama3` (Llama 3.1+) keeps high
    frequencies, divides low ones by `factor` and interpolates between, using
    `low_freq_factor`, `high_freq_factor` and `original_max_position`. `yarn`
    uses `factor` and `original_max_position`.

    ```mlir
    #llm.rope_scaling<linear, factor = 4.0>
    #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0,
                      high_freq_factor = 4.0, original_max_position = 8192>
    ```
  }];
  let parameters = (ins
    "RopeScalingKind":$kind,
    LLM_F64Parameter<"the scaling factor">:$factor,
    LLM_F64Parameter<"llama3: low-frequency factor">:$lowFreqFactor,
    LLM_F64Parameter<"llama3: high-frequency factor">:$highFreqFactor,
    "int64_t":$originalMaxPosition);
  let builders = [
    AttrBuilder<(ins "RopeScalingKind":$kind, "double":$factor,
                     CArg<"double", "1.0">:$lowFreqFactor,
                     CArg<"double", "4.0">:$highFreqFactor,
                     CArg<"int64_t", "0">:$originalMaxPosition), [{
      return $_get($_ctxt, kind, ::llvm::APFloat(factor),
                   ::llvm::APFloat(lowFreqFactor), ::llvm::APFloat(highFreqFactor),
                   originalMaxPosition);
    }]>];
  // The C++ format prints only the parameters the kind uses.
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

class LLM_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<LLM_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def LLM_BatchType : LLM_Type<"Batch", "batch"> {
  let summary = "per-sequence metadata of the flattened ragged batch";
  let description = [{
    An opaque handle to what attention needs beyond the tokens themselves: the
    query offset of each sequence in the flattened batch, each sequence's KV
    length, and its KV-cache block table. It is an argument of `@forward` and
    is filled by the runtime's scheduler for every step.

    ```mlir
    func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %batch: !llm.batch)
    ```
  }];
}

//===----------------------------------------------------------------------===//
// Base op
//===----------------------------------------------------------------------===//

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

#endif // LLMC_DIALECTS_LLM_LLMBASE_TD
