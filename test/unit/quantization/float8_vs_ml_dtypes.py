#!/usr/bin/env python3
"""Compares llmc's FP8 conversions (runtime/support/Float8.h, through the
llmc_float8_exports shared library) with ml_dtypes, bit for bit.

  float8_vs_ml_dtypes.py LIB            # CI: a dense sample (~4.2 M patterns)
  float8_vs_ml_dtypes.py LIB --full     # every one of the 2^32 f32 patterns

For each of E4M3FN and E5M2, non-saturating and saturating (the saturating
reference is ml_dtypes' conversion of the value clipped to +-max, NaN kept),
and fp8 -> f32 for all 256 codes. NaN results compare as "both NaN with the
same sign" for f32 -> fp8 (the NaN payload of an fp8 code is not part of the
contract), exactly for fp8 -> f32 (same bits, NaN sign included). The full
sweep goes 2^24 patterns at a time (~200 MB peak).
"""
import argparse
import ctypes
import sys
import time

import ml_dtypes
import numpy as np

FORMATS = [("E4M3FN", 0, ml_dtypes.float8_e4m3fn, 448.0),
           ("E5M2", 1, ml_dtypes.float8_e5m2, 57344.0)]


def load(path):
    lib = ctypes.CDLL(path)
    lib.llmc_floats_to_fp8.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_size_t, ctypes.c_int,
                                       ctypes.c_int]
    lib.llmc_fp8_to_floats.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_size_t, ctypes.c_int]
    return lib


def ours_to_fp8(lib, values, fmt, saturate):
    out = np.empty(values.size, dtype=np.uint8)
    lib.llmc_floats_to_fp8(values.ctypes.data, out.ctypes.data, values.size,
                           fmt, int(saturate))
    return out


def reference_to_fp8(values, dtype, fp8_max, saturate):
    with np.errstate(all="ignore"):
        if saturate:
            values = np.where(np.isnan(values), values,
                              np.clip(values, -fp8_max, fp8_max))
        return values.astype(dtype).view(np.uint8)


def is_nan_code(codes, fmt):
    magnitude = codes & 0x7F
    if fmt == 0:
        return magnitude == 0x7F
    return magnitude > 0x7C


def compare_to_fp8(lib, values, failures):
    """Returns the number of patterns checked (per variant)."""
    for name, fmt, dtype, fp8_max in FORMATS:
        for saturate in (False, True):
            ours = ours_to_fp8(lib, values, fmt, saturate)
            ref = reference_to_fp8(values, dtype, fp8_max, saturate)
            both_nan = is_nan_code(ours, fmt) & is_nan_code(ref, fmt)
            same = (ours == ref) | (both_nan & ((ours & 0x80) == (ref & 0x80)))
            bad = np.flatnonzero(~same)
            if bad.size:
                failures.append(
                    f"{name} saturate={saturate}: {bad.size} mismatches, e.g. "
                    + ", ".join(f"0x{values.view(np.uint32)[i]:08x} -> ours "
                                f"0x{ours[i]:02x}, ml_dtypes 0x{ref[i]:02x}"
                                for i in bad[:5]))


def compare_from_fp8(lib, failures):
    codes = np.arange(256, dtype=np.uint8)
    for name, fmt, dtype, _ in FORMATS:
        ours = np.empty(256, dtype=np.float32)
        lib.llmc_fp8_to_floats(codes.ctypes.data, ours.ctypes.data, 256, fmt)
        ref = codes.view(dtype).astype(np.float32)
        ours_bits, ref_bits = ours.view(np.uint32), ref.view(np.uint32)
        # NaN: same sign, both NaN (ml_dtypes' NaN payload is its own).
        nan = np.isnan(ours) & np.isnan(ref) & (
            (ours_bits >> 31) == (ref_bits >> 31))
        bad = np.flatnonzero((ours_bits != ref_bits) & ~nan)
        if bad.size:
            failures.append(f"{name} -> f32: codes " + ", ".join(
                f"0x{c:02x} ours {ours[c]!r} ml_dtypes {ref[c]!r}"
                for c in bad[:5]))


def special_patterns():
    """Every boundary that matters: zeros, infinities, NaNs, and the f32
    neighbourhood (+-16 ulps) of every fp8 value and of every midpoint
    between consecutive fp8 magnitudes, in both formats, both signs."""
    points = [0.0, np.inf, np.nan, 1e-45, 1.17549435e-38, 3.4028235e38]
    for _, _, dtype, _ in FORMATS:
        values = np.arange(256, dtype=np.uint8).view(dtype).astype(np.float64)
        values = np.unique(np.abs(values[np.isfinite(values)]))
        points += list(values)
        points += list((values[:-1] + values[1:]) / 2)
        step = values[-1] - values[-2]
        points += [values[-1] + step / 2, values[-1] + step]  # overflow edge
    centres = np.array(points, dtype=np.float32).view(np.uint32)
    offsets = np.arange(-16, 17, dtype=np.int64)
    bits = (centres[:, None].astype(np.int64) + offsets[None, :]).ravel()
    bits = bits[(bits >= 0) & (bits <= 0x7FFFFFFF)].astype(np.uint32)
    bits = np.concatenate([bits, bits | np.uint32(0x80000000),
                           np.array([0x7F800001, 0x7FC00000, 0x7FFFFFFF,
                                     0xFFC00000, 0xFF800000, 0x80000000],
                                    dtype=np.uint32)])
    return np.unique(bits)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("lib")
    parser.add_argument("--full", action="store_true",
                        help="all 2^32 f32 bit patterns (minutes)")
    parser.add_argument("--chunk-bits", type=int, default=24)
    args = parser.parse_args()
    lib = load(args.lib)
    failures = []
    start = time.time()
    compare_from_fp8(lib, failures)
    checked = 0
    if args.full:
        chunk = 1 << args.chunk_bits
        for begin in range(0, 1 << 32, chunk):
            bits = np.arange(begin, begin + chunk, dtype=np.uint64).astype(
                np.uint32)
            compare_to_fp8(lib, bits.view(np.float32), failures)
            checked += bits.size
            if failures:
                break
    else:
        # Every 4099th pattern (4099 is prime, so the low bits cycle through
        # every residue), the boundaries, and 2^21 random patterns.
        strided = np.arange(0, 1 << 32, 4099, dtype=np.uint64).astype(
            np.uint32)
        rng = np.random.default_rng(20261125)
        random = rng.integers(0, 1 << 32, size=1 << 21, dtype=np.uint64)
        bits = np.concatenate([strided, special_patterns(),
                               random.astype(np.uint32)])
        compare_to_fp8(lib, bits.view(np.float32), failures)
        checked = bits.size
    elapsed = time.time() - start
    for failure in failures:
        print("FAIL", failure)
    print(f"{checked} f32 patterns x 4 conversions and 2 x 256 fp8 codes "
          f"checked against ml_dtypes {ml_dtypes.__version__} in "
          f"{elapsed:.1f} s: {'FAILED' if failures else 'all equal'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
