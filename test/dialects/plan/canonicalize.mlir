// RUN: llmc-opt %s --split-input-file --canonicalize | FileCheck %s

// An in-place all_reduce over one rank leaves the buffer as it is.
// CHECK-LABEL: func.func @all_reduce_one_rank
// CHECK-NOT: plan.collective
// CHECK: return
func.func @all_reduce_one_rank(%x: memref<16x64xbf16>) {
  plan.collective all_reduce %x reduction = sum group = [3] : memref<16x64xbf16>
  return
}

// -----
// An in-place all_gather over one rank: the buffer already holds the only part.
// CHECK-LABEL: func.func @all_gather_one_rank
// CHECK-NOT: plan.collective
// CHECK: return
func.func @all_gather_one_rank(%x: memref<16x64xbf16>) {
  plan.collective all_gather %x axis = 1 group = [0] : memref<16x64xbf16>
  return
}

// -----
// Inside a rank, the slice the erased collective used goes too.
// CHECK-LABEL: plan.rank 0 {
// CHECK-NEXT: }
plan.arena @act kind = activations size = 4096 alignment = 256
plan.rank 0 {
  %x = plan.slice @act[0] : memref<16x64xbf16>
  plan.collective all_reduce %x reduction = max group = [0] : memref<16x64xbf16>
}

// -----
// Out of place, a one-rank all_reduce is still a copy: it stays.
// CHECK-LABEL: func.func @all_reduce_one_rank_out_of_place
// CHECK-SAME: (%[[X:.+]]: memref<16x64xbf16>, %[[Y:.+]]: memref<16x64xbf16>)
// CHECK: plan.collective all_reduce %[[X]] into %[[Y]] reduction = sum group = [0] : memref<16x64xbf16>, memref<16x64xbf16>
func.func @all_reduce_one_rank_out_of_place(%x: memref<16x64xbf16>, %y: memref<16x64xbf16>) {
  plan.collective all_reduce %x into %y reduction = sum group = [0] : memref<16x64xbf16>, memref<16x64xbf16>
  return
}

// -----
// Out of place, a one-rank all_gather is still a copy: it stays.
// CHECK-LABEL: func.func @all_gather_one_rank_out_of_place
// CHECK: plan.collective all_gather %{{.+}} into %{{.+}} axis = 0 group = [1]
func.func @all_gather_one_rank_out_of_place(%x: memref<16x64xbf16>, %y: memref<16x64xbf16>) {
  plan.collective all_gather %x into %y axis = 0 group = [1] : memref<16x64xbf16>, memref<16x64xbf16>
  return
}

// -----
// Collectives over two ranks communicate: they stay.
// CHECK-LABEL: func.func @two_ranks
// CHECK: plan.collective all_reduce %{{.+}} reduction = sum group = [0, 1]
// CHECK: plan.collective all_gather %{{.+}} axis = 0 group = [0, 1]
// CHECK: plan.collective send %{{.+}} peer = 1 group = [0, 1]
// CHECK: plan.collective recv %{{.+}} peer = 0 group = [0, 1]
func.func @two_ranks(%x: memref<16x64xbf16>) {
  plan.collective all_reduce %x reduction = sum group = [0, 1] : memref<16x64xbf16>
  plan.collective all_gather %x axis = 0 group = [0, 1] : memref<16x64xbf16>
  plan.collective send %x peer = 1 group = [0, 1] : memref<16x64xbf16>
  plan.collective recv %x peer = 0 group = [0, 1] : memref<16x64xbf16>
  return
}

// -----
// all_reduce of a buffer into itself is the in-place form.
// CHECK-LABEL: func.func @all_reduce_into_itself
// CHECK-SAME: (%[[X:.+]]: memref<16x64xbf16>)
// CHECK: plan.collective all_reduce %[[X]] reduction = sum group = [0, 1] : memref<16x64xbf16>{{$}}
func.func @all_reduce_into_itself(%x: memref<16x64xbf16>) {
  plan.collective all_reduce %x into %x reduction = sum group = [0, 1] : memref<16x64xbf16>, memref<16x64xbf16>
  return
}

// -----
// ... and then, over one rank, goes away.
// CHECK-LABEL: func.func @all_reduce_into_itself_one_rank
// CHECK-NOT: plan.collective
// CHECK: return
func.func @all_reduce_into_itself_one_rank(%x: memref<16x64xbf16>) {
  plan.collective all_reduce %x into %x reduction = min group = [0] : memref<16x64xbf16>, memref<16x64xbf16>
  return
}
