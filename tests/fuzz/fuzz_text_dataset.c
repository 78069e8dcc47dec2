// Fuzz target: text-classification datasets (data/text/text_dataset.h) from CSV, TSV, JSON Lines
// and plain lines, with labels, pairs, multi-label cells and regression values. The first input
// byte picks the options (bits 0-1 format, 2-3 problem type, 4 header, 5 pair field, 6 skip bad
// rows, 7 unlabelled); the rest is the file. Every example's texts and labels are read back.
// Seeds: tests/fixtures/textdata.
#include <string.h>

#include "../../data/text/text_dataset.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const uint8_t m = data[0];
    static const ds_text_format formats[4] = {DS_TEXT_FORMAT_CSV, DS_TEXT_FORMAT_TSV, DS_TEXT_FORMAT_JSONL,
                                              DS_TEXT_FORMAT_LINES};
    static const ds_problem_type problems[4] = {DS_PROBLEM_SINGLE_LABEL, DS_PROBLEM_MULTI_LABEL, DS_PROBLEM_REGRESSION,
                                                DS_PROBLEM_SINGLE_LABEL};
    ds_text_dataset_options opt = ds_text_dataset_default_options();
    opt.format = formats[m & 3];
    opt.problem_type = problems[(m >> 2) & 3];
    opt.has_header = !(m & 16);
    if (m & 32) opt.text_pair_field = opt.has_header || opt.format == DS_TEXT_FORMAT_JSONL ? "text_b" : "2";
    if (!opt.has_header && opt.format != DS_TEXT_FORMAT_JSONL) {
        opt.text_field = "0";
        opt.label_field = "1";
    }
    opt.skip_bad_rows = (m & 64) != 0;
    opt.unlabeled = (m & 128) != 0 || opt.format == DS_TEXT_FORMAT_LINES;
    ds_text_dataset d;
    ds_err err = {0};
    if (ds_text_dataset_load_memory((const char *)data + 1, size - 1, "fuzz.data", &opt, &d, &err) == DS_OK) {
        volatile size_t sink = 0;
        for (size_t i = 0; i < d.count; i++) {
            sink += strlen(ds_text_dataset_text(&d, i));
            const char *pair = ds_text_dataset_text_pair(&d, i);
            if (pair) sink += strlen(pair);
            sink += (size_t)ds_text_dataset_label(&d, i);
            for (uint32_t k = 0; k < d.examples[i].label_count; k++) sink += (size_t)d.label_ids[d.examples[i].labels + k];
        }
        (void)sink;
    }
    ds_text_dataset_free(&d);
    return 0;
}
