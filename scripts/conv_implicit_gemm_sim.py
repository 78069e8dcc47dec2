#!/usr/bin/env python3
"""Lane-level simulation of the FAST CUDA convolution (kernels/cuda/conv2d_igemm.cuh, launched by
kernels/cuda/conv2d_fast.cu) against a plain numpy convolution, on the CPU.

No GPU has run that kernel yet (docs/cuda_conv.md). This script replays it thread by thread and
lane by lane, with the kernel's own index formulas written out again here, so that every piece of
index arithmetic is checked where no GPU is available:
  - the launch: tile configuration (128x128 / 64x64), grid, wgrad's split of the reduction and
    the split-K reduction kernel, exactly as conv2d_fast.cu chooses them;
  - the loads: each thread's slots (K_FAST / ROW_FAST maps), the per-step k table filled by the
    first BK threads, every gathered global index (checked to lie inside its tensor), zero fill
    for GEMM tails, padding, dilation and dgrad's stride holes, the 32-bit pair loads (checked
    aligned);
  - shared memory: every (row, k) of a step's A and B tiles written exactly once;
  - the tensor-core step: A and B fragments loaded per lane with attention_mma.cuh's load_a /
    load_b formulas, assembled into the mma's 16x16 / 16x8 operands by the PTX ISA's fragment
    layout of mma.m16n8k16 (.bf16), checked equal to the intended tile, multiplied, and the
    product handed back to the lanes by the C layout;
  - the epilogue: each accumulator's output index (y, dx, dw or the split's partial), every
    output element written exactly once, bias and accumulation.
Arithmetic is float64 on random inputs, so the only differences from the reference are rounding
(~1e-15): any indexing slip shows as an O(1) error. Outputs start as NaN, so a missed element
cannot pass.

Shapes: every distinct convolution of DeepLabV3-ResNet50 (stem 7x7/2, the bottlenecks' 1x1 and
3x3 convs with layer2's stride and layer3/4's dilations 2 and 4, the downsamples, ASPP's 1x1,
rates 12/24/36 and pooling branch, project, head and FCN head) and of wav2vec2-base (feature
encoder kernel 10 stride 5 on one channel as conv2d with H = 1, kernels 3/2 stride 2, the grouped
positional conv kernel 128 padding 64 with 48 channels per group), with channel counts and
spatial sizes scaled down so that the whole run takes well under a minute, plus edge cases (odd
sizes, groups, stride and dilation in both axes, tails of every tile dimension, a split-K run
with a limited workspace). Each runs forward, dgrad and wgrad (accumulating into random dw).

usage: conv_implicit_gemm_sim.py [--quick] [--only SUBSTRING] [--verbose]
Exit status 0 when every check passes, 1 otherwise.
"""
import argparse
import sys
import time

import numpy as np

BK = 32
LDS = BK + 8
FWD, DGRAD, WGRAD = 0, 1, 2
K_FAST, ROW_FAST = 0, 1
MODE_NAMES = {FWD: "fwd", DGRAD: "dgrad", WGRAD: "wgrad"}

# conv2d_fast.cu's constants
WAVE_BLOCKS = 132
TARGET_BLOCKS = 264
MAX_SPLITS = 64
MIN_STEPS_PER_SPLIT = 16


def cdiv(a, b):
    return (a + b - 1) // b


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ---------------------------------------------------------------- launch (conv2d_fast.cu)
def big_tiles(M, NG, z):
    return M > 64 and cdiv(M, 128) * cdiv(NG, 128) * z >= WAVE_BLOCKS


def params_of(pb, mode):
    q = dict(pb)
    q["RS"] = pb["R"] * pb["S"]
    q["HW"] = pb["H"] * pb["W"]
    q["PQ"] = pb["P"] * pb["Q"]
    q["CRS"] = pb["Cg"] * pb["R"] * pb["S"]
    if mode == FWD:
        q["M"], q["NG"], q["KG"] = pb["Kg"], pb["N"] * q["PQ"], q["CRS"]
    elif mode == DGRAD:
        q["M"], q["NG"], q["KG"] = pb["Cg"], pb["N"] * q["HW"], pb["Kg"] * q["RS"]
    else:
        q["M"], q["NG"], q["KG"] = pb["Kg"], q["CRS"], pb["N"] * q["PQ"]
    q["splits"], q["ksplit"] = 1, q["KG"]
    return q


def wanted_splits(pb):
    M, NG, KG = pb["Kg"], pb["Cg"] * pb["R"] * pb["S"], pb["N"] * pb["P"] * pb["Q"]
    blocks = cdiv(M, 64) * cdiv(NG, 64) * pb["G"]
    s = cdiv(TARGET_BLOCKS, blocks)
    s = min(s, KG // (BK * MIN_STEPS_PER_SPLIT), MAX_SPLITS, 65535 // pb["G"])
    return max(s, 1)


def wgrad_split(pb, ws_bytes):
    KG = pb["N"] * pb["P"] * pb["Q"]
    s = wanted_splits(pb)
    per_split = pb["G"] * pb["Kg"] * pb["Cg"] * pb["R"] * pb["S"] * 4
    fit = ws_bytes // per_split if per_split else 0
    s = min(s, fit)
    if s < 2:
        return 1, KG
    k = cdiv(cdiv(KG, s), BK) * BK
    return cdiv(KG, k), k


def own_workspace_bytes(pb):
    s = wanted_splits(pb)
    return s * pb["G"] * pb["Kg"] * pb["Cg"] * pb["R"] * pb["S"] * 4 if s > 1 else 0


def conv_out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def problem(N, C, H, W, K, R, S, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1):
    pb = dict(N=N, C=C, H=H, W=W, K=K, R=R, S=S, sh=stride[0], sw=stride[1], ph=pad[0], pw=pad[1], dh=dil[0],
              dw=dil[1], G=groups, Cg=C // groups, Kg=K // groups)
    pb["P"] = conv_out(H, R, stride[0], pad[0], dil[0])
    pb["Q"] = conv_out(W, S, stride[1], pad[1], dil[1])
    assert C % groups == 0 and K % groups == 0 and pb["P"] >= 1 and pb["Q"] >= 1
    return pb


# ---------------------------------------------------------------- PTX fragment layouts
# mma.m16n8k16 with .bf16 A/B (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point
# type"): for lane with groupID g = lane >> 2 and threadID_in_group t = lane % 4,
#   A (16x16): a_i, i in 0..7: row = g + 8 * ((i >> 1) & 1), col = 2t + (i & 1) + 8 * (i >> 2)
#   B (16x8):  b_i, i in 0..3: row = 2t + (i & 1) + 8 * (i >> 1), col = g
#   C (16x8):  c_i, i in 0..3: row = g + 8 * (i >> 1), col = 2t + (i & 1)
# Register r holds elements 2r (low half) and 2r + 1 (high half).
LANES = np.arange(32)
G_OF, T_OF = LANES >> 2, LANES & 3
A_ROW = np.stack([G_OF + 8 * ((i >> 1) & 1) for i in range(8)], 1)  # (32, 8)
A_COL = np.stack([2 * T_OF + (i & 1) + 8 * (i >> 2) for i in range(8)], 1)
B_ROW = np.stack([2 * T_OF + (i & 1) + 8 * (i >> 1) for i in range(4)], 1)  # (32, 4)
B_COL = np.stack([G_OF for _ in range(4)], 1)
C_ROW = np.stack([G_OF + 8 * (i >> 1) for i in range(4)], 1)  # (32, 4)
C_COL = np.stack([2 * T_OF + (i & 1) for i in range(4)], 1)


def ptx_layouts_cover_once():
    for rows, cols, shape in ((A_ROW, A_COL, (16, 16)), (B_ROW, B_COL, (16, 8)), (C_ROW, C_COL, (16, 8))):
        cnt = np.zeros(shape, int)
        np.add.at(cnt, (rows.ravel(), cols.ravel()), 1)
        check((cnt == 1).all(), "a PTX fragment layout does not cover its tile once")


# attention_mma.cuh's loaders, as offsets (in bf16 elements) into a row-major shared tile of row
# stride ld: load_a(a, sm, ld, row0, k0, lane) -> 4 registers, load_b(b, sm, ld, n0, k0, lane) -> 2.
def load_a_offsets(ld, row0, k0):
    p = (row0 + G_OF) * ld + k0 + 2 * T_OF  # (32,)
    return np.stack([p, p + 8 * ld, p + 8, p + 8 * ld + 8], 1)  # (32, 4) register -> element offset of its low half


def load_b_offsets(ld, n0, k0):
    p = (n0 + G_OF) * ld + k0 + 2 * T_OF
    return np.stack([p, p + 8], 1)  # (32, 2)


def regs_to_elems(offs):
    """(32, R) register offsets -> (32, 2R) element offsets (low half first)."""
    return np.stack([offs, offs + 1], 2).reshape(offs.shape[0], -1)


# ---------------------------------------------------------------- the kernel, one block at a time
class Stats:
    def __init__(self):
        self.blocks = self.steps = self.mmas = self.loads = self.pair_loads = 0


def k_entry(q, mode, k):
    """k_entry<MODE> over an array of k: (o1, o2, rr, ss), o1 = -1 past KG."""
    k = np.asarray(k, dtype=np.int64)
    valid = k < q["KG"]
    a = k // q["RS"]
    rs = k - a * q["RS"]
    r = rs // q["S"]
    s = rs - r * q["S"]
    if mode == FWD:
        o1, o2 = a * q["HW"], np.zeros_like(a)
    else:
        o1, o2 = a * q["Cg"] * q["RS"] + rs, a * q["PQ"]
    rr, ss = r * q["dh"], s * q["dw"]
    o1 = np.where(valid, o1, -1)
    o2 = np.where(valid, o2, -1)
    rr = np.where(valid, rr, 0)
    ss = np.where(valid, ss, 0)
    return o1, o2, rr, ss


def slots(MAP, ROWS, THREADS, P_):
    tid = np.arange(THREADS)[:, None]
    i = np.arange(P_)[None, :]
    if MAP == K_FAST:
        return (tid // 16 + i * (THREADS // 16)), np.broadcast_to(tid % 16, (THREADS, P_))
    return np.broadcast_to(tid % ROWS, (THREADS, P_)), tid // ROWS + i * (THREADS // ROWS)


def gather(arr, idx, ok, what, stats):
    """arr[idx] where ok, else 0; every used index must lie inside arr."""
    if ok.any():
        used = idx[ok]
        check(used.min() >= 0 and used.max() < arr.size, f"{what}: global index outside the tensor "
              f"({used.min()}..{used.max()} of {arr.size})")
    stats.loads += int(ok.sum())
    return np.where(ok, arr[np.where(ok, idx, 0)], 0.0)


def run_block(q, mode, cfg, MAPA, bx, by, bz, T, out, stats):
    BM, BN, WM, WN = cfg
    THREADS = 32 * WM * WN
    WTM, WTN = BM // WM, BN // WN
    MT, NT = WTM // 16, WTN // 8
    PA, PB = BM * (BK // 2) // THREADS, BN * (BK // 2) // THREADS
    MAPB = K_FAST if mode == WGRAD else ROW_FAST
    assert PA * THREADS == BM * (BK // 2) and PB * THREADS == BN * (BK // 2)
    assert THREADS % BM == 0 and THREADS % BN == 0
    m0, n0 = by * BM, bx * BN
    g = bz // q["splits"] if mode == WGRAD else bz
    split = bz % q["splits"] if mode == WGRAD else 0
    kbeg = split * q["ksplit"]
    kend = min(kbeg + q["ksplit"], q["KG"])
    steps = cdiv(kend - kbeg, BK)
    x, w, dy = T["x"], T["w"], T["dy"]
    C, H, W_, K, P, Q = q["C"], q["H"], q["W"], q["K"], q["P"], q["Q"]
    HW, PQ, RS, CRS, Cg, Kg = q["HW"], q["PQ"], q["RS"], q["CRS"], q["Cg"], q["Kg"]

    a_row, a_kp = slots(MAPA, BM, THREADS, PA)
    b_row, b_kp = slots(MAPB, BN, THREADS, PB)
    m = m0 + a_row
    a_ok = m < q["M"]
    if mode == FWD:
        a_base = (g * Kg + m) * CRS
    elif mode == DGRAD:
        a_base = g * Kg * Cg * RS + m * RS
    else:
        a_base = (g * Kg + m) * PQ
    # ROW_FAST B: one pixel per thread (b_row[:, 0])
    n_pix = n0 + b_row[:, 0]
    pix_ok = n_pix < q["NG"]
    if mode == FWD:
        img, pq = n_pix // PQ, n_pix % PQ
        pp, qq = pq // Q, pq % Q
        pix_base = (img * C + g * Cg) * HW
        pix_h, pix_w = pp * q["sh"] - q["ph"], qq * q["sw"] - q["pw"]
    elif mode == DGRAD:
        img, hw = n_pix // HW, n_pix % HW
        hh, ww = hw // W_, hw % W_
        pix_base = (img * K + g * Kg) * PQ
        pix_h, pix_w = hh + q["ph"], ww + q["pw"]
    else:
        n = n0 + b_row
        crs_ok = n < q["NG"]
        c = n // RS
        rs = n - c * RS
        r = rs // q["S"]
        s = rs - r * q["S"]
        crs_off = (g * Cg + c) * HW
        crs_rr, crs_ss = r * q["dh"], s * q["dw"]

    acc = np.zeros((WM * WN, MT, NT, 32, 4))
    for kt in range(steps):
        k0 = kbeg + kt * BK
        # the k table, filled by threads 0..BK-1
        if mode != WGRAD:
            tab = k_entry(q, mode, k0 + np.arange(BK))
        As = np.full((BM, LDS), np.nan)
        Bs = np.full((BN, LDS), np.nan)
        wa = np.zeros((BM, LDS), int)
        wb = np.zeros((BN, LDS), int)
        # ---- loads: (THREADS, slots, 2) values ----
        if mode == FWD:
            k = k0 + 2 * a_kp
            e = np.stack([k, k + 1], 2)
            ok = a_ok[:, :, None] & (e < q["KG"])
            va = gather(w, a_base[:, :, None] + e, ok, "fwd A (w)", stats)
            if q["pair_a"]:
                pair = a_ok & (k + 1 < q["KG"])
                check(((a_base + k)[pair] % 2 == 0).all(), "fwd A: a pair load is not 4-byte aligned")
                stats.pair_loads += int(pair.sum())
            kl = 2 * b_kp
            el = np.stack([kl, kl + 1], 2)
            o1, rr, ss = tab[0][el], tab[2][el], tab[3][el]
            h = pix_h[:, None, None] + rr
            wcol = pix_w[:, None, None] + ss
            ok = pix_ok[:, None, None] & (o1 >= 0) & (h >= 0) & (h < H) & (wcol >= 0) & (wcol < W_)
            vb = gather(x, pix_base[:, None, None] + o1 + h * W_ + wcol, ok, "fwd B (x)", stats)
        elif mode == DGRAD:
            kl = 2 * a_kp
            el = np.stack([kl, kl + 1], 2)
            o1 = tab[0][el]
            ok = a_ok[:, :, None] & (o1 >= 0)
            va = gather(w, a_base[:, :, None] + o1, ok, "dgrad A (w)", stats)
            kl = 2 * b_kp
            el = np.stack([kl, kl + 1], 2)
            o1, o2, rr, ss = tab[0][el], tab[1][el], tab[2][el], tab[3][el]
            th = pix_h[:, None, None] - rr
            tw = pix_w[:, None, None] - ss
            ok = pix_ok[:, None, None] & (o1 >= 0) & (th >= 0) & (tw >= 0)
            if q["sh"] > 1:
                ok &= th % q["sh"] == 0
            if q["sw"] > 1:
                ok &= tw % q["sw"] == 0
            pp = th // q["sh"] if q["sh"] > 1 else th
            qq = tw // q["sw"] if q["sw"] > 1 else tw
            ok &= (pp < P) & (qq < Q)
            vb = gather(dy, pix_base[:, None, None] + o2 + pp * Q + qq, ok, "dgrad B (dy)", stats)
        else:
            j = k0 + 2 * a_kp[:, 0]  # (THREADS,), every slot shares the kp
            jj = np.stack([j, j + 1], 1)  # (THREADS, 2)
            okj = jj < kend
            img, pq = jj // PQ, jj % PQ
            pp, qq = pq // Q, pq % Q
            hb, wb_ = pp * q["sh"] - q["ph"], qq * q["sw"] - q["pw"]
            ok = a_ok[:, :, None] & okj[:, None, :]
            va = gather(dy, img[:, None, :] * K * PQ + a_base[:, :, None] + pq[:, None, :], ok, "wgrad A (dy)", stats)
            if q["pair_a"]:
                pair = a_ok & okj[:, None, 0] & okj[:, None, 1]
                addr = img[:, None, 0] * K * PQ + a_base + pq[:, None, 0]
                check((addr[pair] % 2 == 0).all(), "wgrad A: a pair load is not 4-byte aligned")
                check((img[:, 0] == img[:, 1])[(okj[:, 0] & okj[:, 1])].all(), "wgrad A: a pair spans two images")
                stats.pair_loads += int(pair.sum())
            h = hb[:, None, :] + crs_rr[:, :, None]
            wcol = wb_[:, None, :] + crs_ss[:, :, None]
            ok = crs_ok[:, :, None] & okj[:, None, :] & (h >= 0) & (h < H) & (wcol >= 0) & (wcol < W_)
            vb = gather(x, img[:, None, :] * C * HW + crs_off[:, :, None] + h * W_ + wcol, ok, "wgrad B (x)", stats)
        # ---- shared stores: one 32-bit word per slot at [row][2 kp] ----
        for arr, cnt, rows, kps, vals in ((As, wa, a_row, a_kp, va), (Bs, wb, b_row, b_kp, vb)):
            rr_, cc_ = rows.ravel(), 2 * kps.ravel()
            arr[rr_, cc_] = vals[:, :, 0].ravel()
            arr[rr_, cc_ + 1] = vals[:, :, 1].ravel()
            np.add.at(cnt, (rr_, cc_), 1)
            np.add.at(cnt, (rr_, cc_ + 1), 1)
        check((wa[:, :BK] == 1).all() and (wb[:, :BK] == 1).all(), "a shared tile element is not written exactly once")
        # ---- mma: per warp, 2 k16 steps ----
        Af, Bf = As.ravel(), Bs.ravel()
        for warp in range(WM * WN):
            wm, wn = warp // WN, warp % WN
            for kk in range(0, BK, 16):
                At = np.empty((MT, 16, 16))
                Bt = np.empty((NT, 16, 8))
                for mt in range(MT):
                    e = regs_to_elems(load_a_offsets(LDS, wm * WTM + mt * 16, kk))  # (32, 8)
                    tile = np.full((16, 16), np.nan)
                    tile[A_ROW, A_COL] = Af[e]
                    r0 = wm * WTM + mt * 16
                    want = As[r0:r0 + 16, kk:kk + 16]
                    check(np.array_equal(tile, want, equal_nan=True), "load_a + PTX A layout != the intended tile")
                    At[mt] = tile
                for nt in range(NT):
                    e = regs_to_elems(load_b_offsets(LDS, wn * WTN + nt * 8, kk))  # (32, 4)
                    tile = np.full((16, 8), np.nan)
                    tile[B_ROW, B_COL] = Bf[e]
                    c0 = wn * WTN + nt * 8
                    want = Bs[c0:c0 + 8, kk:kk + 16].T
                    check(np.array_equal(tile, want, equal_nan=True), "load_b + PTX B layout != the intended tile")
                    Bt[nt] = tile
                D = np.einsum("mik,nkj->mnij", At, Bt)  # (MT, NT, 16, 8)
                acc[warp] += D[:, :, C_ROW, C_COL]
                stats.mmas += MT * NT
        stats.steps += 1
    stats.blocks += 1
    # ---- epilogue: the kernel's own formulas for accumulator c of lane (gq, tq) (not the PTX
    # table above, so that a disagreement between the two shows) ----
    gq, tq = (LANES >> 2)[:, None], (LANES & 3)[:, None]
    cc = np.arange(4)[None, :]
    for warp in range(WM * WN):
        wm, wn = warp // WN, warp % WN
        for mt in range(MT):
            for nt in range(NT):
                mm = m0 + wm * WTM + mt * 16 + gq + np.where(cc >= 2, 8, 0)  # (32, 4)
                nn = n0 + wn * WTN + nt * 8 + 2 * tq + (cc & 1)
                ok = (mm < q["M"]) & (nn < q["NG"])
                v = acc[warp, mt, nt][ok]
                mm, nn = mm[ok], nn[ok]
                if mode == FWD:
                    img, pq = nn // PQ, nn % PQ
                    ko = g * Kg + mm
                    b = T["b"][ko] if T["b"] is not None else 0.0
                    idx = (img * K + ko) * PQ + pq
                    out["y"][idx] = v + b
                    np.add.at(out["y_cnt"], idx, 1)
                elif mode == DGRAD:
                    img, hw = nn // HW, nn % HW
                    idx = (img * C + g * Cg + mm) * HW + hw
                    out["dx"][idx] = v
                    np.add.at(out["dx_cnt"], idx, 1)
                elif q["splits"] == 1:
                    idx = (g * Kg + mm) * CRS + nn
                    out["dw"][idx] = out["dw"][idx] + v if T["accumulate"] else v
                    np.add.at(out["dw_cnt"], idx, 1)
                else:
                    idx = ((g * q["splits"] + split) * Kg + mm) * CRS + nn
                    out["partial"][idx] = v
                    np.add.at(out["partial_cnt"], idx, 1)


def launch(pb, mode, T, out, stats, ws_bytes, force_cfg=None):
    """Runs pass `mode` as conv2d_fast.cu launches it (force_cfg: this tile configuration instead of
    the one the shape picks, to exercise both on small shapes)."""
    q = params_of(pb, mode)
    if mode == FWD:
        q["pair_a"] = q["CRS"] % 2 == 0
    elif mode == WGRAD:
        q["pair_a"] = q["PQ"] % 2 == 0
    else:
        q["pair_a"] = False
    MAPA = ROW_FAST if (mode == DGRAD and q["RS"] == 1) else K_FAST
    z = pb["G"]
    if mode == WGRAD:
        q["splits"], q["ksplit"] = wgrad_split(pb, ws_bytes)
        z = pb["G"] * q["splits"]
        if q["splits"] > 1:
            out["partial"] = np.full(z * q["Kg"] * q["CRS"], np.nan)
            out["partial_cnt"] = np.zeros(out["partial"].size, int)
    cfg = (128, 128, 2, 4) if big_tiles(q["M"], q["NG"], z) else (64, 64, 2, 2)
    if force_cfg is not None:
        cfg = force_cfg
    gx, gy = cdiv(q["NG"], cfg[1]), cdiv(q["M"], cfg[0])
    check(gy <= 65535 and z <= 65535, "grid y/z beyond 65535")
    for bz in range(z):
        for by in range(gy):
            for bx in range(gx):
                run_block(q, mode, cfg, MAPA, bx, by, bz, T, out, stats)
    if mode == WGRAD and q["splits"] > 1:  # wgrad_reduce
        per_group = q["Kg"] * q["CRS"]
        check((out["partial_cnt"] == 1).all(), "wgrad: a partial element is not written exactly once")
        part = out["partial"].reshape(pb["G"], q["splits"], per_group)
        s = np.zeros((pb["G"], per_group))
        for k in range(q["splits"]):  # split order
            s = s + part[:, k]
        dw = out["dw"].reshape(pb["G"], per_group)
        out["dw"] = (dw + s if T["accumulate"] else s).ravel()
        out["dw_cnt"][:] = 1
    return q, cfg


# ---------------------------------------------------------------- reference (numpy)
def padded_windows(x, pb):
    """x (N, C, H, W) -> cols (N, C, R, S, P, Q) of the zero-padded input, as the conv reads it."""
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * pb["ph"], W + 2 * pb["pw"]))
    xp[:, :, pb["ph"]:pb["ph"] + H, pb["pw"]:pb["pw"] + W] = x
    cols = np.empty((N, C, pb["R"], pb["S"], pb["P"], pb["Q"]))
    for r in range(pb["R"]):
        for s in range(pb["S"]):
            h0, w0 = r * pb["dh"], s * pb["dw"]
            cols[:, :, r, s] = xp[:, :, h0:h0 + pb["sh"] * (pb["P"] - 1) + 1:pb["sh"],
                                  w0:w0 + pb["sw"] * (pb["Q"] - 1) + 1:pb["sw"]]
    return cols


def reference(pb, x, w, b, dy):
    G, Cg, Kg = pb["G"], pb["Cg"], pb["Kg"]
    N, P, Q = pb["N"], pb["P"], pb["Q"]
    cols = padded_windows(x, pb)  # (N, C, R, S, P, Q)
    y = np.empty((N, pb["K"], P, Q))
    dw = np.empty_like(w)
    dxp = np.zeros((N, pb["C"], pb["H"] + 2 * pb["ph"], pb["W"] + 2 * pb["pw"]))
    for g in range(G):
        cg = cols[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Kg:(g + 1) * Kg]
        dyg = dy[:, g * Kg:(g + 1) * Kg]
        y[:, g * Kg:(g + 1) * Kg] = np.einsum("kcrs,ncrspq->nkpq", wg, cg)
        dw[g * Kg:(g + 1) * Kg] = np.einsum("nkpq,ncrspq->kcrs", dyg, cg)
        dcols = np.einsum("kcrs,nkpq->ncrspq", wg, dyg)
        for r in range(pb["R"]):
            for s in range(pb["S"]):
                h0, w0 = r * pb["dh"], s * pb["dw"]
                dxp[:, g * Cg:(g + 1) * Cg, h0:h0 + pb["sh"] * (P - 1) + 1:pb["sh"],
                    w0:w0 + pb["sw"] * (Q - 1) + 1:pb["sw"]] += dcols[:, :, r, s]
    if b is not None:
        y += b[None, :, None, None]
    dx = dxp[:, :, pb["ph"]:pb["ph"] + pb["H"], pb["pw"]:pb["pw"] + pb["W"]]
    return y, dx, dw


# ---------------------------------------------------------------- shapes
def deeplab_shapes(N, H, W, width, classes):
    """Every distinct conv of DeepLabV3-ResNet50 (torchvision; models/deeplab/resnet.c and
    deeplab_head.c) for an (N, 3, H, W) batch, channels scaled by width / 64."""
    out = []
    seen = set()

    def add(name, C, h, w_, K, k, stride=1, pad=0, dil=1):
        pb = problem(N, C, h, w_, K, k, k, (stride, stride), (pad, pad), (dil, dil))
        key = tuple(sorted(pb.items()))
        if key not in seen:
            seen.add(key)
            out.append((name, pb))
        return pb["P"], pb["Q"]

    h, w_ = add("stem 7x7/2", 3, H, W, width, 7, 2, 3)
    h, w_ = conv_out(h, 3, 2, 1, 1), conv_out(w_, 3, 2, 1, 1)  # max pool 3x3/2
    inplanes, dilation = width, 1
    blocks = [3, 4, 6, 3]
    for layer in range(4):
        planes = width << layer
        stride = 1 if layer == 0 else 2
        prev = dilation
        if layer >= 2:
            dilation *= stride
            stride = 1
        for i in range(blocks[layer]):
            cin = inplanes if i == 0 else 4 * planes
            s = stride if i == 0 else 1
            d = prev if i == 0 else dilation
            tag = f"layer{layer + 1}.{i}"
            add(f"{tag} 1x1", cin, h, w_, planes, 1)
            h2, w2 = add(f"{tag} 3x3 s{s} d{d}", planes, h, w_, planes, 3, s, d, d)
            add(f"{tag} 1x1 expand", planes, h2, w2, 4 * planes, 1)
            if i == 0 and (s != 1 or cin != 4 * planes):
                add(f"{tag} downsample s{s}", cin, h, w_, 4 * planes, 1, s)
            h, w_ = h2, w2
        inplanes = 4 * planes
    c4, mid = 32 * width, 4 * width
    add("aspp 1x1", c4, h, w_, mid, 1)
    for rate in (12, 24, 36):
        add(f"aspp 3x3 rate {rate}", c4, h, w_, mid, 3, 1, rate, rate)
    add("aspp pooling 1x1", c4, 1, 1, mid, 1)
    add("aspp project", 5 * mid, h, w_, mid, 1)
    add("head 3x3", mid, h, w_, mid, 3, 1, 1)
    add("classifier 1x1", mid, h, w_, classes, 1)
    add("fcn head 3x3", 16 * width, h, w_, 4 * width, 3, 1, 1)
    add("fcn classifier 1x1", 4 * width, h, w_, classes, 1)
    return out


def wav2vec2_shapes(N, samples, channels, pos_channels, pos_groups, pos_kernel):
    """wav2vec2-base's convolutions as conv2d with H = 1 (the feature encoder, kernels
    10,3,3,3,3,2,2 strides 5,2,2,2,2,2,2, and the grouped positional conv, padding kernel/2)."""
    out = []
    T, C = samples, 1
    for i, (k, s) in enumerate(zip((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))):
        pb = problem(N, C, 1, T, channels, 1, k, (1, s))
        out.append((f"wav2vec2 feature conv{i} k{k} s{s}", pb))
        T, C = pb["Q"], channels
    out.append((f"wav2vec2 positional conv k{pos_kernel} g{pos_groups}",
                problem(N, pos_channels, 1, T, pos_channels, 1, pos_kernel, pad=(0, pos_kernel // 2),
                        groups=pos_groups)))
    return out


def edge_shapes():
    return [
        ("odd everything", problem(2, 5, 7, 9, 3, 3, 3, pad=(1, 1))),
        ("stride 2x3 pad 2x1 dil 3x2", problem(2, 6, 13, 11, 10, 3, 2, (2, 3), (2, 1), (3, 2))),
        ("groups 3, 5x1 kernel", problem(1, 9, 8, 8, 6, 5, 1, (1, 2), (2, 0), (1, 1), groups=3)),
        ("depthwise 3x3 s2", problem(2, 8, 9, 9, 8, 3, 3, (2, 2), (1, 1), groups=8)),
        ("M tail 130 (two 128 tiles)", problem(1, 16, 17, 17, 130, 1, 1)),
        ("K tail 33 (two steps)", problem(1, 33, 6, 6, 70, 1, 1)),
        ("kernel larger than input + pad", problem(1, 4, 3, 5, 5, 5, 5, pad=(2, 2))),
        ("1x1 stride 2 odd input", problem(3, 12, 9, 7, 20, 1, 1, (2, 2))),
    ]


# ---------------------------------------------------------------- driver
def run_case(name, pb, rng, verbose, ws_limit=None, cfg=None):
    x = rng.uniform(-1, 1, (pb["N"], pb["C"], pb["H"], pb["W"]))
    w = rng.uniform(-1, 1, (pb["K"], pb["Cg"], pb["R"], pb["S"]))
    b = rng.uniform(-1, 1, pb["K"])
    dy = rng.uniform(-1, 1, (pb["N"], pb["K"], pb["P"], pb["Q"]))
    dw0 = rng.uniform(-1, 1, w.shape)
    y_ref, dx_ref, dw_ref = reference(pb, x, w, b, dy)
    dw_ref = dw_ref + dw0
    T = dict(x=x.ravel(), w=w.ravel(), dy=dy.ravel(), b=b, accumulate=True)
    ws = own_workspace_bytes(pb) if ws_limit is None else ws_limit
    errs = {}
    stats = Stats()
    t0 = time.time()
    for mode in (FWD, DGRAD, WGRAD):
        out = dict(y=np.full(y_ref.size, np.nan), y_cnt=np.zeros(y_ref.size, int),
                   dx=np.full(dx_ref.size, np.nan), dx_cnt=np.zeros(dx_ref.size, int),
                   dw=dw0.ravel().copy(), dw_cnt=np.zeros(dw0.size, int))
        q, used = launch(pb, mode, T, out, stats, ws, cfg)
        key, ref = {FWD: ("y", y_ref), DGRAD: ("dx", dx_ref), WGRAD: ("dw", dw_ref)}[mode]
        check((out[key + "_cnt"] == 1).all(), f"{MODE_NAMES[mode]}: {int((out[key + '_cnt'] != 1).sum())} output "
              "elements not written exactly once")
        got = out[key].reshape(ref.shape)
        err = float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30))
        check(np.isfinite(err) and err < 1e-12, f"{MODE_NAMES[mode]}: max relative error {err:.3e}")
        errs[MODE_NAMES[mode]] = (err, used[0], q["splits"])
    dt = time.time() - t0
    if verbose:
        print(f"  {name}: {pb}")
    desc = ", ".join(f"{k} {v[0]:.1e} ({v[1]}x{v[1]}{' split ' + str(v[2]) if v[2] > 1 else ''})"
                     for k, v in errs.items())
    print(f"ok  {name:42s} {desc}  [{stats.blocks} blocks, {stats.steps} steps, {dt:.1f}s]")
    return max(v[0] for v in errs.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="edge cases and a few model shapes only")
    ap.add_argument("--only", default=None)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(20240601)
    ptx_layouts_cover_once()
    big = (128, 128, 2, 4)
    cases = [(n, pb, None, None) for n, pb in edge_shapes()]
    # the 128 x 128 configuration (8 warps, 2 x 4) on shapes too small to pick it themselves
    cases += [(n + " [128x128 forced]", pb, None, big) for n, pb in edge_shapes()]
    # wgrad split-K with the workspace it asks for and with room for 2 splits only
    sk = problem(4, 8, 16, 16, 8, 3, 3, pad=(1, 1))
    cases.append(("wgrad split-K (full workspace)", sk, None, None))
    per_split = sk["G"] * sk["Kg"] * sk["Cg"] * sk["R"] * sk["S"] * 4
    cases.append(("wgrad split-K (workspace of 2 splits)", sk, 2 * per_split, None))
    cases.append(("wgrad split-K (no workspace)", sk, 0, None))
    cases.append(("wgrad split-K [128x128 forced]", sk, None, big))
    # DeepLabV3-ResNet50 at width 4 (channels / 16), 1 x 3 x 49 x 41 (output stride 8: 7 x 6)
    cases += [("deeplab " + n, pb, None, None) for n, pb in deeplab_shapes(1, 49, 41, 4, 5)]
    # ASPP's dilated 3x3s with the full 2048 -> 256 channel count (7 x 6 feature map, N = 1)
    if not args.quick:
        for rate in (12, 24, 36):
            cases.append((f"aspp full channels rate {rate}", problem(1, 2048, 7, 6, 256, 3, 3, pad=(rate, rate),
                                                                      dil=(rate, rate)), None, None))
        # wav2vec2-base at its real feature-encoder width (512) on 1200 samples, positional conv with
        # the real kernel (128) and channels per group (48), 2 groups instead of 16
        cases += [(n, pb, None, None) for n, pb in wav2vec2_shapes(1, 1200, 512, 96, 2, 128)]
    else:
        cases += [(n, pb, None, None) for n, pb in wav2vec2_shapes(1, 400, 64, 96, 2, 128)]
    if args.only:
        cases = [c for c in cases if args.only in c[0]]
    t0 = time.time()
    worst = 0.0
    failed = 0
    for name, pb, ws, cfg in cases:
        try:
            worst = max(worst, run_case(name, pb, rng, args.verbose, ws, cfg))
        except Fail as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"{len(cases) - failed} of {len(cases)} shapes passed, worst relative error {worst:.2e}, "
          f"{time.time() - t0:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
