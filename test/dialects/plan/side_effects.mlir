// RUN: llmc-opt %s --split-input-file --cse --canonicalize | FileCheck %s

// Steps write memory, so CSE and DCE keep every one of them, duplicates
// included, while identical slices (pure views) merge and unused ones go.
// CHECK-LABEL: plan.rank 0 {
// CHECK: %[[A:.+]] = plan.slice @act[0] : memref<16x64xbf16>
// CHECK-NEXT: %[[B:.+]] = plan.slice @act[2048] : memref<32x64xbf16>
// CHECK-NEXT: %[[C:.+]] = plan.slice @act[8192] : memref<16x32xbf16>
// CHECK-NEXT: plan.gemm cublaslt %[[A]], %[[B]] into %[[C]] transpose_b
// CHECK-NEXT: plan.gemm cublaslt %[[A]], %[[B]] into %[[C]] transpose_b
// CHECK-NEXT: plan.launch @k grid = [1, 1, 1] block = [32, 1, 1] args(%[[C]] : memref<16x32xbf16>)
// CHECK-NEXT: plan.launch @k grid = [1, 1, 1] block = [32, 1, 1]{{$}}
// CHECK-NEXT: plan.host "sample"(%[[C]] : memref<16x32xbf16>)
// CHECK-NEXT: plan.host "sample"(%[[C]] : memref<16x32xbf16>)
// CHECK-NEXT: plan.collective all_reduce %[[C]] reduction = sum group = [0, 1]
// CHECK-NEXT: plan.collective all_reduce %[[C]] reduction = sum group = [0, 1]
// CHECK-NEXT: }
plan.arena @act kind = activations size = 65536 alignment = 256
plan.kernel @k entry = "k"
plan.rank 0 {
  %a = plan.slice @act[0] : memref<16x64xbf16>
  %b = plan.slice @act[2048] : memref<32x64xbf16>
  %c = plan.slice @act[8192] : memref<16x32xbf16>
  %c_again = plan.slice @act[8192] : memref<16x32xbf16>
  %unused = plan.slice @act[16384] : memref<16x32xbf16>
  plan.gemm cublaslt %a, %b into %c transpose_b : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x32xbf16>
  plan.gemm cublaslt %a, %b into %c_again transpose_b : memref<16x64xbf16>, memref<32x64xbf16>, memref<16x32xbf16>
  plan.launch @k grid = [1, 1, 1] block = [32, 1, 1] args(%c : memref<16x32xbf16>)
  plan.launch @k grid = [1, 1, 1] block = [32, 1, 1]
  plan.host "sample"(%c : memref<16x32xbf16>)
  plan.host "sample"(%c_again : memref<16x32xbf16>)
  plan.collective all_reduce %c reduction = sum group = [0, 1] : memref<16x32xbf16>
  plan.collective all_reduce %c_again reduction = sum group = [0, 1] : memref<16x32xbf16>
}
