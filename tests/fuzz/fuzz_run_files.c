// Fuzz target: the files a run folder holds, as downstream reads them back: `downstream report`
// (runtime/report/report.h: metrics.jsonl, config.json, eval_dev.json, eval_test.json,
// samples.jsonl -> an HTML page with SVG charts, tables and a confusion-matrix heat map) and the
// metrics log a resumed run keeps up to its step (runtime/train/metrics_log.h; a crash can tear
// its last line). The first input byte picks the reader: even, the report over the parts that
// follow, split at NUL bytes, in the order above (an empty part: no such file); odd, the
// metrics log reopened at step byte / 2 over the rest. (No TensorBoard reader exists: event files
// are only written.) Seeds: a run folder's files from tests/fixtures.
#include <stdio.h>

#include "../../runtime/report/report.h"
#include "../../runtime/train/metrics_log.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char dir[512], path[1024], out[1024];
    if (fuzz_dir_make(dir, sizeof dir, "run_files") != 0) return 0;
    ds_err err = {0};
    if (data[0] % 2 == 1) {
        if (fuzz_write(dir, "metrics.jsonl", data + 1, size - 1, path, sizeof path) == 0) {
            ds_metrics_log l;
            if (ds_metrics_log_open(&l, path, data[0] / 2, &err) == DS_OK) ds_metrics_log_close(&l);
        }
    } else {
        static const char *const names[5] = {"metrics.jsonl", "config.json", "eval_dev.json", "eval_test.json",
                                             "samples.jsonl"};
        const uint8_t *part[5];
        size_t len[5] = {0};
        const int n = fuzz_split(data + 1, size - 1, part, len, 5);
        int ok = 1;
        for (int i = 0; i < n && ok; i++)
            if (len[i] > 0) ok = fuzz_write(dir, names[i], part[i], len[i], path, sizeof path) == 0;
        if (ok && (size_t)snprintf(out, sizeof out, "%s/report.html", dir) < sizeof out)
            fuzz_note(ds_report_write(dir, out, &err), &err);
    }
    fuzz_dir_remove(dir);
    return 0;
}
