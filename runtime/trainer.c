#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "../data/dataset_split.h"
#include "base/check.h"
#include "checkpoint_dir.h"
#include "hf_bert.h"
#include "hf_export.h"
#include "lr_schedule.h"
#include "metrics_log.h"
#include "optim.h"
#include "progress.h"
#include "text_task.h"

typedef struct trainer {
    ds_context *ctx;
    const ds_config *cfg;
    ds_text_task task;
    ds_bert_model model;
    bool model_loaded;
    ds_optim optim;
    ds_lr_schedule sched;
    ds_arena arena;
    ds_train_state state;
    ds_checkpoint_options ck;
    size_t batch;
    int64_t accum, batches_per_epoch, total_steps, stop_at;
    char metric[48];         // e.g. "eval_accuracy"
    bool greater_is_better;
    char *user_json;         // label mapping and problem type, stored in every checkpoint
    int64_t last_ckpt_step;  // step of the newest checkpoint written by this run
    int64_t evals_without_gain;
    ds_metrics_log mlog;     // <output_dir>/metrics.jsonl
    bool mlog_open;
    ds_progress progress;
} trainer;

// mkdir -p
static ds_status make_dirs(const char *path, ds_err *err) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ds_err_set(err, DS_ERR_IO, "%s: cannot create the folder: %s", buf, strerror(errno));
            *p = c;
            if (c == '\0') break;
        }
    }
    return DS_OK;
}

// The dev metric that selects the best checkpoint, by problem type.
static void choose_metric(trainer *t) {
    const char *want = ds_config_str(t->cfg, "train.metric");
    const ds_problem_type p = t->task.problem_type;
    const char *name = "eval_loss";
    if (strcmp(want, "accuracy") == 0 && p != DS_PROBLEM_REGRESSION)
        name = p == DS_PROBLEM_SINGLE_LABEL ? "eval_accuracy" : "eval_exact_match";
    else if (strcmp(want, "macro_f1") == 0 && p != DS_PROBLEM_REGRESSION)
        name = "eval_macro_f1";
    if (strcmp(want, "loss") != 0 && strcmp(name, "eval_loss") == 0)
        DS_LOG_WARN(&t->ctx->log, "train.metric %s does not apply to regression; selecting by eval_loss", want);
    snprintf(t->metric, sizeof t->metric, "%s", name);
    t->greater_is_better = strcmp(name, "eval_loss") != 0;
}

static ds_status make_user_json(trainer *t, ds_err *err) {
    cJSON *root = NULL;
    if (t->task.labels.count) {
        DS_TRY(ds_label_map_to_json(&t->task.labels, &root, err));
    } else {
        root = cJSON_CreateObject();
    }
    cJSON_AddStringToObject(root, "problem_type", ds_problem_type_name(t->task.problem_type));
    cJSON_AddStringToObject(root, "model_path", ds_config_str(t->cfg, "model.path"));
    t->user_json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return t->user_json ? DS_OK : ds_err_set(err, DS_ERR_OOM, "checkpoint metadata: out of memory");
}

static ds_status setup(trainer *t) {
    ds_context *ctx = t->ctx;
    const ds_config *cfg = t->cfg;
    ds_err *err = &ctx->err;
    DS_TRY(ds_text_task_load(cfg, &ctx->log, true, &t->task, err));
    DS_REQUIRE(err, t->task.train.n > 0, DS_ERR_INVALID_ARG, "the training set is empty");

    ds_hf_bert_options mo = {.num_labels = t->task.num_labels, .has_problem_type = true,
                             .problem_type = t->task.problem_type};
    DS_TRY(ds_hf_bert_load(ctx, ds_config_str(cfg, "model.path"), &mo, &t->model, NULL));
    t->model_loaded = true;

    t->batch = (size_t)ds_config_int(cfg, "train.batch_size");
    t->accum = ds_config_int(cfg, "train.grad_accum");
    t->batches_per_epoch = (int64_t)((t->task.train.n + t->batch - 1) / t->batch);
    // HF: update steps per epoch = batches // accumulation (at least 1).
    int64_t updates_per_epoch = t->batches_per_epoch / t->accum;
    if (updates_per_epoch < 1) updates_per_epoch = 1;
    const int64_t max_steps = ds_config_int(cfg, "train.max_steps");
    t->total_steps = max_steps > 0 ? max_steps : (int64_t)ceil(ds_config_float(cfg, "train.epochs") * (double)updates_per_epoch);
    DS_REQUIRE(err, t->total_steps > 0, DS_ERR_CONFIG, "train.epochs and train.max_steps give no optimizer step");
    const int64_t stop_after = ds_config_int(cfg, "train.stop_after");
    t->stop_at = stop_after > 0 && stop_after < t->total_steps ? stop_after : t->total_steps;

    t->sched = ds_lr_schedule_default();
    DS_REQUIRE(err, ds_lr_kind_parse(ds_config_str(cfg, "train.schedule"), &t->sched.kind) == 0, DS_ERR_CONFIG,
               "train.schedule: unknown schedule '%s'", ds_config_str(cfg, "train.schedule"));
    t->sched.base_lr = ds_config_float(cfg, "train.lr");
    t->sched.total_steps = t->total_steps;
    const int64_t warmup = ds_config_int(cfg, "train.warmup_steps");
    t->sched.warmup_steps =
        warmup > 0 ? warmup : ds_lr_warmup_from_ratio(t->total_steps, ds_config_float(cfg, "train.warmup_ratio"));
    DS_TRY(ds_lr_schedule_check(&t->sched, err));

    ds_optim_options oo = ds_optim_options_default();
    oo.beta1 = ds_config_float(cfg, "train.adam_beta1");
    oo.beta2 = ds_config_float(cfg, "train.adam_beta2");
    oo.eps = ds_config_float(cfg, "train.adam_eps");
    oo.weight_decay = ds_config_float(cfg, "train.weight_decay");
    oo.max_grad_norm = ds_config_float(cfg, "train.max_grad_norm");
    DS_TRY(ds_optim_init(&t->optim, &t->model.params, &oo, err));

    size_t bytes = 0;
    DS_TRY(ds_bert_arena_bytes(ctx, &t->model, (int64_t)t->batch, t->task.train.max_length, true, &bytes));
    DS_TRY(ds_arena_init_cpu(&t->arena, bytes, err));
    DS_LOG_INFO(&ctx->log, "memory: parameters, gradients and AdamW moments %.1f MB, activations %.1f MB",
                4.0 * (double)t->model.params.total * sizeof(float) / 1e6, (double)bytes / 1e6);

    choose_metric(t);
    DS_TRY(make_user_json(t, err));
    t->ck = ds_checkpoint_options_default();
    t->ck.dir = ds_config_str(cfg, "train.output_dir");
    t->ck.keep_last = (int)ds_config_int(cfg, "train.keep_last");
    memset(&t->state, 0, sizeof t->state);
    t->state.seed = ctx->seed;
    t->state.shuffle_seed = ctx->seed;
    t->last_ckpt_step = -1;

    if (ds_config_bool(cfg, "train.resume")) {
        char path[4096];
        bool found = false;
        DS_TRY(ds_checkpoint_latest(t->ck.dir, path, sizeof path, &found, err));
        if (!found) {
            DS_LOG_WARN(&ctx->log, "train.resume: no checkpoint in %s; starting from the pretrained model", t->ck.dir);
        } else {
            DS_TRY(ds_checkpoint_load(path, &t->model.params, &t->optim, &t->state, NULL, err));
            if (t->state.seed != ctx->seed)
                DS_LOG_WARN(&ctx->log, "resuming a run of seed %llu with run.seed %llu: the checkpoint's seed wins",
                            (unsigned long long)t->state.seed, (unsigned long long)ctx->seed);
            ctx->seed = t->state.seed;
            t->last_ckpt_step = t->optim.step;
            DS_LOG_INFO(&ctx->log, "resumed from %s: step %lld, epoch %lld, %lld micro-batches into it", path,
                        (long long)t->optim.step, (long long)t->state.epoch, (long long)t->state.epoch_position);
        }
    }
    DS_TRY(make_dirs(t->ck.dir, err));
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", t->ck.dir);
    DS_TRY(ds_metrics_log_open(&t->mlog, mpath, t->last_ckpt_step >= 0 ? t->optim.step : -1, err));
    t->mlog_open = true;
    DS_LOG_INFO(&ctx->log,
                "training: %zu examples, batch %zu x %lld accumulation, %lld batches per epoch, %lld optimizer steps "
                "(warm-up %lld, %s schedule, lr %.3g), selecting by %s",
                t->task.train.n, t->batch, (long long)t->accum, (long long)t->batches_per_epoch,
                (long long)t->total_steps, (long long)t->sched.warmup_steps, ds_lr_kind_name(t->sched.kind),
                t->sched.base_lr, t->metric);
    return DS_OK;
}

static ds_status save_checkpoint(trainer *t, bool is_best) {
    char path[4096];
    t->state.scheduler_step = t->optim.step;
    DS_TRY(ds_checkpoint_save_step(&t->ck, t->optim.step, is_best, &t->model.params, &t->optim, &t->state,
                                   t->user_json, path, sizeof path, &t->ctx->err));
    t->last_ckpt_step = t->optim.step;
    DS_LOG_DEBUG(&t->ctx->log, "checkpoint %s%s", path, is_best ? " (best so far)" : "");
    return DS_OK;
}

// Evaluates on dev (when there is one), updates the best, writes a checkpoint.
static ds_status evaluate_and_save(trainer *t) {
    bool is_best = false;
    if (t->task.dev.n > 0) {
        ds_eval_result r;
        DS_TRY(ds_evaluate(t->ctx, &t->model, &t->task.dev, t->batch, &t->arena, "eval_", &r));
        const double v = ds_eval_value(&r, t->metric);
        const ds_metrics_record rec = {.step = t->optim.step, .epoch = (double)t->state.epoch +
                                       (double)t->state.epoch_position / (double)t->batches_per_epoch,
                                       .extra = r.values, .extra_count = r.count};
        const ds_status ls = ds_metrics_log_write(&t->mlog, &rec, &t->ctx->err);
        if (ls != DS_OK) {
            ds_eval_result_free(&r);
            return ls;
        }
        ds_progress_clear(&t->progress);
        char line[512];
        size_t n = 0;
        for (int i = 0; i < r.count && n < sizeof line; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %.4f", i ? ", " : "", r.values[i].name,
                                  r.values[i].value);
        ds_eval_result_free(&r);
        is_best = ds_train_state_update_best(&t->state, t->metric, v, t->greater_is_better, t->optim.step);
        t->evals_without_gain = is_best ? 0 : t->evals_without_gain + 1;
        DS_LOG_INFO(&t->ctx->log, "step %lld/%lld dev: %s%s", (long long)t->optim.step, (long long)t->total_steps, line,
                    is_best ? " (best)" : "");
    }
    return save_checkpoint(t, is_best);
}

// The order of epoch e's examples: a permutation from (shuffle_seed, DS_TRAIN_SHUFFLE_OFFSET + e).
static void epoch_order(const trainer *t, int64_t epoch, size_t *order) {
    for (size_t i = 0; i < t->task.train.n; i++) order[i] = i;
    uint64_t draw = 0;
    ds_shuffle_indices(order, t->task.train.n, t->state.shuffle_seed, DS_TRAIN_SHUFFLE_OFFSET + (uint64_t)epoch, &draw);
}

// Early stopping: true (and logged) once `patience` evaluations in a row brought no better metric.
static bool patience_ran_out(const trainer *t, int64_t patience) {
    if (patience <= 0 || t->evals_without_gain < patience) return false;
    DS_LOG_INFO(&t->ctx->log, "early stopping: %lld evaluations without a better %s", (long long)patience, t->metric);
    return true;
}

static ds_status train_loop(trainer *t, ds_train_summary *out) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    const int64_t eval_every = ds_config_int(t->cfg, "train.eval_every");
    const int64_t log_every = ds_config_int(t->cfg, "train.log_every");
    const int64_t patience = ds_config_int(t->cfg, "train.early_stopping");
    size_t *order = malloc(t->task.train.n * sizeof *order);
    ds_text_batch_buf buf;
    ds_status st = ds_text_batch_buf_init(&buf, t->batch, t->task.train.max_length, t->task.num_labels, err);
    if (!order && st == DS_OK) st = ds_err_set(err, DS_ERR_OOM, "training: out of memory");
    const double t0 = ds_now_seconds();
    double window_loss = 0, step_loss = 0, window_t0 = t0;
    int64_t window_steps = 0, window_examples = 0, window_samples = 0, pending = 0;
    ds_progress_options po = ds_progress_options_default();
    po.log = &ctx->log;
    if (ctx->log.level < DS_LOG_INFO) po.mode = DS_PROGRESS_OFF;
    ds_progress_start(&t->progress, &po, t->optim.step, t->stop_at, t0);
    bool stop = false;
    while (st == DS_OK && !stop && t->optim.step < t->stop_at) {
        epoch_order(t, t->state.epoch, order);
        for (int64_t b = t->state.epoch_position; b < t->batches_per_epoch && st == DS_OK; b++) {
            const size_t at = (size_t)b * t->batch;
            const size_t n = t->task.train.n - at < t->batch ? t->task.train.n - at : t->batch;
            ds_bert_batch batch;
            ds_text_batch_make(&t->task.train, order + at, n, &buf, &batch);
            ds_bert_output o;
            const uint64_t rng_step = (uint64_t)(t->state.epoch * t->batches_per_epoch + b);
            if ((st = ds_bert_forward(ctx, &t->model, &batch, true, rng_step, &t->arena, &o)) != DS_OK) break;
            if ((st = ds_bert_backward(ctx, &t->model, 1.0 / (double)t->accum, &t->arena)) != DS_OK) break;
            window_loss += o.loss / (double)t->accum;
            step_loss += o.loss / (double)t->accum;
            window_examples += (int64_t)n;
            window_samples += (int64_t)n;
            t->state.epoch_position = b + 1;
            if (++pending < t->accum && b + 1 < t->batches_per_epoch) continue;
            pending = 0;
            ds_optim_stats s;
            const double lr = ds_lr_for_step(&t->sched, t->optim.step);
            if ((st = ds_optim_step(ctx, &t->optim, &t->model.params, lr, &s)) != DS_OK) break;
            ds_bert_zero_grads(&t->model);
            window_steps++;
            const double now = ds_now_seconds();
            ds_progress_update(&t->progress, t->optim.step, step_loss, lr, window_examples, now);
            step_loss = 0;
            if (t->optim.step % log_every == 0 || t->optim.step == t->stop_at) {
                out->train_loss = window_loss / (double)window_steps;
                const ds_metrics_record rec = {
                    .step = t->optim.step,
                    .epoch = (double)t->state.epoch + (double)(b + 1) / (double)t->batches_per_epoch,
                    .has_train = true, .loss = out->train_loss, .lr = lr, .grad_norm = s.grad_norm,
                    .samples_per_s = (double)window_samples / (now - window_t0)};
                if ((st = ds_metrics_log_write(&t->mlog, &rec, err)) != DS_OK) break;
                window_loss = 0, window_steps = 0, window_samples = 0, window_t0 = now;
            }
            window_examples = 0;
            if (eval_every > 0 && t->optim.step % eval_every == 0) {
                if ((st = evaluate_and_save(t)) != DS_OK) break;
                stop = out->early_stopped = patience_ran_out(t, patience);
            }
            if (stop || t->optim.step >= t->stop_at) break;
        }
        if (st != DS_OK || stop || t->optim.step >= t->stop_at) break;
        t->state.epoch++;
        t->state.epoch_position = 0;
        if (eval_every == 0) {
            if ((st = evaluate_and_save(t)) != DS_OK) break;
            stop = out->early_stopped = patience_ran_out(t, patience);
        }
    }
    // The last step gets its evaluation and checkpoint unless one was just written.
    if (st == DS_OK && t->last_ckpt_step != t->optim.step) st = evaluate_and_save(t);
    ds_progress_finish(&t->progress, ds_now_seconds());
    out->seconds = ds_now_seconds() - t0;
    free(order);
    ds_text_batch_buf_free(&buf);
    return st;
}

static ds_status finish(trainer *t, ds_train_summary *out) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    if (t->optim.step < t->total_steps && !out->early_stopped) {
        DS_LOG_INFO(&ctx->log, "stopped after step %lld of %lld (train.stop_after); continue with --set train.resume=true",
                    (long long)t->optim.step, (long long)t->total_steps);
        return DS_OK;
    }
    snprintf(out->best_checkpoint, sizeof out->best_checkpoint, "%s/%s", t->ck.dir, DS_CHECKPOINT_BEST_NAME);
    if (t->state.has_best && t->state.best_step != t->optim.step) {
        DS_LOG_INFO(&ctx->log, "loading the best checkpoint (step %lld, %s %.4f)", (long long)t->state.best_step,
                    t->metric, t->state.best_metric);
        DS_TRY(ds_checkpoint_load(out->best_checkpoint, &t->model.params, NULL, NULL, NULL, err));
    }
    if (t->task.dev.n > 0) {
        DS_TRY(ds_evaluate(ctx, &t->model, &t->task.dev, t->batch, &t->arena, "eval_", &out->dev));
        out->has_dev = true;
    }
    if (t->task.test.n > 0) {
        DS_TRY(ds_evaluate(ctx, &t->model, &t->task.test, t->batch, &t->arena, "test_", &out->test));
        out->has_test = true;
    }
    DS_TRY(ds_label_map_copy(&out->labels, &t->task.labels, err));
    snprintf(out->export_dir, sizeof out->export_dir, "%s/model", t->ck.dir);
    DS_TRY(ds_hf_export(&t->model, &t->task.labels, ds_config_str(t->cfg, "model.path"), out->export_dir, err));
    DS_LOG_INFO(&ctx->log, "exported the fine-tuned model to %s (Hugging Face format)", out->export_dir);
    return DS_OK;
}

ds_status ds_train(ds_context *ctx, const ds_config *cfg, ds_train_summary *out) {
    memset(out, 0, sizeof *out);
    ds_label_map_init(&out->labels);
    trainer t;
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    t.cfg = cfg;
    ds_status st = setup(&t);
    if (st == DS_OK) st = train_loop(&t, out);
    if (st == DS_OK) st = finish(&t, out);
    out->steps = t.optim.step;
    out->total_steps = t.total_steps;
    free(t.user_json);
    if (t.mlog_open) ds_metrics_log_close(&t.mlog);
    ds_arena_free(&t.arena);
    ds_optim_free(&t.optim);
    if (t.model_loaded) ds_bert_free(&t.model);
    ds_text_task_free(&t.task);
    return st;
}

void ds_train_summary_free(ds_train_summary *s) {
    ds_label_map_free(&s->labels);
    ds_eval_result_free(&s->dev);
    ds_eval_result_free(&s->test);
}
