// A tiny llm-dialect model for the llmc driver tests: embedding then RMSNorm.
// @model.unused.weight feeds nothing, so canonicalize must drop it; the tests
// use that to see that the pipeline ran.
func.func @forward(%ids: tensor<?xi32>) -> tensor<?x64xbf16> {
  %table = llm.weight @model.embed_tokens.weight : tensor<256x64xbf16>
  %norm_weight = llm.weight @model.norm.weight : tensor<64xbf16>
  %unused = llm.weight @model.unused.weight : tensor<64x64xbf16>
  %hidden = llm.embedding %table[%ids] : tensor<256x64xbf16>, tensor<?xi32> -> tensor<?x64xbf16>
  %normed = llm.rms_norm %hidden, %norm_weight epsilon = 1.0e-05 : tensor<?x64xbf16>, tensor<64xbf16>
  return %normed : tensor<?x64xbf16>
}
