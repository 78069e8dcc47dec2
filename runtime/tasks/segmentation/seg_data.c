// The segmentation family's datasets from the data.* keys: a PASCAL-VOC tree (data.voc_root and
// split names) or list files (data.train, data.dev, data.test; with neither dev nor test, the dev
// and test parts of data.train as data.split cuts it, by the run's seed), the classes
// (data.class_names / data.num_classes), the class weights and the transforms.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../../data/common/dataset_split.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "seg_internal.h"

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

// Splits "a, b,c" at commas into a label map (names trimmed); `what` names the key.
static ds_status names_from_list(const char *text, const char *what, ds_label_map *names, ds_err *err) {
    char *copy = strdup(text);
    int32_t n = 1;
    for (const char *p = text; *p; p++) n += *p == ',';
    const char **list = calloc((size_t)n, sizeof *list);
    ds_status st = copy && list ? DS_OK : ds_err_set(err, DS_ERR_OOM, "%s: out of memory", what);
    int32_t k = 0;
    for (char *s = copy, *tok; st == DS_OK && (tok = strsep(&s, ",")) != NULL;) {
        while (*tok == ' ' || *tok == '\t') tok++;
        size_t len = strlen(tok);
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t')) tok[--len] = '\0';
        if (!*tok) st = ds_err_set(err, DS_ERR_CONFIG, "%s: an empty name in '%s'", what, text);
        else list[k++] = tok;
    }
    if (st == DS_OK) st = ds_label_map_from_names(names, list, k, what, err);
    free(list);
    free(copy);
    return st;
}

ds_status ds_seg_class_names(const ds_config *cfg, ds_label_map *names, ds_err *err) {
    ds_label_map_init(names);
    const char *given = ds_config_str(cfg, "data.class_names");
    if (given[0]) {
        if (strchr(given, ',')) return names_from_list(given, "data.class_names", names, err);
        if (is_file(given)) return ds_seg_read_class_names(given, names, err);
        return ds_err_set(err, DS_ERR_CONFIG,
                          "data.class_names '%s' is neither a file nor a comma-separated list of names", given);
    }
    const char *root = ds_config_str(cfg, "data.voc_root");
    if (root[0]) {
        char path[4200];
        snprintf(path, sizeof path, "%s/class_names.txt", root);
        if (is_file(path)) return ds_seg_read_class_names(path, names, err);
    }
    return DS_OK;
}

// data.class_weights: K finite non-negative numbers.
static ds_status class_weights(const ds_config *cfg, int32_t K, float **out, ds_err *err) {
    *out = NULL;
    const char *text = ds_config_str(cfg, "data.class_weights");
    if (!text[0]) return DS_OK;
    float *w = calloc((size_t)K, sizeof *w);
    DS_REQUIRE(err, w != NULL, DS_ERR_OOM, "data.class_weights: out of memory");
    const char *p = text;
    int32_t k = 0;
    ds_status st = DS_OK;
    while (st == DS_OK) {
        char *end = NULL;
        errno = 0;
        const double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || v < 0) {
            st = ds_err_set(err, DS_ERR_CONFIG, "data.class_weights: '%s' is not a list of non-negative numbers", text);
            break;
        }
        if (k >= K) {
            st = ds_err_set(err, DS_ERR_CONFIG, "data.class_weights has more than the %d classes' weights", (int)K);
            break;
        }
        w[k++] = (float)v;
        while (*end == ' ') end++;
        if (*end == '\0') break;
        if (*end != ',') {
            st = ds_err_set(err, DS_ERR_CONFIG, "data.class_weights: '%s' is not a comma-separated list", text);
            break;
        }
        p = end + 1;
    }
    if (st == DS_OK && k != K)
        st = ds_err_set(err, DS_ERR_CONFIG, "data.class_weights has %d weights for %d classes", (int)k, (int)K);
    if (st != DS_OK) {
        free(w);
        return st;
    }
    *out = w;
    return DS_OK;
}


static const char *const k_split_names[DS_DATA_SPLITS] = {"train", "dev", "test"};

// The classes: K and names from data.* (training) or the model's (eval), checked against each other.
static ds_status resolve_classes(const ds_config *cfg, const seg_data_model *model, seg_data *d, ds_err *err) {
    ds_label_map given;
    DS_TRY(ds_seg_class_names(cfg, &given, err));
    int32_t K = (int32_t)ds_config_int(cfg, "data.num_classes");
    ds_status st = DS_OK;
    if (K > 0 && given.count > 0 && K != given.count)
        st = ds_err_set(err, DS_ERR_CONFIG, "data.num_classes is %d but data.class_names names %d classes", (int)K,
                        (int)given.count);
    if (K == 0) K = given.count;
    if (st == DS_OK && model) {
        // The model decides; the data's own settings must not contradict it.
        if (K > 0 && K != model->num_classes)
            st = ds_err_set(err, DS_ERR_CONFIG, "the model has %d classes but the data config says %d (data.num_classes / "
                            "data.class_names)", (int)model->num_classes, (int)K);
        K = model->num_classes;
        if (st == DS_OK && model->names && model->names->count == K) {
            ds_label_map_free(&given);
            st = ds_label_map_copy(&given, model->names, err);
        }
    }
    if (st == DS_OK && K <= 0)
        st = ds_err_set(err, DS_ERR_CONFIG,
                        "how many classes do the masks hold? set data.num_classes or data.class_names (a VOC root's "
                        "class_names.txt is read when present)");
    if (st == DS_OK && K > DS_SEG_MAX_CLASSES)
        st = ds_err_set(err, DS_ERR_CONFIG, "%d classes: masks hold ids 0..254 (255 is the ignore label)", (int)K);
    if (st == DS_OK && given.count == 0) {  // unnamed: class_0, class_1, ...
        char **names = calloc((size_t)K, sizeof *names);
        st = names ? DS_OK : ds_err_set(err, DS_ERR_OOM, "class names: out of memory");
        for (int32_t k = 0; st == DS_OK && k < K; k++) {
            names[k] = malloc(24);
            if (!names[k]) st = ds_err_set(err, DS_ERR_OOM, "class names: out of memory");
            else snprintf(names[k], 24, "class_%d", (int)k);
        }
        if (st == DS_OK) st = ds_label_map_from_names(&given, (const char *const *)names, K, "class names", err);
        for (int32_t k = 0; names && k < K; k++) free(names[k]);
        free(names);
    }
    if (st != DS_OK) {
        ds_label_map_free(&given);
        return st;
    }
    d->classes = given;
    d->num_classes = K;
    return DS_OK;
}

static ds_status open_split(const ds_config *cfg, ds_data_split k, const char *source, const ds_seg_dataset_options *o,
                            seg_data *d, ds_err *err) {
    const char *root = ds_config_str(cfg, "data.voc_root");
    const ds_status st = root[0] ? ds_seg_dataset_open_voc(root, source, o, &d->sets[k], err)
                                 : ds_seg_dataset_open_list(source, o, &d->sets[k], err);
    DS_TRY(st);
    d->open[k] = true;
    d->src[k] = &d->sets[k];
    d->n[k] = d->sets[k].count;
    return DS_OK;
}

ds_status ds_seg_data_open(const ds_config *cfg, const ds_log *log, bool need_train, uint64_t seed,
                           const seg_data_model *model, seg_data *d, ds_err *err) {
    memset(d, 0, sizeof *d);
    ds_label_map_init(&d->classes);
    ds_status st = ds_seg_transform_from_config(cfg, &d->tf, err);
    if (st == DS_OK && model && model->tf) d->tf = *model->tf;
    if (st == DS_OK) st = resolve_classes(cfg, model, d, err);
    if (st == DS_OK) st = class_weights(cfg, d->num_classes, &d->class_weights, err);
    if (st != DS_OK) {
        ds_seg_data_free(d);
        return st;
    }
    ds_seg_dataset_options o = ds_seg_dataset_default_options();
    o.class_names = (const char *const *)d->classes.names;
    o.num_classes = d->num_classes;
    o.image_field = ds_config_str(cfg, "data.image_field");
    o.mask_field = ds_config_str(cfg, "data.mask_field");
    o.has_header = ds_config_bool(cfg, "data.header");

    const char *root = ds_config_str(cfg, "data.voc_root");
    const char *lists[DS_DATA_SPLITS] = {ds_config_str(cfg, "data.train"), ds_config_str(cfg, "data.dev"),
                                         ds_config_str(cfg, "data.test")};
    const char *sources[DS_DATA_SPLITS];
    if (root[0]) {
        for (int k = 0; k < DS_DATA_SPLITS && st == DS_OK; k++)
            if (lists[k][0])
                st = ds_err_set(err, DS_ERR_CONFIG, "data.voc_root and data.%s are two layouts: give one (VOC splits are "
                                "named by data.%s_split)", k_split_names[k], k_split_names[k]);
        sources[0] = ds_config_str(cfg, "data.train_split");
        sources[1] = ds_config_str(cfg, "data.dev_split");
        sources[2] = ds_config_str(cfg, "data.test_split");
    } else {
        for (int k = 0; k < DS_DATA_SPLITS; k++) sources[k] = lists[k];
    }
    // data.split: list files only, when neither dev nor test is given (as the text family).
    const bool split = !root[0] && !lists[1][0] && !lists[2][0];
    if (st == DS_OK && (need_train || split) && !sources[0][0])
        st = ds_err_set(err, DS_ERR_CONFIG, "%s", root[0] ? "data.train_split is empty: name the VOC training split"
                                                            : "data.train is empty: give a list file of image,mask "
                                                              "pairs, or data.voc_root");
    if (st == DS_OK && (need_train || split)) st = open_split(cfg, DS_DATA_TRAIN, sources[0], &o, d, err);
    for (int k = 1; k < DS_DATA_SPLITS && st == DS_OK && !split; k++)
        if (sources[k][0]) st = open_split(cfg, (ds_data_split)k, sources[k], &o, d, err);
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
            d->split_from_train = true;
            DS_LOG_INFO(log, "split %s by seed %llu into train/dev/test = %zu/%zu/%zu (data.split)", lists[0],
                        (unsigned long long)so.seed, d->n[0], d->n[1], d->n[2]);
        }
        ds_split_free(&sp);
    }
    // Evaluation slots hold the largest evaluation size of dev and test.
    for (int k = 1; k < DS_DATA_SPLITS && st == DS_OK; k++) {
        if (d->n[k] == 0) continue;
        int32_t h = 0, w = 0;
        st = ds_seg_dataset_eval_extent(d->src[k], d->tf.base_size, &h, &w, err);
        if (h > d->eval_h) d->eval_h = h;
        if (w > d->eval_w) d->eval_w = w;
    }
    if (st != DS_OK) {
        ds_seg_data_free(d);
        return st;
    }
    for (int k = 0; k < DS_DATA_SPLITS; k++)
        if (d->n[k] > 0 && (k != DS_DATA_TRAIN || need_train))
            DS_LOG_INFO(log, "%s: %zu examples from %s", k_split_names[k], d->n[k], d->src[k]->source);
    DS_LOG_INFO(log, "segmentation data: %d classes (%s%s), base size %d, crop %d, flip %g%s", (int)d->num_classes,
                d->classes.count > 0 ? d->classes.names[0] : "", d->classes.count > 1 ? ", ..." : "",
                (int)d->tf.base_size, (int)d->tf.crop_size, (double)d->tf.hflip_prob,
                d->class_weights ? ", class weights" : "");
    return DS_OK;
}

void ds_seg_data_free(seg_data *d) {
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        if (d->open[k]) ds_seg_dataset_free(&d->sets[k]);
        free(d->index[k]);
    }
    ds_label_map_free(&d->classes);
    free(d->class_weights);
    memset(d, 0, sizeof *d);
}

size_t ds_seg_data_example(const seg_data *d, ds_data_split k, size_t i) { return d->index[k] ? d->index[k][i] : i; }
