#!/usr/bin/env bash
# `downstream predict` and `downstream eval` end to end on the tiny BERT fixture
# (tests/fixtures/trainer): train it briefly (as test_train.sh does), then predict on a labelled
# CSV, an unlabelled CSV, a JSONL file, a .txt file and stdin, and check the JSON lines: their
# shape, class names from the export's id2label, probabilities summing to 1, the label being the
# argmax, the same logits whatever the input format; that eval on the training split prints
# exactly the trainer's final dev and test lines, and that eval's accuracy on a labelled file
# equals the accuracy of predict's labels on it. Then regression and multi-label shapes, and errors.
# JSON is checked with awk on the fixed layout predict writes (no Python on a bare test machine).
source "$(dirname "$0")/lib.sh"
fixture=$src/tests/fixtures/trainer
tr -d '\r' <"$fixture/sentiment.csv" >"$tmp/sentiment.csv"  # Python's csv module wrote CRLF

cat >"$tmp/cfg.json" <<JSON
{
  "run": {"seed": 3, "threads": 2},
  "model": {"path": "$fixture/tiny_bert", "max_length": 24},
  "data": {"train": "$fixture/sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 8, "max_steps": 80, "eval_every": 20, "lr": 3e-3, "warmup_steps": 2,
            "output_dir": "$tmp/run"}
}
JSON
"$bin" train --config "$tmp/cfg.json" >"$tmp/train.out" 2>"$tmp/train.err"
check "training exits 0" "[ $? -eq 0 ]"
model=$tmp/run/model

# id2label of the export, in id order: one name a line.
sed -n '/"id2label"/,/}/p' "$model/config.json" | grep -o '"[0-9][0-9]*":[[:space:]]*"[^"]*"' |
  sed 's/^"\([0-9]*\)":[[:space:]]*"\(.*\)"$/\1 \2/' | sort -n | cut -d' ' -f2- >"$tmp/names"
check "id2label has the two classes" "[ \$(wc -l <'$tmp/names') -eq 2 ] && grep -qx pos '$tmp/names' && grep -qx neg '$tmp/names'"

# Single-label lines: exact layout; label = id2label[argmax(logits)] = id2label[argmax(probabilities)];
# probabilities within 1e-6 of summing to 1 (9 significant digits each, so a few 1e-9 off at most)
# and equal to the softmax of the logits within 1e-6.
check_single() {  # file
  awk -v names="$tmp/names" '
    BEGIN { n = 0; while ((getline line < names) > 0) name[n++] = line; bad = 0 }
    function arr(key, out,   s, m) {
      if (!match($0, "\"" key "\": \\[[^]]*\\]")) return -1
      s = substr($0, RSTART + length(key) + 5, RLENGTH - length(key) - 6)
      m = split(s, out, ", ")
      return m
    }
    {
      if ($0 !~ /^\{"text": ".*", "label": "[^"]*", "probabilities": \[[^]]*\], "logits": \[[^]]*\]\}$/ &&
          $0 !~ /^\{"text": ".*", "text_pair": ".*", "label": "[^"]*", "probabilities": \[[^]]*\], "logits": \[[^]]*\]\}$/) {
        print "bad layout: " $0; bad = 1; next }
      match($0, /"label": "[^"]*"/); label = substr($0, RSTART + 10, RLENGTH - 11)
      k = arr("probabilities", p); k2 = arr("logits", l)
      if (k != n || k2 != n) { print "wrong number of classes: " $0; bad = 1; next }
      sum = 0; bp = 1; bl = 1; z = 0
      for (i = 1; i <= n; i++) { sum += p[i]; if (p[i] > p[bp]) bp = i; if (l[i] > l[bl]) bl = i }
      for (i = 1; i <= n; i++) z += exp(l[i] - l[bl])
      for (i = 1; i <= n; i++) if ((d = p[i] - exp(l[i] - l[bl]) / z) > 1e-6 || d < -1e-6) { print "not the softmax: " $0; bad = 1 }
      if (sum - 1 > 1e-6 || 1 - sum > 1e-6) { print "probabilities sum to " sum ": " $0; bad = 1 }
      if (label != name[bl - 1] || label != name[bp - 1]) { print "label is not the argmax: " $0; bad = 1 }
    }
    END { exit bad }' "$1"
}
# The logits (and texts) of a file, one example a line, to compare runs.
logits_of() { sed 's/.*"logits": //' "$1"; }
texts_of() { sed 's/^{"text": "\(.*\)", "label": .*/\1/' "$1"; }

"$bin" predict --model "$model" --input "$fixture/sentiment.csv" --batch-size 8 --max-length 24 \
  >"$tmp/labelled.jsonl" 2>"$tmp/labelled.err"
check "predict on a labelled CSV exits 0" "[ $? -eq 0 ]"
check "one line per example (96)" "[ \$(wc -l <'$tmp/labelled.jsonl') -eq 96 ]"
check "single-label lines: layout, names, softmax, argmax" "check_single '$tmp/labelled.jsonl'"
check "both classes are predicted" "grep -q '\"label\": \"pos\"' '$tmp/labelled.jsonl' && grep -q '\"label\": \"neg\"' '$tmp/labelled.jsonl'"
check "texts in input order" "[ \"\$(texts_of '$tmp/labelled.jsonl' | head -1)\" = \"\$(sed -n 2p '$tmp/sentiment.csv' | sed 's/,[^,]*\$//; s/^\"//; s/\"\$//')\" ]"
check "nothing but JSON on stdout, the log on stderr" "grep -q 'predicting 96 examples' '$tmp/labelled.err'"

# The same texts unlabelled: CSV without the label column, JSONL, .txt, stdin, --output.
{ echo "text"; sed 1d "$tmp/sentiment.csv" | sed 's/,[^,]*$//'; } >"$tmp/unlabelled.csv"
texts_of "$tmp/labelled.jsonl" >"$tmp/texts.txt"
sed 's/^\(.*\)$/{"id": 1, "text": "\1"}/' "$tmp/texts.txt" >"$tmp/texts.jsonl"
"$bin" predict --model "$model" --input "$tmp/unlabelled.csv" --batch-size 8 --max-length 24 --quiet >"$tmp/unlabelled.out"
check "unlabelled CSV: exit 0, the same predictions" "[ $? -eq 0 ] && cmp -s '$tmp/labelled.jsonl' '$tmp/unlabelled.out'"
"$bin" predict --model "$model" --input "$tmp/texts.jsonl" --batch-size 8 --max-length 24 --quiet >"$tmp/jsonl.out"
check "unlabelled JSONL: the same predictions" "cmp -s '$tmp/labelled.jsonl' '$tmp/jsonl.out'"
"$bin" predict --model "$model" --input "$tmp/texts.txt" --batch-size 8 --max-length 24 --quiet >"$tmp/txt.out"
check ".txt lines: the same predictions" "cmp -s '$tmp/labelled.jsonl' '$tmp/txt.out'"
"$bin" predict --model "$model" --input - --batch-size 8 --max-length 24 --quiet <"$tmp/texts.txt" >"$tmp/stdin.out"
check "stdin lines: the same predictions" "cmp -s '$tmp/labelled.jsonl' '$tmp/stdin.out'"
"$bin" predict --model "$model" --input "$tmp/texts.txt" --batch-size 8 --max-length 24 --output "$tmp/out.jsonl" \
  >"$tmp/stdout.out" 2>/dev/null
check "--output writes the file, nothing on stdout" "cmp -s '$tmp/labelled.jsonl' '$tmp/out.jsonl' && [ ! -s '$tmp/stdout.out' ]"
# Batch size and length from the training config; other batch sizes pad differently but agree
# to float rounding (the predicted labels are the same).
"$bin" predict --config "$tmp/cfg.json" --model "$model" --input "$tmp/texts.txt" --quiet >"$tmp/cfgbatch.out"
check "--config gives batch size and max length (same predictions)" "cmp -s '$tmp/labelled.jsonl' '$tmp/cfgbatch.out'"
"$bin" predict --model "$model" --input "$tmp/texts.txt" --batch-size=5 --max-length=24 --quiet >"$tmp/b5.out"
check "another batch size: the same labels" \
  "[ \"\$(grep -o '\"label\": \"[a-z]*\"' '$tmp/b5.out')\" = \"\$(grep -o '\"label\": \"[a-z]*\"' '$tmp/labelled.jsonl')\" ]"

# Sentence pairs and escaping: a TAB in a line starts the pair; quotes and backslashes escaped.
printf 'the plot was "good"\\ really\tthe cast was bad\nno pair here\n\n' >"$tmp/pairs.txt"
"$bin" predict --model "$model" --input "$tmp/pairs.txt" --quiet >"$tmp/pairs.out"
check "pairs: two lines (blank skipped), text_pair on the first only" \
  "[ \$(wc -l <'$tmp/pairs.out') -eq 2 ] && head -1 '$tmp/pairs.out' | grep -q '\"text_pair\": \"the cast was bad\"' && ! tail -1 '$tmp/pairs.out' | grep -q text_pair"
check "pairs: escaped text and valid layout" \
  "head -1 '$tmp/pairs.out' | grep -qF '{\"text\": \"the plot was \\\"good\\\"\\\\ really\"' && check_single '$tmp/pairs.out'"

# eval on the training split: the trainer's final dev and test lines, exactly.
"$bin" eval --config "$tmp/cfg.json" --set model.path="$model" >"$tmp/eval.out" 2>"$tmp/eval.err"
check "eval exits 0" "[ $? -eq 0 ]"
check "eval test line = the trainer's" "[ \"\$(grep '^test (' '$tmp/eval.out')\" = \"\$(grep '^test (' '$tmp/train.out')\" ]"
check "eval dev line = the trainer's" "[ \"\$(grep '^dev (' '$tmp/eval.out')\" = \"\$(grep '^dev (' '$tmp/train.out')\" ]"
check "eval prints the per-class report and confusion matrix" \
  "grep -q 'precision' '$tmp/eval.out' && grep -q 'confusion matrix' '$tmp/eval.out' && [ \$(grep -c '^  pos ' '$tmp/eval.out') -eq 4 ]"
check "eval split the training file as training did" "grep -q 'split .* into train/dev/test = 72/12/12' '$tmp/eval.err'"
# eval on a labelled file: its accuracy is that of predict's labels against the file's.
"$bin" eval --config "$tmp/cfg.json" --set model.path="$model" --set data.test="$fixture/sentiment.csv" \
  >"$tmp/eval_file.out" 2>/dev/null
acc_eval=$(grep -o 'test_accuracy [0-9.]*' "$tmp/eval_file.out" | cut -d' ' -f2)
acc_pred=$(paste -d' ' <(sed 1d "$tmp/sentiment.csv" | awk -F, '{print $NF}') \
  <(grep -o '"label": "[a-z]*"' "$tmp/labelled.jsonl" | cut -d'"' -f4) | awk '{ok += $1 == $2} END {printf "%.4f", ok / NR}')
check "eval on a file: 96 examples, accuracy $acc_eval = predict's $acc_pred" \
  "grep -q '^test (96 examples)' '$tmp/eval_file.out' && [ -n '$acc_eval' ] && [ '$acc_eval' = '$acc_pred' ]"
printf 'text,label\nfine film,meh\n' >"$tmp/unknown.csv"
"$bin" eval --config "$tmp/cfg.json" --set model.path="$model" --set data.test="$tmp/unknown.csv" >/dev/null 2>"$tmp/unknown.err"
check "eval: a label the model does not know is an error naming it" "[ $? -eq 1 ] && grep -q \"unknown label 'meh'\" '$tmp/unknown.err'"

# Regression and multi-label exports (a few steps each): their JSON shapes.
sed '1!s/,pos$/,1.5/; 1!s/,neg$/,-0.5/' "$tmp/sentiment.csv" >"$tmp/reg.csv"
"$bin" train --config "$tmp/cfg.json" --set model.problem_type=regression --set data.train="$tmp/reg.csv" \
  --set data.stratified=false --set train.max_steps=4 --set train.output_dir="$tmp/reg" >/dev/null 2>&1
"$bin" predict --model "$tmp/reg/model" --input "$tmp/texts.txt" --quiet >"$tmp/reg.out"
check "regression: {text, value, logits: [value]}" \
  "[ \$(wc -l <'$tmp/reg.out') -eq 96 ] && ! grep -vqE '^\{\"text\": \".*\", \"value\": ([-0-9.e]+), \"logits\": \[\1\]\}$' '$tmp/reg.out'"
sed '1!s/,pos$/,pos|good/' "$tmp/sentiment.csv" >"$tmp/multi.csv"
"$bin" train --config "$tmp/cfg.json" --set model.problem_type=multi_label_classification --set data.train="$tmp/multi.csv" \
  --set data.stratified=false --set train.max_steps=4 --set train.output_dir="$tmp/multi" >/dev/null 2>&1
"$bin" predict --model "$tmp/multi/model" --input "$tmp/texts.txt" --quiet >"$tmp/multi.out"
check "multi-label: {text, labels: [...], probabilities (3), logits (3)}" \
  "[ \$(wc -l <'$tmp/multi.out') -eq 96 ] && ! grep -vqE '^\{\"text\": \".*\", \"labels\": \[(\"(pos|good|neg)\"(, )?)*\], \"probabilities\": \[[^],]*, [^],]*, [^],]*\], \"logits\": \[[^],]*, [^],]*, [^],]*\]\}$' '$tmp/multi.out'"
check "multi-label: a class is listed iff its logit >= 0 (sigmoid >= 0.5)" "awk '
  { match(\$0, /\"labels\": \[[^]]*\]/); listed = substr(\$0, RSTART, RLENGTH); n = gsub(/\"[a-z]+\"/, \"&\", listed) - 1
    match(\$0, /\"logits\": \[[^]]*\]/); s = substr(\$0, RSTART + 11, RLENGTH - 12); k = split(s, l, \", \"); pos = 0
    for (i = 1; i <= k; i++) pos += l[i] >= 0
    if (n != pos) bad = 1 } END { exit bad }' '$tmp/multi.out'"

# Errors and usage.
"$bin" predict --model "$tmp/nowhere" --input "$tmp/texts.txt" >/dev/null 2>"$tmp/e1"
check "missing model dir: exit 1 naming it" "[ $? -eq 1 ] && grep -q nowhere '$tmp/e1'"
"$bin" predict --model "$model" --input "$tmp/missing.csv" >/dev/null 2>"$tmp/e2"
check "missing input: exit 1 naming it" "[ $? -eq 1 ] && grep -q missing.csv '$tmp/e2'"
printf 'sentence,label\na,pos\n' >"$tmp/nocol.csv"
"$bin" predict --model "$model" --input "$tmp/nocol.csv" >/dev/null 2>"$tmp/e3"
check "CSV without the text column: exit 1 naming the column" "[ $? -eq 1 ] && grep -q \"no text column 'text'\" '$tmp/e3'"
"$bin" predict --model "$model" --input "$tmp/nocol.csv" --set data.text_field=sentence --quiet >"$tmp/set.out"
check "--set data.text_field reads it" "[ $? -eq 0 ] && [ \$(wc -l <'$tmp/set.out') -eq 1 ]"
"$bin" predict --model "$model" >/dev/null 2>"$tmp/e4"
check "no --input: usage error 2" "[ $? -eq 2 ] && grep -q -- '--input INPUT is required' '$tmp/e4'"
"$bin" predict --model "$model" --input "$tmp/texts.txt" --batch-size 0 >/dev/null 2>&1
check "bad --batch-size: usage error 2" "[ $? -eq 2 ]"
"$bin" predict --model "$model" --input "$tmp/texts.txt" --bogus >/dev/null 2>&1
check "unknown option: usage error 2" "[ $? -eq 2 ]"
check "predict --help" "'$bin' predict --help | grep -q 'usage: downstream predict'"
check "eval --help" "'$bin' eval --help | grep -q 'usage: downstream eval'"
check "both commands listed" "'$bin' --help | grep -q '^  predict ' && '$bin' --help | grep -q '^  eval '"
"$bin" eval --config "$tmp/cfg.json" --set model.path="$tmp/nowhere" >/dev/null 2>"$tmp/e5"
check "eval, missing model dir: exit 1 naming it" "[ $? -eq 1 ] && grep -q nowhere '$tmp/e5'"
"$bin" eval --config "$tmp/cfg.json" --set model.path="$model" --set data.train= >/dev/null 2>"$tmp/e6"
check "eval without data: exit 1, says what to give" "[ $? -eq 1 ] && grep -q 'nothing to evaluate' '$tmp/e6'"
[ $fail -eq 0 ] || { echo "--- train.err"; tail -5 "$tmp/train.err"; echo "--- eval.err"; tail -5 "$tmp/eval.err"; }
exit $fail
