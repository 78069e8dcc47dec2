#!/usr/bin/env bash
# Two epochs of fine-tuning WITH dropout against PyTorch: tests/fixtures/trainer/trace/trace.json
# holds the loss and gradient norm of every step of transformers' BertForSequenceClassification
# trained on the same data in downstream's epoch order with downstream's dropout masks
# (scripts/fixtures/dropout_trace.py derives both from their definitions: Philox, the shuffle, the
# per-step and per-site keys). downstream's logged loss and grad_norm must match at every step.
# A mask drawn with the wrong key (e.g. epoch 2 repeating epoch 1's masks, a wrong site or step)
# changes a step's loss by 1.7e-3 and its gradient norm by 0.4 here (measured with the epoch term
# dropped from the key).
# Tolerance 1e-5 relative: the two sides compute the same fp32 functions with different
# summation orders (GEMMs, softmax, layer norm), which leaves ~1e-7 after 10 AdamW steps (measured:
# loss 8.6e-8, gradient norm 1.9e-7); 1e-5 is 50x that and 170x below the effect of a wrong mask.
source "$(dirname "$0")/lib.sh"

fx="$src/tests/fixtures/trainer/trace"
setting() { grep -o "\"$1\": [^,]*" "$fx/trace.json" | head -1 | sed 's/.*: //'; }
cat >"$tmp/cfg.json" <<JSON
{
  "run": {"seed": $(setting seed), "threads": 2},
  "model": {"path": "$fx/model", "max_length": $(setting max_length)},
  "data": {"train": "$fx/train.csv", "dev": "$fx/dev.csv"},
  "train": {"batch_size": $(setting batch_size), "epochs": $(setting epochs), "lr": $(setting lr),
            "warmup_steps": $(setting warmup_steps), "weight_decay": $(setting weight_decay),
            "max_grad_norm": $(setting max_grad_norm), "log_every": 1, "output_dir": "$tmp/run"}
}
JSON
"$bin" train --config "$tmp/cfg.json" >"$tmp/out" 2>"$tmp/err"
check "2-epoch run with dropout exits 0" "[ $? -eq 0 ]" || tail -5 "$tmp/err"
ours() { grep '"loss"' "$tmp/run/metrics.jsonl" | grep -o "\"$1\": [^,}]*" | sed 's/.*: //'; }
# The arrays of trace.json, one value per line as the fixture script writes them.
theirs() { sed -n "/\"$1\": \[/,/\]/p" "$fx/trace.json" | sed '1d;$d; s/[ ,]//g'; }
compare() {  # key: prints the worst relative difference; fails above 1e-4 or on a count mismatch
  paste <(ours "$1") <(theirs "$1") | awk -v k="$1" '
    NF != 2 { bad = 1 } { n++; d = $1 - $2; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2); if (r > m) m = r }
    END { printf "  %s: %d steps, max relative difference %.3g\n", k, n, m; exit !(n == 10 && !bad && m <= 1e-5) }'
}
check "every step's loss equals PyTorch's within 1e-5" "compare loss"
check "every step's gradient norm equals PyTorch's within 1e-5" "compare grad_norm"
exit $fail
