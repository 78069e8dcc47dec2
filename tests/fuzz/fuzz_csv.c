// Fuzz target: the CSV/TSV reader (data/common/csv.h) and the JSON Lines reader
// (data/common/jsonl.h), record by record. The first input byte picks the reader: 0 CSV, 1 TSV,
// 2 TSV without quoting, 3 JSON Lines; the rest is the file. Every field is read to its end.
// Seeds: tests/fixtures/textdata.
#include "../../data/common/csv.h"
#include "../../data/common/jsonl.h"
#include "fuzz_util.h"

static void read_csv(const char *text, size_t n, int mode) {
    ds_csv_options opt = mode == 0 ? ds_csv_options_csv() : ds_csv_options_tsv();
    if (mode == 2) opt.quote = 0;
    ds_csv_reader r;
    ds_err err = {0};
    if (ds_csv_open_memory(&r, text, n, "fuzz.csv", &opt, &err) != DS_OK) return;
    volatile unsigned sink = 0;
    for (;;) {
        ds_csv_record rec;
        int got = 0;
        if (ds_csv_next(&r, &rec, &got, &err) != DS_OK || !got) break;
        for (size_t i = 0; i < rec.count; i++)
            for (size_t k = 0; k <= rec.lengths[i]; k++) sink += (unsigned char)rec.fields[i][k];  // NUL included
    }
    (void)sink;
    ds_csv_close(&r);
}

static void read_jsonl(const char *text, size_t n) {
    ds_jsonl_reader r;
    ds_err err = {0};
    if (ds_jsonl_open_memory(&r, text, n, "fuzz.jsonl", &err) != DS_OK) return;
    for (;;) {
        const cJSON *obj = NULL;
        long line = 0;
        int got = 0;
        if (ds_jsonl_next(&r, &obj, &line, &got, &err) != DS_OK || !got) break;
    }
    ds_jsonl_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 4;
    if (mode == 3)
        read_jsonl((const char *)data + 1, size - 1);
    else
        read_csv((const char *)data + 1, size - 1, mode);
    return 0;
}
