// The speech family's datasets from the data.* keys: manifests data.train, data.dev, data.test
// (with neither dev nor test, the dev and test parts of data.train as data.split cuts it, by the
// run's seed), the recipe's duration filter, the transcript normalisation and the labels.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../data/common/dataset_split.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "speech_internal.h"

static const char *const k_split_names[DS_DATA_SPLITS] = {"train", "dev", "test"};


size_t ds_speech_data_example(const speech_data *d, ds_data_split k, size_t i) {
    return d->index[k] ? d->index[k][i] : i;
}

int ds_speech_data_sources(const speech_data *d, const ds_speech_dataset **out) {
    int n = 0;
    for (int k = 0; k < DS_DATA_SPLITS; k++)
        if (d->open[k]) out[n++] = &d->sets[k];
    return n;
}

static ds_status fill_lengths(speech_data *d, ds_err *err) {
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        if (d->n[k] == 0) continue;
        d->lengths[k] = malloc(d->n[k] * sizeof(int32_t));
        DS_REQUIRE(err, d->lengths[k] != NULL, DS_ERR_OOM, "speech data: out of memory");
        for (size_t i = 0; i < d->n[k]; i++) {
            const int64_t len = d->src[k]->utts[ds_speech_data_example(d, (ds_data_split)k, i)].length;
            d->lengths[k][i] = (int32_t)(len > INT32_MAX ? INT32_MAX : len);
        }
    }
    return DS_OK;
}

ds_status ds_speech_data_open(const ds_config *cfg, const ds_log *log, bool need_train, uint64_t seed,
                              int target_rate, speech_data *d, ds_err *err) {
    memset(d, 0, sizeof *d);
    ds_status st = DS_OK;
    const char *ignore = ds_config_str(cfg, "data.chars_to_ignore");
    if (ignore[0]) {
        st = ds_char_class_compile(ignore, &d->ignore, err);
        d->has_ignore = st == DS_OK;
    }
    if (st != DS_OK) return st;
    d->norm = strcmp(ds_config_str(cfg, "data.text_norm"), "none") == 0
                  ? ds_ctc_text_norm_none()
                  : ds_ctc_text_norm_recipe(d->has_ignore ? &d->ignore : NULL);
    d->oov = strcmp(ds_config_str(cfg, "data.oov"), "unk") == 0 ? DS_CTC_OOV_UNK : DS_CTC_OOV_ERROR;

    ds_speech_dataset_options o = ds_speech_dataset_default_options();
    o.audio_column = ds_config_str(cfg, "data.audio_field");
    o.text_column = ds_config_str(cfg, "data.text_field");
    o.target_rate = target_rate;
    o.max_seconds = ds_config_float(cfg, "data.max_seconds");
    o.min_seconds = ds_config_float(cfg, "data.min_seconds");
    const char *lists[DS_DATA_SPLITS] = {ds_config_str(cfg, "data.train"), ds_config_str(cfg, "data.dev"),
                                         ds_config_str(cfg, "data.test")};
    const bool split = !lists[1][0] && !lists[2][0];
    if ((need_train || split) && !lists[0][0])
        st = ds_err_set(err, DS_ERR_CONFIG, "data.train is empty: give a manifest (CSV/TSV/JSONL of audio,text)%s",
                        need_train ? "" : ", or data.dev / data.test to evaluate on");
    for (int k = 0; k < DS_DATA_SPLITS && st == DS_OK; k++) {
        if (!lists[k][0] || (k == DS_DATA_TRAIN && !need_train && !split) || (k > 0 && split)) continue;
        st = ds_speech_dataset_load(lists[k], &o, &d->sets[k], err);
        if (st != DS_OK) break;
        d->open[k] = true;
        d->src[k] = &d->sets[k];
        d->n[k] = d->sets[k].count;
        char line[512];
        DS_LOG_INFO(log, "%s: %s", k_split_names[k], ds_speech_dataset_summary(&d->sets[k], line, sizeof line));
        if (d->sets[k].count > 0 && !d->sets[k].has_labels)
            st = ds_err_set(err, DS_ERR_CONFIG, "%s has no transcript column '%s' (data.text_field)", lists[k],
                            o.text_column);
    }
    if (st == DS_OK && split) {
        ds_split_options so = ds_split_default_options();
        so.seed = seed;
        st = ds_split_parse_fractions("data.split", ds_config_str(cfg, "data.split"), &so, err);
        ds_split sp;
        memset(&sp, 0, sizeof sp);
        if (st == DS_OK) st = ds_split_make(d->sets[0].count, NULL, 0, &so, &sp, err);
        if (st == DS_OK) {
            ds_split_take_parts(&sp, d->index, d->n);  // d owns the parts now
            for (int k = 0; k < DS_DATA_SPLITS; k++) d->src[k] = &d->sets[0];
            DS_LOG_INFO(log, "split %s by seed %llu into train/dev/test = %zu/%zu/%zu (data.split)", lists[0],
                        (unsigned long long)so.seed, d->n[0], d->n[1], d->n[2]);
        }
        ds_split_free(&sp);
        if (st == DS_OK && !need_train) d->n[DS_DATA_TRAIN] = 0;
    }
    if (st == DS_OK) st = fill_lengths(d, err);
    if (st != DS_OK) ds_speech_data_free(d);
    return st;
}

ds_status ds_speech_data_encode(speech_data *d, const ds_ctc_tokenizer *tok, ds_err *err) {
    for (int k = 0; k < DS_DATA_SPLITS; k++)
        if (d->open[k]) DS_TRY(ds_speech_dataset_encode_labels(&d->sets[k], tok, &d->norm, d->oov, err));
    return DS_OK;
}

void ds_speech_data_free(speech_data *d) {
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        if (d->open[k]) ds_speech_dataset_free(&d->sets[k]);
        free(d->index[k]);
        free(d->lengths[k]);
    }
    if (d->has_ignore) ds_char_class_free(&d->ignore);
    memset(d, 0, sizeof *d);
}
