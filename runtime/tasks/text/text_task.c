#include "text_task.h"

#include <stdlib.h>
#include <string.h>

#include "../../../data/common/dataset_split.h"
#include "../../base/check.h"

ds_status ds_text_task_dataset_options(const ds_config *cfg, ds_text_dataset_options *o, ds_err *err) {
    *o = ds_text_dataset_default_options();
    DS_TRY(ds_text_format_parse(ds_config_str(cfg, "data.format"), &o->format, err));
    DS_TRY(ds_problem_type_parse(ds_config_str(cfg, "model.problem_type"), &o->problem_type, err));
    o->has_header = ds_config_bool(cfg, "data.header");
    o->text_field = ds_config_str(cfg, "data.text_field");
    const char *pair = ds_config_str(cfg, "data.text_pair_field");
    o->text_pair_field = pair[0] ? pair : NULL;
    o->label_field = ds_config_str(cfg, "data.label_field");
    o->label_separator = ds_config_str(cfg, "data.label_separator");
    o->skip_bad_rows = ds_config_bool(cfg, "data.skip_bad_rows");
    return DS_OK;
}

// Splits "a,b,c" into names (pointing into a heap copy `*store`).
static ds_status split_list(const char *text, char **store, const char ***names, int32_t *count, ds_err *err) {
    *store = strdup(text);
    int32_t n = 1;
    for (const char *p = text; *p; p++) n += *p == ',';
    *names = calloc((size_t)n, sizeof **names);
    if (!*store || !*names) return ds_err_set(err, DS_ERR_OOM, "data.labels: out of memory");
    int32_t k = 0;
    for (char *s = *store, *tok; (tok = strsep(&s, ",")) != NULL;) {
        while (*tok == ' ') tok++;
        if (!*tok) return ds_err_set(err, DS_ERR_CONFIG, "data.labels: empty label in '%s'", text);
        (*names)[k++] = tok;
    }
    *count = k;
    return DS_OK;
}


static void log_set(const ds_log *log, const char *what, const ds_text_dataset *d, const ds_text_examples *e) {
    char skip[1400];
    ds_text_dataset_skip_summary(d, skip, sizeof skip);
    DS_LOG_INFO(log, "%s: %zu examples from %s%s%s", what, e->n, d->source, skip[0] ? "; " : "", skip);
    if (e->truncated)
        DS_LOG_INFO(log, "%s: %lld examples truncated to model.max_length = %lld tokens", what, (long long)e->truncated,
                    (long long)e->max_length);
}

// need_train: train (data.train required, tokenized). Otherwise eval: data.dev and data.test,
// or, when neither is given, the dev/test parts of data.train split as training splits it.
// model (eval only, may be NULL): the classes and problem type of the model being evaluated.
static ds_status load_task(const ds_config *cfg, const ds_log *log, bool need_train, uint64_t seed, const ds_text_task_model *model,
                           const char *model_dir, ds_text_task *t, ds_err *err) {
    memset(t, 0, sizeof *t);
    ds_label_map_init(&t->labels);
    const char *model_path = model_dir ? model_dir : ds_config_str(cfg, "model.path");
    if (!model_path[0])
        return ds_err_set(err, DS_ERR_CONFIG, "model.path is empty: give a Hugging Face BERT directory "
                                              "(config.json, model.safetensors, vocab.txt or tokenizer.json)");
    DS_TRY(ds_wp_tokenizer_load(model_path, &t->tok, err));
    ds_text_dataset_options opt;
    DS_TRY(ds_text_task_dataset_options(cfg, &opt, err));
    if (model) opt.problem_type = model->problem_type;  // the model's, whatever model.problem_type says
    t->problem_type = opt.problem_type;
    const int64_t max_len = ds_config_int(cfg, "model.max_length");

    char *label_store = NULL;
    const char **label_names = NULL;
    int32_t nlabels = 0;
    ds_status st = DS_OK;
    const char *explicit_labels = ds_config_str(cfg, "data.labels");
    if (model && model->labels && model->labels->count && t->problem_type != DS_PROBLEM_REGRESSION) {
        // The model's classes, in its id order: the data's labels map to the ids it was trained with.
        opt.label_names = (const char *const *)model->labels->names, opt.num_label_names = model->labels->count;
        nlabels = model->labels->count;
    } else if (explicit_labels[0]) {
        if ((st = split_list(explicit_labels, &label_store, &label_names, &nlabels, err)) != DS_OK) goto done;
        opt.label_names = label_names, opt.num_label_names = nlabels;
    }

    const char *train_path = ds_config_str(cfg, "data.train");
    const char *dev_path = ds_config_str(cfg, "data.dev"), *test_path = ds_config_str(cfg, "data.test");
    const bool split = !dev_path[0] && !test_path[0];
    if (need_train || split) {
        if (!train_path[0]) {
            if (need_train)
                st = ds_err_set(err, DS_ERR_CONFIG, "data.train is empty: give the training file (CSV, TSV or JSONL)");
            else
                st = ds_err_set(err, DS_ERR_CONFIG, "nothing to evaluate: give data.dev or data.test, or data.train to "
                                                    "evaluate on its dev/test split (as training splits it)");
            goto done;
        }
        if ((st = ds_text_dataset_load(train_path, &opt, &t->train_set, err)) != DS_OK) goto done;
        if ((st = ds_label_map_copy(&t->labels, &t->train_set.labels, err)) != DS_OK) goto done;
    } else if (nlabels) {
        if ((st = ds_label_map_from_names(&t->labels, opt.label_names, nlabels, model ? "id2label" : "data.labels",
                                          err)) != DS_OK)
            goto done;
    }
    t->num_labels = t->problem_type == DS_PROBLEM_REGRESSION ? 1 : t->labels.count;
    if (need_train && t->problem_type != DS_PROBLEM_REGRESSION && t->num_labels < 2 &&
        t->problem_type == DS_PROBLEM_SINGLE_LABEL) {
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "%s: single-label classification needs at least 2 classes, found %lld",
                        train_path, (long long)t->num_labels);
        goto done;
    }
    // dev/test use the training set's classes, in its order.
    ds_text_dataset_options eval_opt = opt;
    if (t->problem_type != DS_PROBLEM_REGRESSION && t->labels.count) {
        eval_opt.label_names = (const char *const *)t->labels.names;
        eval_opt.num_label_names = t->labels.count;
    }
    if (dev_path[0] && (st = ds_text_dataset_load(dev_path, &eval_opt, &t->dev_set, err)) != DS_OK) goto done;
    if (test_path[0] && (st = ds_text_dataset_load(test_path, &eval_opt, &t->test_set, err)) != DS_OK) goto done;
    if (!need_train && !split && t->num_labels == 0 && t->problem_type != DS_PROBLEM_REGRESSION) {
        // eval without a training set or a label list: classes from the first file read.
        const ds_text_dataset *d = dev_path[0] ? &t->dev_set : &t->test_set;
        if ((st = ds_label_map_copy(&t->labels, &d->labels, err)) != DS_OK) goto done;
        t->num_labels = t->labels.count;
    }

    if (split) {
        ds_split_options so = ds_split_default_options();
        so.seed = seed;
        so.stratified = ds_config_bool(cfg, "data.stratified");
        if ((st = ds_split_parse_fractions("data.split", ds_config_str(cfg, "data.split"), &so, err)) != DS_OK) goto done;
        ds_split sp;
        if ((st = ds_split_make(t->train_set.count, t->train_set.label_ids, (int32_t)t->labels.count, &so, &sp, err)) !=
            DS_OK) {
            ds_split_free(&sp);
            goto done;
        }
        t->split_from_train = true;
        if (need_train)  // eval needs the dev and test parts alone
            st = ds_text_examples_build(&t->train_set, sp.train, sp.n_train, &t->tok, max_len, t->num_labels,
                                        &t->train, err);
        if (st == DS_OK)
            st = ds_text_examples_build(&t->train_set, sp.dev, sp.n_dev, &t->tok, max_len, t->num_labels, &t->dev, err);
        if (st == DS_OK)
            st = ds_text_examples_build(&t->train_set, sp.test, sp.n_test, &t->tok, max_len, t->num_labels, &t->test,
                                        err);
        DS_LOG_INFO(log, "split %s by seed %llu into train/dev/test = %zu/%zu/%zu (%s)", train_path,
                    (unsigned long long)so.seed, sp.n_train, sp.n_dev, sp.n_test,
                    so.stratified ? "stratified" : "random");
        ds_split_free(&sp);
        if (st != DS_OK) goto done;
        if (need_train) log_set(log, "train", &t->train_set, &t->train);
    } else {
        if (need_train && (st = ds_text_examples_build(&t->train_set, NULL, 0, &t->tok, max_len, t->num_labels,
                                                       &t->train, err)) != DS_OK)
            goto done;
        if (dev_path[0] &&
            (st = ds_text_examples_build(&t->dev_set, NULL, 0, &t->tok, max_len, t->num_labels, &t->dev, err)) != DS_OK)
            goto done;
        if (test_path[0] &&
            (st = ds_text_examples_build(&t->test_set, NULL, 0, &t->tok, max_len, t->num_labels, &t->test, err)) != DS_OK)
            goto done;
        if (need_train) log_set(log, "train", &t->train_set, &t->train);
        if (dev_path[0]) log_set(log, "dev", &t->dev_set, &t->dev);
        if (test_path[0]) log_set(log, "test", &t->test_set, &t->test);
    }
    if (t->problem_type != DS_PROBLEM_REGRESSION)
        DS_LOG_INFO(log, "%lld classes (%s)", (long long)t->num_labels,
                    t->problem_type == DS_PROBLEM_MULTI_LABEL ? "multi-label" : "single-label");
done:
    free(label_store);
    free(label_names);
    if (st != DS_OK) ds_text_task_free(t);
    return st;
}

ds_status ds_text_task_load(const ds_config *cfg, const ds_log *log, bool need_train, uint64_t seed,
                            const char *model_dir, ds_text_task *t, ds_err *err) {
    return load_task(cfg, log, need_train, seed, NULL, model_dir, t, err);
}

ds_status ds_text_task_load_eval(const ds_config *cfg, const ds_log *log, uint64_t seed, const ds_text_task_model *model,
                                 const char *model_dir, ds_text_task *t, ds_err *err) {
    return load_task(cfg, log, false, seed, model, model_dir, t, err);
}

void ds_text_task_free(ds_text_task *t) {
    ds_text_examples_free(&t->train);
    ds_text_examples_free(&t->dev);
    ds_text_examples_free(&t->test);
    ds_text_dataset_free(&t->train_set);
    ds_text_dataset_free(&t->dev_set);
    ds_text_dataset_free(&t->test_set);
    ds_label_map_free(&t->labels);
    ds_wp_tokenizer_free(&t->tok);
    memset(t, 0, sizeof *t);
}
