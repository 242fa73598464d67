// RUN: llmc-opt %s --split-input-file --verify-diagnostics

// plan.arena: an empty arena.
// expected-error @+1 {{arena @act must have a positive size, got 0 bytes}}
plan.arena @act kind = activations size = 0 alignment = 256

// -----
// plan.arena: alignment that is not a power of two.
// expected-error @+1 {{arena @act alignment must be a power of two, got 48}}
plan.arena @act kind = activations size = 4096 alignment = 48

// -----
// plan.arena: alignment zero.
// expected-error @+1 {{arena @act alignment must be a power of two, got 0}}
plan.arena @act kind = activations size = 4096 alignment = 0

// -----
// plan.arena: an arena kind that does not exist.
// expected-error @+2 {{expected ::llmc::plan::ArenaKind to be one of: activations, kv_cache, weights, host}}
// expected-error @+1 {{failed to parse Plan_ArenaKindAttr}}
plan.arena @act kind = scratch size = 4096 alignment = 64

// -----
// plan.arena: arenas are module-level declarations.
plan.rank 0 {
  // expected-error @+1 {{expects parent op 'builtin.module'}}
  plan.arena @act kind = activations size = 4096 alignment = 64
}

// -----
// plan.kernel: the entry point must be a C identifier.
// expected-error @+1 {{kernel @k entry must be a C identifier, got '1st-kernel'}}
plan.kernel @k entry = "1st-kernel"

// -----
// plan.kernel: an empty entry point.
// expected-error @+1 {{kernel @k entry must be a C identifier, got ''}}
plan.kernel @k entry = ""

// -----
// plan.kernel: kernels are module-level declarations.
func.func @f() {
  // expected-error @+1 {{expects parent op 'builtin.module'}}
  plan.kernel @k entry = "k"
  return
}

// -----
// plan.rank: a negative rank.
// expected-error @+1 {{rank must be non-negative, got -1}}
plan.rank -1 {
}

// -----
// plan.rank: two plans for one rank.
plan.rank 0 {
}
plan.rank 1 {
}
// expected-error @+1 {{rank 0 already has a plan}}
plan.rank 0 {
}

// -----
// plan.rank: the body takes no arguments.
// expected-error @+1 {{body of rank 0 takes no arguments, got 1}}
plan.rank 0 {
^bb0(%x: memref<4xf32>):
}

// -----
// plan.rank: only plan ops inside a rank.
plan.rank 0 {
  // expected-error @+1 {{cannot be a step of plan.rank 0; a rank's body holds only plan ops}}
  %c = arith.constant 0 : i32
}

// -----
// plan.rank: ranks are module-level.
func.func @f() {
  // expected-error @+1 {{expects parent op 'builtin.module'}}
  plan.rank 0 {
  }
  return
}

// -----
// plan.slice: a slice that runs past the end of its arena.
plan.arena @act kind = activations size = 10000 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{slice of 8192 bytes at offset 4096 overruns arena @act of 10000 bytes}}
  %x = plan.slice @act[4096] : memref<4x1024xf16>
}

// -----
// plan.slice: an offset past the end of its arena.
plan.arena @act kind = activations size = 10000 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{slice of 4 bytes at offset 20000 overruns arena @act of 10000 bytes}}
  %x = plan.slice @act[20000] : memref<f32>
}

// -----
// plan.slice: i4 buffers round their size up to whole bytes.
plan.arena @w kind = weights size = 10 alignment = 64
plan.rank 0 {
  // expected-error @+1 {{slice of 2 bytes at offset 9 overruns arena @w of 10 bytes}}
  %x = plan.slice @w[9] : memref<3xi4>
}

// -----
// plan.slice: an arena that does not exist.
plan.rank 0 {
  // expected-error @+1 {{'@act' does not name a plan.arena}}
  %x = plan.slice @act[0] : memref<4xf32>
}

// -----
// plan.slice: a symbol that is a kernel, not an arena.
plan.kernel @act entry = "act"
plan.rank 0 {
  // expected-error @+1 {{'@act' does not name a plan.arena}}
  %x = plan.slice @act[0] : memref<4xf32>
}

// -----
// plan.slice: an offset that is not a multiple of the element size.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{slice offset 6 is not a multiple of the 4-byte size of 'f32'}}
  %x = plan.slice @act[6] : memref<4xf32>
}

// -----
// plan.slice: a negative offset.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{slice offset must be non-negative, got -4}}
  %x = plan.slice @act[-4] : memref<4xf32>
}

// -----
// plan.slice: a strided view is not a plain buffer.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{slice must be a contiguous row-major buffer, got layout}}
  %x = plan.slice @act[0] : memref<4x4xf32, strided<[8, 1]>>
}

// -----
// plan.slice: the arena, not the type, says where memory lives.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{slice must not name a memory space (the arena says where it lives), got 1}}
  %x = plan.slice @act[0] : memref<4xf32, 1>
}

// -----
// plan.slice: buffers have static shapes.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{result #0 must be statically shaped memref of f32, f16, bf16, f8E4M3FN, f8E5M2, i8, i32 or i4}}
  %x = plan.slice @act[0] : memref<?x4xf32>
}

// -----
// plan.slice: f64 is not a plan element type.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{result #0 must be statically shaped memref of f32, f16, bf16, f8E4M3FN, f8E5M2, i8, i32 or i4}}
  %x = plan.slice @act[0] : memref<4xf64>
}

// -----
// plan.launch: a kernel that does not exist.
plan.rank 0 {
  // expected-error @+1 {{'@k' does not name a plan.kernel}}
  plan.launch @k grid = [1, 1, 1] block = [32, 1, 1]
}

// -----
// plan.launch: a symbol that is an arena, not a kernel.
plan.arena @k kind = activations size = 4096 alignment = 256
plan.rank 0 {
  // expected-error @+1 {{'@k' does not name a plan.kernel}}
  plan.launch @k grid = [1, 1, 1] block = [32, 1, 1]
}

// -----
// plan.launch: grids have three dimensions.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{grid must have 3 dimensions [x, y, z], got [16]}}
  plan.launch @k grid = [16] block = [32, 1, 1]
}

// -----
// plan.launch: an empty grid dimension.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{grid y must be in [1, 65535], got 0 in [16, 0, 1]}}
  plan.launch @k grid = [16, 0, 1] block = [32, 1, 1]
}

// -----
// plan.launch: grid y beyond CUDA's limit.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{grid y must be in [1, 65535], got 65536 in [1, 65536, 1]}}
  plan.launch @k grid = [1, 65536, 1] block = [32, 1, 1]
}

// -----
// plan.launch: blocks have three dimensions.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{block must have 3 dimensions [x, y, z], got [32, 1]}}
  plan.launch @k grid = [1, 1, 1] block = [32, 1]
}

// -----
// plan.launch: a negative block dimension.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{block x must be in [1, 1024], got -32 in [-32, 1, 1]}}
  plan.launch @k grid = [1, 1, 1] block = [-32, 1, 1]
}

// -----
// plan.launch: block z beyond CUDA's limit of 64.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{block z must be in [1, 64], got 128 in [1, 1, 128]}}
  plan.launch @k grid = [1, 1, 1] block = [1, 1, 128]
}

// -----
// plan.launch: more than 1024 threads in a block.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{block [64, 32, 1] has 2048 threads; a block has at most 1024}}
  plan.launch @k grid = [1, 1, 1] block = [64, 32, 1]
}

// -----
// plan.launch: negative shared memory.
plan.kernel @k entry = "k"
plan.rank 0 {
  // expected-error @+1 {{shared_bytes must be non-negative, got -1}}
  plan.launch @k grid = [1, 1, 1] block = [32, 1, 1] shared_bytes = -1
}

// -----
// plan.gemm: operands are matrices.
func.func @f(%a: memref<4x16x64xbf16>, %b: memref<32x64xbf16>, %c: memref<16x32xbf16>) {
  // expected-error @+1 {{expected A to be a matrix but got shape [4, 16, 64]}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<4x16x64xbf16>, memref<32x64xbf16>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: K differs between A and a transposed B.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x128xbf16>, %c: memref<16x32xbf16>) {
  // expected-error @+1 {{A of shape [16, 64] has K = 64 but B of shape [32, 128] has K = 128 (B is [N, K] with transpose_b)}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xbf16>, memref<32x128xbf16>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: an [N, K] weight without transpose_b.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xbf16>, %c: memref<16x32xbf16>) {
  // expected-error @+1 {{A of shape [16, 64] has K = 64 but B of shape [32, 64] has K = 32 (B is [K, N] without transpose_b)}}
  plan.gemm cublaslt %a, %b into %c : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: C has the wrong shape.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xbf16>, %c: memref<16x64xbf16>) {
  // expected-error @+1 {{expected C of shape [M, N] = [16, 32] but got [16, 64]}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x64xbf16>
  return
}

// -----
// plan.gemm: float inputs of two types.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xf16>, %c: memref<16x32xf32>) {
  // expected-error @+1 {{A and B element types differ: 'bf16' and 'f16'; convert one of them first}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xbf16>, memref<32x64xf16>, memref<16x32xf32>
  return
}

// -----
// plan.gemm: float inputs into an integer result.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xbf16>, %c: memref<16x32xi32>) {
  // expected-error @+1 {{float inputs give an f32, f16 or bf16 result, not 'i32'}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x32xi32>
  return
}

// -----
// plan.gemm: scales on unquantized inputs.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xbf16>, %c: memref<16x32xbf16>, %s: memref<f32>) {
  // expected-error @+1 {{scales dequantize i8 or f8 inputs; 'bf16' inputs take none}}
  plan.gemm cublaslt %a, %b into %c transpose_b scale_a(%s : memref<f32>) : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: i8 times f8.
func.func @f(%a: memref<16x64xi8>, %b: memref<32x64xf8E4M3FN>, %c: memref<16x32xf32>) {
  // expected-error @+1 {{i8 A needs i8 B, got 'f8E4M3FN'}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xi8>, memref<32x64xf8E4M3FN>, memref<16x32xf32>
  return
}

// -----
// plan.gemm: i8 inputs into an i8 result.
func.func @f(%a: memref<16x64xi8>, %b: memref<32x64xi8>, %c: memref<16x32xi8>) {
  // expected-error @+1 {{i8 x i8 gives i32 or f32, f16, bf16, not 'i8'}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xi8>
  return
}

// -----
// plan.gemm: scales on the raw i32 accumulator.
func.func @f(%a: memref<16x64xi8>, %b: memref<32x64xi8>, %c: memref<16x32xi32>, %s: memref<16xf32>) {
  // expected-error @+1 {{i8 x i8 -> i32 keeps the raw accumulator; scales need a float result}}
  plan.gemm cublaslt %a, %b into %c transpose_b scale_a(%s : memref<16xf32>) : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xi32>
  return
}

// -----
// plan.gemm: f8 times i8.
func.func @f(%a: memref<16x64xf8E4M3FN>, %b: memref<32x64xi8>, %c: memref<16x32xf32>) {
  // expected-error @+1 {{f8 A needs f8 B, got 'i8'}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xf8E4M3FN>, memref<32x64xi8>, memref<16x32xf32>
  return
}

// -----
// plan.gemm: f8 inputs into an f8 result.
func.func @f(%a: memref<16x64xf8E4M3FN>, %b: memref<32x64xf8E4M3FN>, %c: memref<16x32xf8E4M3FN>) {
  // expected-error @+1 {{f8 x f8 gives f32, f16 or bf16, not 'f8E4M3FN'}}
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xf8E4M3FN>, memref<32x64xf8E4M3FN>, memref<16x32xf8E4M3FN>
  return
}

// -----
// plan.gemm: i4 activations have no GEMM mode (i4 is weight-only).
func.func @f(%a: memref<16x64xi4>, %b: memref<32x64xi4>, %c: memref<16x32xi32>) {
  // expected-error @+1 {{no GEMM mode takes 'i4' x 'i4'; expected f32, f16 or bf16 of one type, i8 x i8, f8 x f8, or a float A with an i8 or i4 B (weight-only)}}
  plan.gemm generated %a, %b into %c transpose_b : memref<16x64xi4>, memref<32x64xi4>, memref<16x32xi32>
  return
}

// -----
// plan.gemm: per-row scales of A must match M.
func.func @f(%a: memref<16x64xf8E4M3FN>, %b: memref<32x64xf8E4M3FN>, %c: memref<16x32xbf16>, %s: memref<32xf32>) {
  // expected-error @+1 {{scale_a must hold 1 value (per tensor) or 16 (per row of A, M) but has shape [32]}}
  plan.gemm cublaslt %a, %b into %c transpose_b scale_a(%s : memref<32xf32>) : memref<16x64xf8E4M3FN>, memref<32x64xf8E4M3FN>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: per-column scales of B must match N.
func.func @f(%a: memref<16x64xi8>, %b: memref<32x64xi8>, %c: memref<16x32xf16>, %s: memref<16x1xf32>) {
  // expected-error @+1 {{scale_b must hold 1 value (per tensor) or 32 (per column of C, N) but has shape [16, 1]}}
  plan.gemm cublaslt %a, %b into %c transpose_b scale_b(%s : memref<16x1xf32>) : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xf16>
  return
}

// -----
// plan.gemm: scales are f32.
func.func @f(%a: memref<16x64xi8>, %b: memref<32x64xi8>, %c: memref<16x32xf16>, %s: memref<32xf16>) {
  // expected-error @+1 {{operand #3 must be statically shaped memref of f32, but got 'memref<32xf16>'}}
  plan.gemm cublaslt %a, %b into %c transpose_b scale_b(%s : memref<32xf16>) : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xf16>
  return
}

// -----
// plan.gemm: an unknown backend.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xbf16>, %c: memref<16x32xbf16>) {
  // expected-error @+2 {{expected ::llmc::plan::GemmBackend to be one of: cublaslt, generated, cpu}}
  // expected-error @+1 {{failed to parse Plan_GemmBackendAttr}}
  plan.gemm cublas %a, %b into %c transpose_b : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x32xbf16>
  return
}

// -----
// plan.collective: an empty group.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{group must name at least one rank}}
  plan.collective all_reduce %x reduction = sum group = [] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: a negative rank in the group.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{group rank must be non-negative, got -1}}
  plan.collective all_reduce %x reduction = sum group = [0, -1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: a rank named twice.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{group names rank 1 twice}}
  plan.collective all_reduce %x reduction = sum group = [0, 1, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: all_reduce without a reduction.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{all_reduce needs a reduction, e.g. reduction = sum}}
  plan.collective all_reduce %x group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: a reduction on an all_gather.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{only all_reduce takes a reduction, not all_gather}}
  plan.collective all_gather %x reduction = max axis = 0 group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: all_gather without an axis.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{all_gather needs an axis, e.g. axis = 0}}
  plan.collective all_gather %x group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: an axis on an all_reduce.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{only all_gather takes an axis, not all_reduce}}
  plan.collective all_reduce %x reduction = sum axis = 1 group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: send without a peer.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{send needs a peer, e.g. peer = 1}}
  plan.collective send %x group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: a peer on an all_reduce.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{only send and recv take a peer, not all_reduce}}
  plan.collective all_reduce %x reduction = sum peer = 1 group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: recv into a separate output.
func.func @f(%x: memref<16x64xbf16>, %y: memref<16x64xbf16>) {
  // expected-error @+1 {{recv takes one buffer, not an output}}
  plan.collective recv %x into %y peer = 1 group = [0, 1] : memref<16x64xbf16>, memref<16x64xbf16>
  return
}

// -----
// plan.collective: an all_reduce output of another type.
func.func @f(%x: memref<16x64xbf16>, %y: memref<16x64xf32>) {
  // expected-error @+1 {{all_reduce output type 'memref<16x64xf32>' differs from the buffer's 'memref<16x64xbf16>'}}
  plan.collective all_reduce %x into %y reduction = sum group = [0, 1] : memref<16x64xbf16>, memref<16x64xf32>
  return
}

// -----
// plan.collective: an all_gather axis past the buffer's rank.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{axis 2 is out of range for a buffer of shape [16, 64]}}
  plan.collective all_gather %x axis = 2 group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: an in-place all_gather whose axis does not split evenly.
func.func @f(%x: memref<16x66xbf16>) {
  // expected-error @+1 {{in-place all_gather over 4 ranks needs dimension 1 of [16, 66] to be a multiple of 4}}
  plan.collective all_gather %x axis = 1 group = [0, 1, 2, 3] : memref<16x66xbf16>
  return
}

// -----
// plan.collective: an all_gather output that is not group-size times the part.
func.func @f(%x: memref<16x64xbf16>, %y: memref<16x64xbf16>) {
  // expected-error @+1 {{expected all_gather output of shape [16, 128] (2 parts along axis 1) but got [16, 64]}}
  plan.collective all_gather %x into %y axis = 1 group = [0, 1] : memref<16x64xbf16>, memref<16x64xbf16>
  return
}

// -----
// plan.collective: an all_gather output of another element type.
func.func @f(%x: memref<16x64xbf16>, %y: memref<32x64xf32>) {
  // expected-error @+1 {{all_gather output element type 'f32' differs from the buffer's 'bf16'}}
  plan.collective all_gather %x into %y axis = 0 group = [0, 1] : memref<16x64xbf16>, memref<32x64xf32>
  return
}

// -----
// plan.collective: a send within a group of one rank.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{send needs a group of at least two ranks, got [0]}}
  plan.collective send %x peer = 0 group = [0] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: a peer outside the group.
func.func @f(%x: memref<16x64xbf16>) {
  // expected-error @+1 {{peer 2 is not in group [0, 1]}}
  plan.collective recv %x peer = 2 group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// plan.collective: a rank running a collective of a group it is not in.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 2 {
  %x = plan.slice @act[0] : memref<16x64xbf16>
  // expected-error @+1 {{rank 2 is not in group [0, 1] of this all_reduce}}
  plan.collective all_reduce %x reduction = sum group = [0, 1] : memref<16x64xbf16>
}

// -----
// plan.collective: a rank sending to itself.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 1 {
  %x = plan.slice @act[0] : memref<16x64xbf16>
  // expected-error @+1 {{rank 1 cannot send to itself}}
  plan.collective send %x peer = 1 group = [0, 1] : memref<16x64xbf16>
}

// -----
// plan.host: a host step without a name.
func.func @f(%x: memref<16xi32>) {
  // expected-error @+1 {{host step needs a non-empty name, e.g. "sample"}}
  plan.host ""(%x : memref<16xi32>)
  return
}

// -----
// plan.slice: a view must lie within its base's bytes.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  %x = plan.slice @act[256] : memref<64xf32>
  // expected-error @+1 {{view of bytes [384, 640) lies outside its base's bytes [256, 512)}}
  %v = plan.slice @act[384] view(%x : memref<64xf32>) : memref<64xf32>
}

// -----
// plan.slice: a view stays in its base's arena.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.arena @io kind = host size = 4096 alignment = 64
plan.rank 0 {
  %x = plan.slice @act[0] : memref<64xf32>
  // expected-error @+1 {{view of a slice of @act must be in the same arena, not @io}}
  %v = plan.slice @io[0] view(%x : memref<64xf32>) : memref<64xf32>
}

// -----
// plan.slice: a view's base is a slice.
plan.arena @act kind = activations size = 4096 alignment = 256
func.func @f(%m: memref<64xf32>) {
  // expected-error @+1 {{a view's base must be a plan.slice}}
  %v = plan.slice @act[0] view(%m : memref<64xf32>) : memref<16x4xf32>
  return
}

// -----
// plan.compute: the step name is an identifier.
func.func @f(%x: memref<16xf32>) {
  // expected-error @+1 {{step name must be an identifier such as "rms_norm", got 'rms-norm'}}
  plan.compute "rms-norm"(%x : memref<16xf32> -> %x : memref<16xf32>)
  return
}

// -----
// plan.compute: a step writes at least one buffer (the custom syntax cannot
// even say otherwise).
func.func @f(%x: memref<16xf32>) {
  // expected-error @+1 {{step 'silu' writes no buffer; a destination-passing step names at least one output}}
  "plan.compute"(%x) <{name = "silu", operandSegmentSizes = array<i32: 1, 0>}> : (memref<16xf32>) -> ()
  return
}

// -----
// plan.compute: parameters must survive serialization.
func.func @f(%x: memref<16xf32>) {
  // expected-error @+1 {{parameter 'dims' must be an integer, float or string, got [1, 2]}}
  plan.compute "silu"(%x : memref<16xf32> -> %x : memref<16xf32>) {dims = [1, 2]}
  return
}

// -----
// plan.gemm: weight-only B needs its scales.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xi4>, %c: memref<16x32xbf16>) {
  // expected-error @+1 {{weight-only B ('i4') needs scale_b of shape [N, K / group] = [32, K / group]}}
  plan.gemm cpu %a, %b into %c transpose_b : memref<16x64xbf16>, memref<32x64xi4>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: weight-only B is stored [N, K].
func.func @f(%a: memref<16x64xbf16>, %b: memref<64x32xi8>, %c: memref<16x32xbf16>, %s: memref<32x1xf32>) {
  // expected-error @+1 {{weight-only B ('i8') is stored [N, K]: set transpose_b}}
  plan.gemm cpu %a, %b into %c scale_b(%s : memref<32x1xf32>) : memref<16x64xbf16>, memref<64x32xi8>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: weight-only groups must divide K.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xi8>, %c: memref<16x32xbf16>, %s: memref<32x3xf32>) {
  // expected-error @+1 {{weight-only scale_b must be [N, K / group] with N = 32 and a group count dividing K = 64, got [32, 3]}}
  plan.gemm cpu %a, %b into %c transpose_b scale_b(%s : memref<32x3xf32>) : memref<16x64xbf16>, memref<32x64xi8>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: zero points have the scales' shape and are i8.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xi4>, %c: memref<16x32xbf16>, %s: memref<32x2xf32>, %z: memref<32x1xi8>) {
  // expected-error @+1 {{zero_b must be i8 of scale_b's shape [32, 2], got 'i8' [32, 1]}}
  plan.gemm cpu %a, %b into %c transpose_b scale_b(%s : memref<32x2xf32>) zero_b(%z : memref<32x1xi8>) : memref<16x64xbf16>, memref<32x64xi4>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: weight-only GEMMs scale B only.
func.func @f(%a: memref<16x64xbf16>, %b: memref<32x64xi8>, %c: memref<16x32xbf16>, %s: memref<32x1xf32>, %sa: memref<16x1xf32>) {
  // expected-error @+1 {{weight-only GEMMs scale B only; A is 'bf16' and takes no scale_a}}
  plan.gemm cpu %a, %b into %c transpose_b scale_a(%sa : memref<16x1xf32>) scale_b(%s : memref<32x1xf32>) : memref<16x64xbf16>, memref<32x64xi8>, memref<16x32xbf16>
  return
}

// -----
// plan.gemm: zero points belong to weight-only GEMMs.
func.func @f(%a: memref<16x64xi8>, %b: memref<32x64xi8>, %c: memref<16x32xf32>, %s: memref<32x1xf32>, %z: memref<32x1xi8>) {
  // expected-error @+1 {{zero_b belongs to weight-only GEMMs (float A, i8 or i4 B); 'i8' x 'i8' takes none}}
  plan.gemm cpu %a, %b into %c transpose_b scale_b(%s : memref<32x1xf32>) zero_b(%z : memref<32x1xi8>) : memref<16x64xi8>, memref<32x64xi8>, memref<16x32xf32>
  return
}

// -----
// plan.launches: the kernel must be a plan.kernel.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  %x = plan.slice @act[0] : memref<16xf32>
  // expected-error @+1 {{launch 0: '@nowhere' does not name a plan.kernel}}
  plan.compute "silu"(%x : memref<16xf32> -> %x : memref<16xf32>) {plan.launches = [#plan.launch<kernel = @nowhere, grid = [1, 1, 1], block = [32, 1, 1], args = [0]>]}
}

// -----
// plan.launches: arguments are operand indices of the step.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.kernel @k entry = "k"
plan.rank 0 {
  %x = plan.slice @act[0] : memref<16xf32>
  // expected-error @+1 {{launch 0: argument 2 is not an operand index of the step (2 operands)}}
  plan.compute "silu"(%x : memref<16xf32> -> %x : memref<16xf32>) {plan.launches = [#plan.launch<kernel = @k, grid = [1, 1, 1], block = [32, 1, 1], args = [0, 2]>]}
}

// -----
// plan.launches: a kernel that takes the layer needs the step's layer.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.kernel @k entry = "k"
plan.rank 0 {
  %x = plan.slice @act[0] : memref<16xf32>
  // expected-error @+1 {{launch 0: passes the step's layer, but the step has no integer 'layer' attribute}}
  plan.compute "silu"(%x : memref<16xf32> -> %x : memref<16xf32>) {plan.launches = [#plan.launch<kernel = @k, grid = [1, 1, 1], block = [32, 1, 1], args = [0], extra_args = ["layer"]>]}
}

// -----
// plan.launches: only compute and GEMM steps carry launches.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.kernel @k entry = "k"
plan.rank 0 {
  %x = plan.slice @act[0] : memref<16xi32>
  // expected-error @+1 {{only plan.compute and plan.gemm steps carry plan.launches}}
  plan.host "copy_tokens_in"(%x : memref<16xi32>) {plan.launches = [#plan.launch<kernel = @k, grid = [1, 1, 1], block = [32, 1, 1], args = [0]>]}
}

// -----
// plan.launches: a list of #plan.launch.
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  %x = plan.slice @act[0] : memref<16xf32>
  // expected-error @+1 {{plan.launches must be a non-empty list of #plan.launch}}
  plan.compute "silu"(%x : memref<16xf32> -> %x : memref<16xf32>) {plan.launches = [1]}
}

// -----
// #plan.launch: a block of more than 1024 threads.
plan.kernel @k entry = "k"
// expected-error @+1 {{block [64, 32, 1] has 2048 threads; a block has at most 1024}}
plan.arena @act kind = activations size = 4096 alignment = 256 {note = #plan.launch<kernel = @k, grid = [1, 1, 1], block = [64, 32, 1], args = [0]>}

// -----
// #plan.launch: the grid scale is three (n, d) pairs with d > 0.
// expected-error @+1 {{grid_token_scale pair 1 needs n >= 0 and, when n > 0, d > 0, got [1, 1, 1, 0, 0, 1]}}
plan.arena @act kind = activations size = 4096 alignment = 256 {note = #plan.launch<kernel = @k, grid = [1, 1, 1], block = [32, 1, 1], args = [0], grid_token_scale = [1, 1, 1, 0, 0, 1]>}

// -----
// #plan.launch: an empty token range.
// expected-error @+1 {{token range [8, 4] is empty or negative (max_tokens 0: unbounded)}}
plan.arena @act kind = activations size = 4096 alignment = 256 {note = #plan.launch<kernel = @k, grid = [1, 1, 1], block = [32, 1, 1], args = [0], min_tokens = 8, max_tokens = 4>}

// -----
// #plan.launch: unknown runtime arguments.
// expected-error @+1 {{extra_args entries are "batch", "layer" or "scratch", got "stream"}}
plan.arena @act kind = activations size = 4096 alignment = 256 {note = #plan.launch<kernel = @k, grid = [1, 1, 1], block = [32, 1, 1], args = [0], extra_args = ["stream"]>}
