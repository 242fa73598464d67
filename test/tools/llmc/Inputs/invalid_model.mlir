// An llm-dialect model that parses but fails verification: the RMSNorm weight
// has 32 elements where the hidden size is 64.
func.func @forward(%ids: tensor<?xi32>) -> tensor<?x64xbf16> {
  %table = llm.weight @model.embed_tokens.weight : tensor<256x64xbf16>
  %norm_weight = llm.weight @model.norm.weight : tensor<32xbf16>
  %hidden = llm.embedding %table[%ids] : tensor<256x64xbf16>, tensor<?xi32> -> tensor<?x64xbf16>
  %normed = llm.rms_norm %hidden, %norm_weight epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<32xbf16>
  return %normed : tensor<?x64xbf16>
}
