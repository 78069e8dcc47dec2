// WER and CER (runtime/metrics/metrics_wer.h) against jiwer 4.0 (scripts/fixtures/audio_data.py):
// ~220 reference/hypothesis pairs (random edits, tabs, newlines, runs of spaces, no-break and
// ideographic spaces, empty sides, non-ASCII), each utterance's word and character distance and
// reference length as jiwer's process_words / process_characters count them, the corpus rates of
// jiwer.wer / jiwer.cer on all of them, and jiwer's answer for a corpus of empty references.
// The sums are also checked to add up across "ranks" through the metric buffer.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/metrics/metrics_wer.h"
#include "../test_util.h"

static int64_t item(const cJSON *o, const char *k) { return (int64_t)cJSON_GetObjectItem(o, k)->valuedouble; }

int main(void) {
    ds_test t = ds_test_begin("wer");
    char path[512];
    char *text = ds_test_read_file(ds_test_fixture("audio/wer.json", path, sizeof path), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!ds_test_check(&t, j != NULL, "%s: cannot read", path)) return ds_test_finish(&t);
    ds_wer_counts all, even, odd;
    ds_wer_counts_reset(&all);
    ds_wer_counts_reset(&even);
    ds_wer_counts_reset(&odd);
    ds_err err = {0};
    int n = 0;
    for (const cJSON *p = cJSON_GetObjectItem(j, "pairs")->child; p; p = p->next, n++) {
        const char *ref = cJSON_GetObjectItem(p, "ref")->valuestring, *hyp = cJSON_GetObjectItem(p, "hyp")->valuestring;
        int64_t we = -1, wn = -1, ce = -1, cn = -1;
        ds_test_check(&t, ds_wer_distance(ref, hyp, &we, &wn, &err) == DS_OK, "%s", err.msg);
        ds_test_check(&t, ds_cer_distance(ref, hyp, &ce, &cn, &err) == DS_OK, "%s", err.msg);
        ds_test_check(&t, we == item(p, "word_errors") && wn == item(p, "ref_words"),
                      "pair %d \"%s\" / \"%s\": %lld word errors of %lld, jiwer %lld of %lld", n, ref, hyp, (long long)we,
                      (long long)wn, (long long)item(p, "word_errors"), (long long)item(p, "ref_words"));
        ds_test_check(&t, ce == item(p, "char_errors") && cn == item(p, "ref_chars"),
                      "pair %d \"%s\" / \"%s\": %lld char errors of %lld, jiwer %lld of %lld", n, ref, hyp, (long long)ce,
                      (long long)cn, (long long)item(p, "char_errors"), (long long)item(p, "ref_chars"));
        ds_test_check(&t, ds_wer_counts_add(&all, ref, hyp, &err) == DS_OK, "%s", err.msg);
        ds_test_check(&t, ds_wer_counts_add(n % 2 ? &odd : &even, ref, hyp, &err) == DS_OK, "%s", err.msg);
    }
    ds_test_check(&t, n > 200, "%d pairs in the fixture", n);
    // Corpus level: the sums' ratio equals jiwer's over the whole list. Both divide the same two
    // integers in double: equal to the last bit (1e-15 relative allows for a different but
    // correctly rounded division path).
    ds_wer_report r;
    ds_wer_report_compute(&all, &r);
    const cJSON *corpus = cJSON_GetObjectItem(j, "corpus");
    const double jw = cJSON_GetObjectItem(corpus, "wer")->valuedouble, jc = cJSON_GetObjectItem(corpus, "cer")->valuedouble;
    ds_test_check(&t, fabs(r.wer - jw) <= 1e-15 * jw && fabs(r.cer - jc) <= 1e-15 * jc,
                  "corpus WER %.17g (jiwer %.17g), CER %.17g (jiwer %.17g)", r.wer, jw, r.cer, jc);
    printf("  %d pairs: WER %.6f (jiwer %.6f), CER %.6f (jiwer %.6f)\n", n, r.wer, jw, r.cer, jc);
    // Two "ranks" summed through the buffer (what the all-reduce does) give the same report.
    ds_test_check(&t, ds_metric_buffer_add(ds_wer_counts_buffer(&even), ds_wer_counts_buffer(&odd), &err) == DS_OK,
                  "%s", err.msg);
    ds_wer_report r2;
    ds_wer_report_compute(&even, &r2);
    ds_test_check(&t, r2.wer == r.wer && r2.cer == r.cer && r2.utterances == n && r2.ref_words == r.ref_words,
                  "sums over two shards: WER %g vs %g", r2.wer, r.wer);
    ds_metric_value v[2];
    ds_test_check(&t, ds_wer_report_values(&r, "eval_", v) == 2 && strcmp(v[0].name, "eval_wer") == 0 &&
                          strcmp(v[1].name, "eval_cer") == 0 && v[0].value == r.wer,
                  "report values");
    // A corpus without reference words: jiwer returns the insertion count, not a ratio.
    const cJSON *e = cJSON_GetObjectItem(j, "empty_corpus");
    ds_wer_counts ec;
    ds_wer_counts_reset(&ec);
    const cJSON *refs = cJSON_GetObjectItem(e, "refs"), *hyps = cJSON_GetObjectItem(e, "hyps");
    for (int i = 0; i < cJSON_GetArraySize(refs); i++)
        ds_wer_counts_add(&ec, cJSON_GetArrayItem(refs, i)->valuestring, cJSON_GetArrayItem(hyps, i)->valuestring, &err);
    ds_wer_report_compute(&ec, &r);
    ds_test_check(&t, r.wer == cJSON_GetObjectItem(e, "wer")->valuedouble &&
                          r.cer == cJSON_GetObjectItem(e, "cer")->valuedouble,
                  "empty references: WER %g (jiwer %g), CER %g (jiwer %g)", r.wer,
                  cJSON_GetObjectItem(e, "wer")->valuedouble, r.cer, cJSON_GetObjectItem(e, "cer")->valuedouble);
    int64_t we = 0, wn = 0;
    ds_test_check(&t, ds_wer_distance("a\xFF", "a", &we, &wn, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "UTF-8"),
                  "invalid UTF-8: %s", err.msg);
    cJSON_Delete(j);
    return ds_test_finish(&t);
}
