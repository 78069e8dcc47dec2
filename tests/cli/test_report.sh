#!/usr/bin/env bash
# `downstream report` on a real short run (the tiny BERT, 10 steps, TensorBoard on), checked in a
# real headless Chromium: the DOM it builds (chart paths with their points, the heat map's cells
# summing to the test set, sample rows, nothing external) and a screenshot (size, not blank, the
# curves' colour) - tests/cli/check_report_page.py. Chromium is installed here when missing (it is
# large, so scripts/setup_deps.sh leaves it to this test); exit 77 (skipped) when it cannot be.
source "$(dirname "$0")/lib.sh"
bin=$(realpath "$bin"); src=$(realpath "$src")

write_tiny_train_config "$tmp/cfg.json"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/run" --set train.tensorboard=true \
  >"$tmp/train.out" 2>"$tmp/train.err"
check "the run exits 0" "[ $? -eq 0 ]"
check "it left config.json, eval_dev.json, eval_test.json, samples.jsonl and a tfevents file" \
  "[ -s '$tmp/run/config.json' ] && [ -s '$tmp/run/eval_dev.json' ] && [ -s '$tmp/run/eval_test.json' ] && [ -s '$tmp/run/samples.jsonl' ] && ls '$tmp/run'/events.out.tfevents.* >/dev/null"
out=$("$bin" report "$tmp/run")
check "report writes RUN_DIR/report.html and prints its path" "[ $? -eq 0 ] && [ '$out' = '$tmp/run/report.html' ] && [ -s '$tmp/run/report.html' ]"
"$bin" report "$tmp/run" --output "$tmp/elsewhere.html" >/dev/null
check "--output" "[ -s '$tmp/elsewhere.html' ]"
"$bin" report "$tmp/nope" >/dev/null 2>"$tmp/nope.err"
check "a directory without metrics.jsonl: exit 1, named" "[ $? -eq 1 ] && grep -q 'nope/metrics.jsonl' '$tmp/nope.err'"
check "self-contained: no script, no stylesheet link, no remote URL" \
  "! grep -qiE '<script|<link|src=\"http|href=\"http' '$tmp/run/report.html'"

command -v python3 >/dev/null || { echo "skipped: the browser checks need python3"; exit $([ $fail = 0 ] && echo 77 || echo 1); }
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium for the browser checks (Debian package)"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium) \
    >"$tmp/apt.log" 2>&1 || tail -5 "$tmp/apt.log"
  browser=$(command -v chromium || true)
fi
if [ -z "$browser" ]; then
  echo "skipped: no chromium (apt-get install chromium) for the browser checks"
  exit $([ $fail = 0 ] && echo 77 || echo 1)
fi
run_browser() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
    --user-data-dir="$tmp/profile" "$@" "file://$tmp/run/report.html" 2>>"$tmp/browser.err"
}
run_browser --dump-dom >"$tmp/dom.html"
examples=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['examples'])" "$tmp/run/eval_test.json")
python3 "$src/tests/cli/check_report_page.py" dom "$tmp/dom.html" "$examples" >"$tmp/dom.check"
rc=$?
check "Chromium's DOM: curves with their points, the heat map, samples, nothing external ($(head -c 300 "$tmp/dom.check" | tr '\n' ' '))" "[ $rc -eq 0 ]"
run_browser --window-size=1280,2400 --screenshot="$tmp/shot.png" >/dev/null
python3 "$src/tests/cli/check_report_page.py" png "$tmp/shot.png" 1280 2400 >"$tmp/png.check"
rc=$?
check "Chromium's screenshot: 1280 x 2400, not blank, the curves drawn ($(head -1 "$tmp/png.check"))" "[ $rc -eq 0 ]"
exit $fail
