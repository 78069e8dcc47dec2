#include "eval_task.h"

#include <stdio.h>
#include <string.h>

#include "../../base/check.h"
#include "../../train/run_device.h"
#include "hf_bert.h"
#include "text_task.h"

void ds_eval_summary_free(ds_eval_summary *s) {
    ds_eval_result_free(&s->dev);
    ds_eval_result_free(&s->test);
    ds_label_map_free(&s->labels);
    memset(s, 0, sizeof *s);
}

// Everything after the model is loaded; the caller frees model and info.
static ds_status run(ds_context *ctx, const ds_config *cfg, ds_bert_model *m, const ds_hf_bert_info *info,
                     ds_eval_summary *out) {
    ds_err *err = &ctx->err;
    const char *dir = ds_config_str(cfg, "model.path");
    if (info->initialised > 0)
        DS_LOG_WARN(&ctx->log,
                    "%s: %d tensors were missing from the checkpoint and are random (a pretrained model, not a "
                    "fine-tuned one?): the metrics mean nothing",
                    dir, info->initialised);
    if (m->cfg.problem_type != DS_PROBLEM_REGRESSION) {
        char what[4200];
        snprintf(what, sizeof what, "%s/config.json: id2label", dir);
        DS_TRY(ds_label_map_from_names(&out->labels, (const char *const *)info->id2label,
                                       (int32_t)info->config_num_labels, what, err));
    }
    const ds_text_task_model tm = {.labels = &out->labels, .problem_type = m->cfg.problem_type};
    ds_text_task task;
    DS_TRY(ds_text_task_load_eval(cfg, &ctx->log, &tm, &task, err));
    out->split_from_train = task.split_from_train;
    const size_t batch = (size_t)ds_config_int(cfg, "train.batch_size");
    ds_arena arena = {0};
    size_t bytes = 0;
    ds_status st = DS_OK;
    if (task.dev.n == 0 && task.test.n == 0)
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "nothing to evaluate: the dev and test sets are empty%s",
                        task.split_from_train ? " (data.split gives them no example)" : "");
    const int64_t max_len = ds_config_int(cfg, "model.max_length");
    ds_dtype act = DS_F32;  // run.precision: bf16 on CUDA by default, as training
    if (st == DS_OK) st = ds_run_act_dtype(ctx, cfg, &act, err);
    if (st == DS_OK) st = ds_bert_to_device(ctx, m, act);
    if (st == DS_OK) st = ds_bert_arena_bytes(ctx, m, (int64_t)batch, max_len, false, &bytes);
    if (st == DS_OK) st = ds_arena_init_for(ctx, &arena, bytes);
    if (st == DS_OK && task.dev.n > 0 &&
        (st = ds_evaluate(ctx, m, &task.dev, batch, &arena, "eval_", &out->dev)) == DS_OK)
        out->has_dev = true;
    if (st == DS_OK && task.test.n > 0 &&
        (st = ds_evaluate(ctx, m, &task.test, batch, &arena, "test_", &out->test)) == DS_OK)
        out->has_test = true;
    ds_arena_free(&arena);
    ds_text_task_free(&task);
    return st;
}

ds_status ds_eval_model(ds_context *ctx, const ds_config *cfg, ds_eval_summary *out) {
    memset(out, 0, sizeof *out);
    ds_label_map_init(&out->labels);
    const char *dir = ds_config_str(cfg, "model.path");
    DS_REQUIRE(&ctx->err, dir[0], DS_ERR_CONFIG,
               "model.path is empty: give the fine-tuned model's directory (train.output_dir/model after training)");
    ds_bert_model m;
    ds_hf_bert_info info;
    memset(&info, 0, sizeof info);
    const ds_hf_bert_options mo = {.num_labels = 0};  // the head as exported
    DS_TRY(ds_hf_bert_load(ctx, dir, &mo, &m, &info));
    const ds_status st = run(ctx, cfg, &m, &info, out);
    ds_hf_bert_info_free(&info);
    ds_bert_free(&m);
    if (st != DS_OK) ds_eval_summary_free(out);
    return st;
}
