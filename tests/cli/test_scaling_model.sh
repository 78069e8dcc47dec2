#!/usr/bin/env bash
# scripts/scaling_model.py: the ring all-reduce formula, which bandwidth a GPU count uses, what
# overlap hides (everything but the work left after backward ends: at least the last bucket),
# and the printed table. Values are recomputed here by hand from the formulas in docs/scaling.md.
set -u
export PYTHONDONTWRITEBYTECODE=1 # nothing written into the source tree
src=$2
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
python3 - "$src/scripts" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import scaling_model as m

fails = 0
def check(name, ok):
    global fails
    print(("ok   " if ok else "FAIL: ") + name)
    fails += not ok

# Same double-precision operations in another order: agreement to ~1e-15 relative; 1e-12 leaves
# room without hiding a wrong factor (the smallest one tested, (n-1)/n at n=64, is 1.6%).
def close(a, b):
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b), 1e-30)

check("ring all-reduce: 2(n-1)/n x bytes / busbw + latency",
      close(m.ring_allreduce_s(25e6, 8, 370, 15), 15e-6 + 2 * 7 / 8 * 25e6 / 370e9))
check("one rank: no communication", m.ring_allreduce_s(25e6, 1, 370, 15) == 0.0)

def args(*extra):
    return m.parse(["--grad-dtype", "fp32", *extra])

# One 25 MB bucket (6.25M fp32 params), ready when backward ends: nothing hides it.
a = args("--params", "6.25e6", "--tail-params", "0", "--intra-latency-us", "0")
r = m.simulate(8, a)
t = 2 * 7 / 8 * 25e6 / 370e9
check("single bucket: exposed = its whole all-reduce", close(r["exposed_ms"], t * 1e3) and r["buckets"] == 1)
check("single bucket: step = compute + all-reduce", close(r["step_ms"], 25 + t * 1e3))

# A long backward, uniform gradients: every bucket but the last finishes under backward.
a = args("--step-ms", "1000", "--tail-params", "0")
r = m.simulate(8, a)
last = m.ring_allreduce_s(440e6 - 17 * 25e6, 8, 370, 15)
check("long backward: only the last (partial) bucket is exposed", close(r["exposed_ms"], last * 1e3))
check("440 MB in 25 MB buckets: 18 buckets", r["buckets"] == 18)

# The embeddings' 95 MB are ready only at the end of backward: 4 buckets' worth exposed.
a = args("--step-ms", "1000")
r = m.simulate(8, a)
tail = m.BERT_BASE_EMBEDDING_PARAMS * 4
check("embedding tail: the buckets holding it are exposed",
      r["exposed_ms"] > 1e3 * m.ring_allreduce_s(tail - 25e6, 8, 370, 15))

# 64 GPUs on 8-GPU nodes: the inter-node bandwidth and latency.
a = args()
r = m.simulate(64, a)
check("64 GPUs: inter-node bus bandwidth", r["busbw"] == 45.0 and r["nodes"] == 8)
check("64 GPUs: bucket time", close(r["bucket_ms"], 1e3 * (40e-6 + 2 * 63 / 64 * 25e6 / 45e9)))
check("64 GPUs: efficiency = t1 / tn, below 8 GPUs'",
      close(r["efficiency"], 25 / r["step_ms"]) and r["efficiency"] < m.simulate(8, a)["efficiency"] < 1)
check("communication never makes the step shorter than no overlap allows",
      r["step_ms"] <= r["no_overlap_ms"] and r["step_ms"] >= 25)
check("1 GPU: efficiency 1", m.simulate(1, a)["efficiency"] == 1.0)
check("bf16 halves the bytes: 9 buckets", m.simulate(8, m.parse(["--grad-dtype", "bf16"]))["buckets"] == 9)
a4 = m.parse(["--grad-dtype", "fp32", "--grad-accum", "4"])
r1, r4 = m.simulate(64, args()), m.simulate(64, a4)
check("accumulation: 4 micro-batches, the same exposed all-reduce once per step",
      close(r4["exposed_ms"], r1["exposed_ms"]) and close(r4["step_ms"], 100 + r1["exposed_ms"]))
sys.exit(1 if fails else 0)
PY
rc=$?
out=$(python3 "$src/scripts/scaling_model.py" 2>&1)
if [ $rc -eq 0 ] && echo "$out" | grep -qE '^ +64 +8 +45 ' && echo "$out" | grep -q 'bf16'; then
  echo "ok   table printed for fp32 and bf16 with the 64-GPU row"
else
  echo "FAIL: table"; echo "$out"; rc=1
fi
python3 "$src/scripts/scaling_model.py" --gpus 0 >/dev/null 2>&1
if [ $? -eq 2 ]; then echo "ok   bad --gpus rejected"; else echo "FAIL: --gpus 0 accepted"; rc=1; fi
exit $rc
