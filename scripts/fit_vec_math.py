#!/usr/bin/env python3
"""Fits the polynomial coefficients of kernels/cpu/vec_math.h (vectorised expf and erff).

Run:  /opt/torchenv/bin/python scripts/fit_vec_math.py     (needs numpy and mpmath)
It prints the C constants; paste them into vec_math.h. The fits are near-minimax (Lawson's
iteratively reweighted least squares on Chebyshev nodes, in float64 against mpmath references
at 50 digits), then rounded to float. What counts is the error of the float evaluation, which
tests/cpu/test_vec_math.c measures over the floats (bench: --exhaustive for every float).

Forms (a = |x|):
  exp:  e^r = 1 + r + r^2 q(r), r in [-ln2/2, ln2/2] (+ slack for the rounded reduction),
        q of degree 4; error weighted relative to e^r.
  erf, a < 1:  erf(a) = a + a s(a^2), s of degree 6 in u = a^2; relative to erf(a).
  erf, 1 <= a <= 4:  erf(a) = 1 - exp(L(a)), L(a) ~ log(erfc(a)) of degree 12 in t = a - 1
        (expanded at the left end, where erfc is largest: Horner's rounding errors there scale
        with t, so they are smallest where they matter most);
        absolute error of L = relative error of erfc. Beyond a = 3.92 erf rounds to 1 in float.
"""
import mpmath
import numpy as np

mpmath.mp.dps = 50


def lawson(basis, target, weight, nodes, iters=60):
    """Near-minimax coefficients c minimising max |weight * (basis @ c - target)|."""
    A = basis(nodes) * weight[:, None]
    b = target * weight
    w = np.ones(len(nodes)) / len(nodes)
    for _ in range(iters):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)
        e = np.abs(A @ c - b)
        w = w * e
        w /= w.sum()
    return c, np.max(np.abs(A @ c - b))


def cheb_nodes(lo, hi, n):
    k = np.arange(n)
    return (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / n)


def fit_exp():
    half = float(mpmath.log(2)) / 2 * 1.01
    r = cheb_nodes(-half, half, 4000)
    r = r[np.abs(r) > 1e-6]
    tgt = np.array([float((mpmath.exp(x) - 1 - x) / x**2) for x in r])
    wgt = np.array([x * x / float(mpmath.exp(x)) for x in r])
    c, err = lawson(lambda t: np.vander(t, 5, increasing=True), tgt, wgt, r)
    return c, err


def fit_erf_small():
    a = cheb_nodes(1e-4, 1.0, 4000)
    u = a * a
    erf = np.array([float(mpmath.erf(x)) for x in a])
    tgt = np.array([float(mpmath.erf(x) / x - 1) for x in a])
    wgt = a / erf  # error of a*s relative to erf(a)
    c, err = lawson(lambda t: np.vander(t, 7, increasing=True), tgt, wgt, u)
    return c, err


def fit_erf_large():
    a = cheb_nodes(1.0, 4.0, 4000)
    t = a - 1.0
    tgt = np.array([float(mpmath.log(mpmath.erfc(x))) for x in a])
    c, err = lawson(lambda s: np.vander(s, 13, increasing=True), tgt, np.ones(len(a)), t)
    return c, err


def c_hex(v):
    """The float nearest v as a C hex literal, e.g. 0x1.d97fcp+0f."""
    mant, exp = float(np.float32(v)).hex().split("p")
    mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    return f"{mant}p{exp}f"


def show(name, c, err):
    print(f"// {name}: max weighted error of the float64 fit {err:.3e}")
    for i, v in enumerate(c):
        print(f"#define {name}{i} {c_hex(v)}")


if __name__ == "__main__":
    show("DS_VEXP_C", *fit_exp())
    show("DS_VERF_S", *fit_erf_small())
    show("DS_VERF_L", *fit_erf_large())
