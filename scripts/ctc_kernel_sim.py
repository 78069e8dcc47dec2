#!/usr/bin/env python3
"""Lane-level simulation of the CUDA CTC loss (kernels/cuda/ctc.cu) on the CPU, where no GPU runs it.

Every thread of every block is a Python generator that runs the kernel's code for that thread,
written out again here line by line (the same index formulas, loop strides and branches), and
yields at each __syncthreads; the scheduler steps all threads of a block from barrier to barrier
and checks:
  - barriers: every thread reaches the same sequence of barriers (no divergent __syncthreads);
  - races: inside one barrier interval no address of the work area (shared or the scratch
    slice), of alpha / alpha_exp or of grad is written by one thread and read or written by
    another;
  - bounds: every index into log_probs, targets, alpha, the work area and grad lies inside its
    array, and the work area's size is the host's fwd_work_bytes / bwd_work_bytes;
  - initialisation: no work-area slot is read before a thread of the block wrote it;
  - coverage: forward writes every alpha entry the op contract names (frames < T_n, blank
    states [0, L_n], label states [S+1, S+L_n]) exactly once, backward every grad entry;
  - the CPU op (with --cpu-op, which ctest passes): alpha and alpha_exp bit for bit, the losses,
    the reduction and the gradient, from kernels/cpu/ctc_loss.c run on the same F64 inputs;
  - values: the per-utterance losses, the reduction and the gradient (w.r.t. log-probs and
    w.r.t. logits) also against an independent reference, torch's log-space recursion (logsumexp over
    alpha and beta, gamma = exp(alpha + beta - lp - log p)) in double, and the gradient also
    against finite differences of that reference on one case. The extended-range arithmetic
    (ctc_math.cuh) is replayed bit for bit: Python floats are IEEE doubles and the kernel's
    operations are __dadd_rn / __dmul_rn in a fixed order, so the only differences from the
    reference are rounding (~1e-14 relative); an indexing slip shows as an O(1) error.
The block sum of the blank occupancies is modelled as block_reduce.cuh's butterflies (warp
xor-shuffles, then warp 0 over the warp sums). The chunked launch over the scratch (when the work
area does not fit shared memory) is run with a small scratch so that several chunks happen, and
blockDim is capped low on some cases so that every thread strides over several states.

Cases: ragged lengths, repeated labels, the blank at 0 / last / middle, no labels, no frames, no
alignment (NaN gradient; 0 with zero_infinity), mean and sum, L above the thread count, a long
case (L = 300 with 64 threads). Pure Python, no numpy; ~10-20 s.

usage: ctc_kernel_sim.py [--quick] [--verbose] [--cpu-op PATH]
Exit status 0 when every check passes, 1 otherwise.
"""
import argparse
import math
import random
import struct
import sys
import time

ZERO_E = -1e300
TWO52 = 4503599627370496.0
INT32_MIN = -2147483648
MAX_THREADS = 512  # ctc.cu's CTC_MAX_THREADS


class Fail(Exception):
    pass


# ---- ctc_math.cuh, bit for bit ----
def d2u(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def u2d(u):
    return struct.unpack("<d", struct.pack("<Q", u & 0xFFFFFFFFFFFFFFFF))[0]


def pow2(k):
    kc = -1023.0 if k < -1023.0 else k
    kc = 1023.0 if kc > 1023.0 else kc
    u = d2u(kc + (1023.0 + TWO52))
    u = ((u - 0x4330000000000000) << 52) & 0xFFFFFFFFFFFFFFFF
    return u2d(u)


def split(x):
    b = d2u(x)
    m = u2d((b & 0x000FFFFFFFFFFFFF) | 0x3FE0000000000000)
    eb = u2d(0x4330000000000000 | ((b >> 52) & 0x7FF))
    ee = (eb + -TWO52) + -1022.0
    mv = x if x != x else m
    return (0.0 if x == 0.0 else mv), (ZERO_E if x == 0.0 else ee)


def sum3_mul(av, ae, bv, be, cv, ce, yv, ye):
    m = ae if ae > be else be
    m = ce if ce > m else m
    s = (av * pow2(ae + -m) + bv * pow2(be + -m)) + cv * pow2(ce + -m)
    v, e = split(s * yv)
    return v, (ZERO_E if v == 0.0 else (e + m) + ye)


def exp_split(x):
    zero = x < -1e15
    xc = 0.0 if zero else x
    magic = 6755399441055744.0
    k = (xc * 1.44269504088896338700 + magic) + -magic
    r = (xc + -(k * 6.93147180369123816490e-01)) + -(k * 1.90821492927058770002e-10)
    p = 1.0 / 6227020800.0
    for c in (1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
              1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
        p = p * r + c
    pv, pe = split(p)
    return (0.0 if zero else pv), (ZERO_E if zero else pe + k)


def ctc_log(v, e):
    return -math.inf if v == 0.0 else math.log(v) + e * 0.69314718055994530942


def exp_store(v, e):
    ec = -2147483648.0 if e < -2147483647.0 else e
    ec = -2147483648.0 if v == 0.0 else ec
    return int(ec)


def exp_of(e):
    return ZERO_E if e == INT32_MIN else float(e)


# ---- checked memory ----
class Mem:
    """A flat array with bounds checks and per-barrier-interval race detection."""

    def __init__(self, name, size, fill=None):
        self.name, self.a = name, [fill] * size
        self.acc = {}  # address -> (writers set, readers set) in the current interval
        self.writes = [0] * size

    def _chk(self, i):
        if not (0 <= i < len(self.a)):
            raise Fail(f"{self.name}[{i}] out of bounds (size {len(self.a)})")

    def ld(self, tid, i):
        self._chk(i)
        w, r = self.acc.setdefault(i, (set(), set()))
        if w - {tid}:
            raise Fail(f"race: {self.name}[{i}] read by thread {tid} after a write by {sorted(w)} in one interval")
        r.add(tid)
        return self.a[i]

    def st(self, tid, i, v):
        self._chk(i)
        w, r = self.acc.setdefault(i, (set(), set()))
        if (w | r) - {tid}:
            raise Fail(f"race: {self.name}[{i}] written by thread {tid}, also touched by {sorted(w | r)}")
        w.add(tid)
        self.a[i] = v
        self.writes[i] += 1

    def barrier(self):
        self.acc = {}


def run_block(threads, mems):
    """Steps generator threads from barrier to barrier. A thread yields None at __syncthreads or
    ('sum', v) at ds_block_sum (which contains barriers); the block sum is sent back."""
    for m in mems:
        m.barrier()  # blocks are independent: a new block starts with a clean interval
    gens = [threads(tid) for tid in range(len_threads(threads))]
    live = list(range(len(gens)))
    pending = [None] * len(gens)
    barriers = 0
    while True:
        outs, done = [], []
        for tid in live:
            try:
                outs.append((tid, gens[tid].send(pending[tid])))
            except StopIteration:
                done.append(tid)
        if done and outs:
            raise Fail(f"divergent barrier {barriers}: threads {done[:4]} exited while {[t for t, _ in outs][:4]} wait")
        if not outs:
            return
        kinds = {None if o is None else o[0] for _, o in outs}
        if len(kinds) != 1:
            raise Fail(f"divergent barrier {barriers}: {kinds}")
        for m in mems:
            m.barrier()
        if kinds == {"sum"}:
            vals = [0.0] * len(gens)
            for tid, o in outs:
                vals[tid] = o[1]
            s = block_sum(vals)
            for tid, _ in outs:
                pending[tid] = s
        else:
            for tid, _ in outs:
                pending[tid] = None
        barriers += 1


def len_threads(threads):
    return threads.block_dim


def warp_sum(vals):
    v = list(vals)
    o = 16
    while o > 0:
        v = [v[i] + v[i ^ o] for i in range(32)]
        o >>= 1
    return v[0]


def block_sum(vals):
    warps = len(vals) // 32
    sh = [warp_sum(vals[w * 32:(w + 1) * 32]) for w in range(warps)]
    return warp_sum([sh[i] if i < warps else 0.0 for i in range(32)])


# ---- the kernels, per thread ----
def store_index(s, S):
    return S + 1 + (s >> 1) if s & 1 else s >> 1


def forward_thread(tid, bd, n, g, lp, tg, il, tl, alpha, aexp, nll, work, wbase):
    N, T, C, S, blank = g
    L, Tn, W = tl[n], il[n], 2 * S + 1
    Ws = 2 * L + 1
    rv, re = wbase, wbase + 2 * W  # rows in the work area (doubles)
    for t in range(Tn):
        cur = (t & 1) * W
        prev = W - cur
        s = tid
        while s < Ws:
            cls = tg.ld(tid, n * S + (s >> 1)) if s & 1 else blank
            yv, ye = exp_split(lp.ld(tid, (n * T + t) * C + cls))
            if t == 0:
                v, e = (yv, ye) if s < 2 else (0.0, ZERO_E)
            else:
                skip = bool(s & 1) and s >= 3 and tg.ld(tid, n * S + (s >> 1)) != tg.ld(tid, n * S + (s >> 1) - 1)
                v, e = sum3_mul(work.ld(tid, rv + prev + s), work.ld(tid, re + prev + s),
                                work.ld(tid, rv + prev + s - 1) if s >= 1 else 0.0,
                                work.ld(tid, re + prev + s - 1) if s >= 1 else ZERO_E,
                                work.ld(tid, rv + prev + s - 2) if skip else 0.0,
                                work.ld(tid, re + prev + s - 2) if skip else ZERO_E, yv, ye)
            work.st(tid, rv + cur + s, v)
            work.st(tid, re + cur + s, e)
            k = (n * T + t) * W + store_index(s, S)
            alpha.st(tid, k, v)
            aexp.st(tid, k, exp_store(v, e))
            s += bd
        yield None
    if tid != 0:
        return
    if Tn == 0:
        nll.st(tid, n, 0.0 if L == 0 else math.inf)
        return
    last = (n * T + Tn - 1) * W
    lv = alpha.ld(tid, last + S + L) if L > 0 else 0.0
    le = exp_of(aexp.ld(tid, last + S + L)) if L > 0 else ZERO_E
    pv, pe = sum3_mul(alpha.ld(tid, last + L), exp_of(aexp.ld(tid, last + L)), lv, le, 0.0, ZERO_E, 1.0, 0.0)
    nll.st(tid, n, -ctc_log(pv, pe))


def backward_thread(tid, bd, n, g, lp, tg, il, tl, alpha, aexp, dloss, mean, zinf, logits, grad, work, wbase):
    N, T, C, S, blank = g
    L, Tn, W = tl[n], il[n], 2 * S + 1
    Ws = 2 * L + 1
    rv, re, occ = wbase, wbase + 2 * W, wbase + 4 * W
    nxt = 2 * (wbase + 5 * W)  # int32 arrays after 5W doubles, in int32 units as in the kernel
    head = nxt + S
    gb0 = n * T * C
    i = Tn * C + tid
    while i < T * C:
        grad.st(tid, gb0 + i, 0.0)
        i += bd
    if Tn == 0:
        return
    last = (n * T + Tn - 1) * W
    lv = alpha.ld(tid, last + S + L) if L > 0 else 0.0
    le = exp_of(aexp.ld(tid, last + S + L)) if L > 0 else ZERO_E
    pv, pe = sum3_mul(alpha.ld(tid, last + L), exp_of(aexp.ld(tid, last + L)), lv, le, 0.0, ZERO_E, 1.0, 0.0)
    if pv == 0.0 or pv != pv:
        v = 0.0 if zinf and pv == 0.0 else math.nan
        i = tid
        while i < Tn * C:
            grad.st(tid, gb0 + i, v)
            i += bd
        return
    wgt = dloss / (float(L if L > 1 else 1) * float(N)) if mean else dloss
    j = tid
    while j < L:
        nx, hd = -1, 1
        k = j + 1
        while k < L and nx < 0:
            if tg.ld(tid, n * S + k) == tg.ld(tid, n * S + j):
                nx = k
            k += 1
        k = 0
        while k < j and hd:
            if tg.ld(tid, n * S + k) == tg.ld(tid, n * S + j):
                hd = 0
            k += 1
        work.st(tid, nxt_addr(nxt, j), nx)
        work.st(tid, nxt_addr(head, j), hd)
        j += bd
    for t in range(Tn - 1, -1, -1):
        lpt = (n * T + t) * C
        gr = gb0 + t * C
        cur = (t & 1) * W
        nx = W - cur
        yield None
        gb = 0.0
        s = tid
        while s < Ws:
            cls = tg.ld(tid, n * S + (s >> 1)) if s & 1 else blank
            yv, ye = exp_split(lp.ld(tid, lpt + cls))
            if t == Tn - 1:
                end = s == Ws - 1 or s == Ws - 2
                v, e = (yv, ye) if end else (0.0, ZERO_E)
            else:
                skip = bool(s & 1) and s + 2 < Ws and \
                    tg.ld(tid, n * S + (s >> 1) + 1) != tg.ld(tid, n * S + (s >> 1))
                v, e = sum3_mul(work.ld(tid, rv + nx + s), work.ld(tid, re + nx + s),
                                work.ld(tid, rv + nx + s + 1) if s + 1 < Ws else 0.0,
                                work.ld(tid, re + nx + s + 1) if s + 1 < Ws else ZERO_E,
                                work.ld(tid, rv + nx + s + 2) if skip else 0.0,
                                work.ld(tid, re + nx + s + 2) if skip else ZERO_E, yv, ye)
            work.st(tid, rv + cur + s, v)
            work.st(tid, re + cur + s, e)
            k = (n * T + t) * W + store_index(s, S)
            inv = 0.0 if yv == 0.0 else 1.0 / (yv * pv)
            o = ((alpha.ld(tid, k) * v) * inv) * pow2(((exp_of(aexp.ld(tid, k)) + e) + -ye) + -pe)
            work.st(tid, occ + s, o)
            if not s & 1:
                gb = gb + o
            s += bd
        c = tid
        while c < C:
            cv, ce = exp_split(lp.ld(tid, lpt + c))
            grad.st(tid, gr + c, wgt * (cv * pow2(ce)) if logits else -(wgt * 0.0))
            c += bd
        gb = yield ("sum", gb)
        if tid == 0:
            cv, ce = exp_split(lp.ld(tid, lpt + blank))
            grad.st(tid, gr + blank, wgt * (cv * pow2(ce) + -gb) if logits else -(wgt * gb))
        j = tid
        while j < L:
            if work.ld(tid, nxt_addr(head, j)):
                gamma = 0.0
                k = j
                while k >= 0:
                    gamma = gamma + work.ld(tid, occ + 2 * k + 1)
                    k = work.ld(tid, nxt_addr(nxt, k))
                cls = tg.ld(tid, n * S + j)
                cv, ce = exp_split(lp.ld(tid, lpt + cls))
                grad.st(tid, gr + cls, wgt * (cv * pow2(ce) + -gamma) if logits else -(wgt * gamma))
            j += bd


def nxt_addr(base, j):
    """Int32 slot base + j of the work area (int32 units), modelled at a negative address (Work)."""
    return -(base + j) - 1


class Work(Mem):
    """The block's work area: double slot i at address i >= 0, int32 slot k (bytes [4k, 4k+4)) at
    address -k - 1; an int32 slot inside a double that is used as a double is an overlap error."""

    def __init__(self, name, nbytes):
        super().__init__(name, nbytes // 8 + 1)
        self.nbytes = nbytes
        self.ints = {}

    def _chk(self, i):
        if i >= 0:
            if 8 * i + 8 > self.nbytes:
                raise Fail(f"{self.name}: double {i} beyond the {self.nbytes}-byte work area")
        else:
            k = -(i + 1)
            if 4 * k + 4 > self.nbytes:
                raise Fail(f"{self.name}: int32 slot {k} beyond the {self.nbytes}-byte work area")
            if self.writes[k // 2]:
                raise Fail(f"{self.name}: int32 slot {k} overlaps double {k // 2}")

    def ld(self, tid, i):
        self._chk(i)
        w, r = self.acc.setdefault(i, (set(), set()))
        if w - {tid}:
            raise Fail(f"race: {self.name}[{i}] read by thread {tid} after a write by {sorted(w)}")
        r.add(tid)
        if (i < 0 and i not in self.ints) or (i >= 0 and self.writes[i] == 0):
            raise Fail(f"{self.name}[{i}] read by thread {tid} before anything wrote it")
        return self.ints[i] if i < 0 else self.a[i]

    def st(self, tid, i, v):
        self._chk(i)
        w, r = self.acc.setdefault(i, (set(), set()))
        if (w | r) - {tid}:
            raise Fail(f"race: {self.name}[{i}] written by thread {tid}, also touched by {sorted(w | r)}")
        w.add(tid)
        if i < 0:
            self.ints[i] = v
        else:
            self.a[i] = v
            self.writes[i] += 1


# ---- host side (ctc.cu's plan_work and launches) ----
def fwd_work_bytes(S):
    return 32 * (2 * S + 1)


def bwd_work_bytes(S):
    return 40 * (2 * S + 1) + 8 * S


def threads_for(S, cap):
    W = 2 * S + 1
    th = (W + 31) // 32 * 32
    return min(th, cap)


def chunks(N, per_block_bytes, scratch_bytes, reserved):
    """Utterances per launch when the work area goes to the scratch (None: shared memory)."""
    if scratch_bytes is None:
        return N
    stride = (per_block_bytes + 255) // 256 * 256
    c = (scratch_bytes - reserved) // stride
    if c <= 0:
        raise Fail("no chunk fits the scratch")
    return min(c, N)


def sim(case, verbose):
    N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits, cap, scratch = case
    g = (N, T, C, S, blank)
    W = 2 * S + 1
    bd = threads_for(S, cap)
    lpm, tgm = Mem("log_probs", N * T * C), Mem("targets", N * S)
    lpm.a, tgm.a = list(lp), list(tg)
    alpha, aexp = Mem("alpha", N * T * W, math.nan), Mem("alpha_exp", N * T * W, 0x7FFFFFFF)
    nll = Mem("nll", N, math.nan)
    # forward
    reserved = (N * 8 + 255) // 256 * 256
    chunk = chunks(N, fwd_work_bytes(S), scratch, reserved)
    for n0 in range(0, N, chunk):
        for b in range(min(chunk, N - n0)):
            n = n0 + b
            work = Work(f"fwd work of block {b}", fwd_work_bytes(S))
            th = lambda tid, n=n, work=work: forward_thread(tid, bd, n, g, lpm, tgm, il, tl, alpha, aexp, nll, work, 0)
            th.block_dim = bd
            run_block(th, [work, alpha, aexp, nll, lpm, tgm])
    # the contract's entries written exactly once, nothing else
    for n in range(N):
        for t in range(T):
            for k in range(W):
                want = 1 if t < il[n] and (k <= tl[n] or S < k <= S + tl[n]) else 0
                if alpha.writes[(n * T + t) * W + k] != want:
                    raise Fail(f"alpha[{n}, {t}, {k}] written {alpha.writes[(n * T + t) * W + k]} times, want {want}")
    losses, total = [], 0.0
    for n in range(N):  # ctc_finish_kernel
        l = nll.a[n]
        if zinf and l == math.inf:
            l = 0.0
        losses.append(l)
        total = total + (l / float(tl[n] if tl[n] > 1 else 1) if mean else l)
    if mean:
        total = total / float(N) if N else math.nan
    # backward
    grad = Mem("grad", N * T * C, math.nan)
    chunk = chunks(N, bwd_work_bytes(S), scratch, 0)
    dloss = 0.75
    for n0 in range(0, N, chunk):
        for b in range(min(chunk, N - n0)):
            n = n0 + b
            work = Work(f"bwd work of block {b}", bwd_work_bytes(S))
            th = lambda tid, n=n, work=work: backward_thread(tid, bd, n, g, lpm, tgm, il, tl, alpha, aexp, dloss, mean,
                                                             zinf, logits, grad, work, 0)
            th.block_dim = bd
            run_block(th, [work, grad, alpha, aexp, lpm, tgm])
    for i, w in enumerate(grad.writes):
        if w == 0:
            raise Fail(f"grad[{i}] never written")
    return losses, total, grad.a, bd, chunk, (alpha.a, aexp.a, alpha.writes)


# ---- the independent reference: torch's log-space recursion ----
def lse(*xs):
    m = max(xs)
    if m == -math.inf:
        return -math.inf
    return m + math.log(sum(math.exp(x - m) for x in xs))


def reference(N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits, dloss=0.75):
    losses, grad = [], [0.0] * (N * T * C)
    for n in range(N):
        L, Tn = tl[n], il[n]
        lab = [blank if s % 2 == 0 else tg[n * S + s // 2] for s in range(2 * L + 1)]
        Ws = 2 * L + 1
        y = lambda t, c: lp[(n * T + t) * C + c]
        if Tn == 0:
            nl = 0.0 if L == 0 else math.inf
            losses.append(0.0 if zinf and nl == math.inf else nl)
            continue
        a = [[-math.inf] * Ws for _ in range(Tn)]
        b = [[-math.inf] * Ws for _ in range(Tn)]
        a[0][0] = y(0, blank)
        if L:
            a[0][1] = y(0, lab[1])
        for t in range(1, Tn):
            for s in range(Ws):
                terms = [a[t - 1][s]] + ([a[t - 1][s - 1]] if s >= 1 else [])
                if s % 2 == 1 and s >= 3 and lab[s] != lab[s - 2]:
                    terms.append(a[t - 1][s - 2])
                a[t][s] = lse(*terms) + y(t, lab[s])
        b[Tn - 1][Ws - 1] = y(Tn - 1, blank)
        if L:
            b[Tn - 1][Ws - 2] = y(Tn - 1, lab[Ws - 2])
        for t in range(Tn - 2, -1, -1):
            for s in range(Ws):
                terms = [b[t + 1][s]] + ([b[t + 1][s + 1]] if s + 1 < Ws else [])
                if s % 2 == 1 and s + 2 < Ws and lab[s] != lab[s + 2]:
                    terms.append(b[t + 1][s + 2])
                b[t][s] = lse(*terms) + y(t, lab[s])
        logp = lse(a[Tn - 1][Ws - 1], a[Tn - 1][Ws - 2] if L else -math.inf)
        nl = -logp
        losses.append(0.0 if zinf and nl == math.inf else nl)
        w = dloss / (max(L, 1) * N) if mean else dloss
        for t in range(Tn):
            for c in range(C):
                i = (n * T + t) * C + c
                if logp == -math.inf:
                    grad[i] = 0.0 if zinf else math.nan
                    continue
                ss = [a[t][s] + b[t][s] - y(t, c) for s in range(Ws) if lab[s] == c]
                gam = math.exp(lse(*ss) - logp) if ss else 0.0
                grad[i] = w * (math.exp(y(t, c)) - gam) if logits else -w * gam
    total = 0.0
    for n in range(N):
        total += losses[n] / max(tl[n], 1) if mean else losses[n]
    if mean:
        total /= N
    return losses, total, grad


def cpu_op_check(path, case, losses, total, grad, al, ae, aw):
    """Runs the CPU op (F64) on the case through tests/sim/ctc_cpu_ref and compares: alpha and
    alpha_exp bit for bit on every entry the kernel wrote (the same IEEE operations in the same
    order), losses and loss to 1e-14 (the same log), grad to 1e-12 (occupancy sums in another
    order)."""
    import subprocess
    N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits, _, _ = case
    W = 2 * S + 1
    inp = struct.pack("<8q", N, T, C, S, blank, 0 if mean else 1, int(zinf), int(logits)) + struct.pack("<d", 0.75)
    inp += struct.pack(f"<{len(lp)}d", *lp) + struct.pack(f"<{len(tg)}i", *tg) + struct.pack(f"<{N}i", *il)
    inp += struct.pack(f"<{N}i", *tl)
    r = subprocess.run([path], input=inp, capture_output=True)
    if r.returncode != 0:
        raise Fail(f"ctc_cpu_ref failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")
    out, na, nlp = r.stdout, N * T * W, N * T * C
    o = 0
    ca = struct.unpack_from(f"<{na}d", out, o); o += 8 * na
    ce = struct.unpack_from(f"<{na}i", out, o); o += 4 * na
    cl = struct.unpack_from(f"<{N}d", out, o); o += 8 * N
    ct = struct.unpack_from("<d", out, o)[0]; o += 8
    cg = struct.unpack_from(f"<{nlp}d", out, o)
    for i in range(na):
        if aw[i] and (d2u(al[i]) != d2u(ca[i]) or ae[i] != ce[i]):
            raise Fail(f"alpha[{i}] = {al[i]!r} * 2^{ae[i]}, CPU op {ca[i]!r} * 2^{ce[i]}")
    for n in range(N):
        if not close(losses[n], cl[n], 1e-14):
            raise Fail(f"losses[{n}] = {losses[n]!r}, CPU op {cl[n]!r}")
    if not close(total, ct, 1e-14):
        raise Fail(f"loss = {total!r}, CPU op {ct!r}")
    for i in range(nlp):
        if not close(grad[i], cg[i], 1e-12):
            raise Fail(f"grad[{i}] = {grad[i]!r}, CPU op {cg[i]!r}")


def close(a, b, tol):
    if math.isnan(b) or math.isinf(b):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return abs(a - b) <= tol * max(1.0, abs(b))


def make_case(rng, N, T, C, S, blank, mean, zinf, logits, cap=MAX_THREADS, scratch=None, specials=True):
    lp = []
    for _ in range(N * T):
        x = [rng.uniform(-3, 3) for _ in range(C)]
        m = max(x)
        z = m + math.log(sum(math.exp(v - m) for v in x))
        lp += [v - z for v in x]
    tg, il, tl = [], [], []
    for n in range(N):
        L = S if n == 0 else rng.randint(0, S)
        if specials and n == 1:
            L = 0
        row = []
        for j in range(L):
            if j > 0 and rng.random() < 0.3:
                row.append(row[-1])
            else:
                v = rng.randrange(C - 1)
                row.append(v + 1 if v >= blank else v)
        need = L + sum(1 for j in range(1, L) if row[j] == row[j - 1])
        lo = min(need, T)
        Tn = T if n == 0 else rng.randint(lo, T)
        if specials and N > 2 and n == N - 1:
            Tn = 0
        if specials and N > 3 and n == 2:
            Tn = max(need - 1, 0)
        tg += row + [-7] * (S - L)
        il.append(Tn)
        tl.append(L)
    return (N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits, cap, scratch)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the CI subset")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--cpu-op", metavar="PATH", help="tests/sim/ctc_cpu_ref (built): also compare with the CPU op")
    args = ap.parse_args()
    rng = random.Random(14)
    cases = []
    for blank_pos in ("first", "last", "middle"):
        for mean in (True, False):
            for zinf in (False, True):
                for logits in (False, True):
                    C = 7
                    blank = {"first": 0, "last": C - 1, "middle": 3}[blank_pos]
                    cases.append((f"N5 T14 C7 S5 blank {blank} {'mean' if mean else 'sum'}"
                                  f"{' zero_inf' if zinf else ''} {'logits' if logits else 'log_probs'}",
                                  make_case(rng, 5, 14, C, 5, blank, mean, zinf, logits)))
    # more states than threads (the strided loops), and several utterances per scratch chunk
    cases.append(("N3 T60 C9 S40 32 threads", make_case(rng, 3, 60, 9, 40, 0, True, False, True, cap=32)))
    cases.append(("N4 T25 C6 S12 scratch chunks of 2", make_case(rng, 4, 25, 6, 12, 0, False, True, False, cap=32,
                                                                  scratch=2 * 1280 + 256)))
    cases.append(("N1 T1 C3 S1", make_case(rng, 1, 1, 3, 1, 0, True, False, True, specials=False)))
    if not args.quick:
        cases.append(("N2 T420 C12 S300 64 threads", make_case(rng, 2, 420, 12, 300, 0, True, False, True, cap=64,
                                                               specials=False)))
    failures = 0
    t0 = time.time()
    for name, case in cases:
        try:
            losses, total, grad, bd, chunk, (al, ae, aw) = sim(case, args.verbose)
            N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits, _, _ = case
            rl, rt, rg = reference(N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits)
            for n in range(N):
                if not close(losses[n], rl[n], 1e-12):
                    raise Fail(f"losses[{n}] = {losses[n]!r}, reference {rl[n]!r}")
            if not close(total, rt, 1e-12):
                raise Fail(f"loss = {total!r}, reference {rt!r}")
            for i in range(len(grad)):
                if not close(grad[i], rg[i], 1e-11):
                    raise Fail(f"grad[{i}] = {grad[i]!r}, reference {rg[i]!r}")
            if args.cpu_op:
                cpu_op_check(args.cpu_op, case, losses, total, grad, al, ae, aw)
            if args.verbose:
                print(f"ok   {name} ({bd} threads, {chunk} per launch)")
        except Fail as e:
            failures += 1
            print(f"FAIL {name}: {e}")
        except (TypeError, ValueError, IndexError) as e:  # a slip that breaks the replay itself
            failures += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    # finite differences of the reference on one small case: the reference itself is right
    fd_case = make_case(random.Random(3), 2, 6, 4, 3, 0, False, False, False, specials=False)
    N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits, _, _ = fd_case
    _, _, rg = reference(N, T, C, S, blank, lp, tg, il, tl, mean, zinf, logits, dloss=1.0)
    for i in range(0, N * T * C, 5):
        h = 1e-6
        up, dn = list(lp), list(lp)
        up[i] += h
        dn[i] -= h
        fd = (reference(N, T, C, S, blank, up, tg, il, tl, mean, zinf, logits)[1] -
              reference(N, T, C, S, blank, dn, tg, il, tl, mean, zinf, logits)[1]) / (2 * h)
        if abs(fd - rg[i]) > 1e-6:
            failures += 1
            print(f"FAIL reference gradient [{i}]: {rg[i]!r} vs finite difference {fd!r}")
            break
    print(f"ctc_kernel_sim: {len(cases)} cases, {failures} failed, {time.time() - t0:.1f} s"
          + ("" if args.cpu_op else " (not compared with the CPU op: no --cpu-op)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
