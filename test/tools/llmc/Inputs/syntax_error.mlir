// Not MLIR at all past this comment, so the parser reports the line.
func.func @forward( {
