#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/dataset_split.h"
#include "../../kernels/gpu.h"
#include "../base/check.h"
#include "../io/checkpoint_dir.h"
#include "../dist/grad_sync.h"
#include "../tasks/text/hf_bert.h"
#include "../tasks/text/hf_export.h"
#include "lr_schedule.h"
#include "metrics_log.h"
#include "optim.h"
#include "progress.h"
#include "run_device.h"
#include "../tasks/text/text_loader.h"
#include "../tasks/text/text_task.h"

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
    ds_metrics_log mlog;     // <output_dir>/metrics.jsonl (rank 0 only)
    bool mlog_open;
    ds_progress progress;
    // Data parallel (see trainer.h). A NULL comm is a world of one.
    ds_comm *comm;
    int rank, world;
    size_t global_batch;     // world * batch: examples per global micro-batch
    ds_grad_sync gsync;
    bool gsync_ready;
    ds_text_loader loader;   // the training batches, made ahead by data.num_workers threads
    bool loader_ready;
} trainer;

static bool is_root(const trainer *t) { return t->rank == 0; }

// Sum over ranks in place (nothing for one rank).
static ds_status allreduce(trainer *t, void *buf, int64_t count, ds_dtype dtype) {
    if (!t->comm) return DS_OK;
    return ds_comm_allreduce_sum(t->comm, buf, count, dtype, &t->ctx->err);
}

static ds_status broadcast(trainer *t, void *buf, size_t bytes) {
    if (!t->comm) return DS_OK;
    return ds_comm_broadcast(t->comm, buf, bytes, 0, &t->ctx->err);
}

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
    cJSON_AddNumberToObject(root, "global_batch", (double)t->global_batch);
    t->user_json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return t->user_json ? DS_OK : ds_err_set(err, DS_ERR_OOM, "checkpoint metadata: out of memory");
}

// Rank 0's resume point: the latest checkpoint loaded, its global batch read from the user JSON
// and the position in the epoch converted to this run's global batch.
static ds_status load_resume_point(trainer *t, bool *found) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    char path[4096];
    *found = false;
    DS_TRY(ds_checkpoint_latest(t->ck.dir, path, sizeof path, found, err));
    if (!*found) {
        DS_LOG_WARN(&ctx->log, "train.resume: no checkpoint in %s; starting from the pretrained model", t->ck.dir);
        return DS_OK;
    }
    char *user = NULL;
    DS_TRY(ds_checkpoint_load(path, &t->model.params, &t->optim, &t->state, &user, err));
    cJSON *root = user ? cJSON_Parse(user) : NULL;
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(root, "global_batch");
    const int64_t saved_global = cJSON_IsNumber(gb) && gb->valuedouble >= 1 ? (int64_t)gb->valuedouble
                                                                            : (int64_t)t->global_batch;
    cJSON_Delete(root);
    free(user);
    if (saved_global != (int64_t)t->global_batch) {
        // The position is in global micro-batches of the saved run: go through examples consumed.
        const int64_t consumed = t->state.epoch_position * saved_global;
        t->state.epoch_position = consumed / (int64_t)t->global_batch;
        const int64_t again = consumed - t->state.epoch_position * (int64_t)t->global_batch;
        DS_LOG_WARN(&ctx->log,
                    "resuming a run of global batch %lld with global batch %zu: %lld examples of epoch %lld were "
                    "consumed, so it continues at batch %lld%s%lld%s",
                    (long long)saved_global, t->global_batch, (long long)consumed, (long long)t->state.epoch,
                    (long long)t->state.epoch_position, again ? " (repeating the last " : "", (long long)again,
                    again ? " examples)" : "");
    }
    if (t->state.seed != ctx->seed)
        DS_LOG_WARN(&ctx->log, "resuming a run of seed %llu with run.seed %llu: the checkpoint's seed wins",
                    (unsigned long long)t->state.seed, (unsigned long long)ctx->seed);
    DS_LOG_INFO(&ctx->log, "resumed from %s: step %lld, epoch %lld, %lld micro-batches into it", path,
                (long long)t->optim.step, (long long)t->state.epoch, (long long)t->state.epoch_position);
    return DS_OK;
}

// What rank 0 tells the others after loading: whether it resumed, and from where.
typedef struct resume_point {
    int64_t found;
    int64_t step;
    ds_train_state state;
} resume_point;

// Rank 0 resumes (train.resume) and every rank gets its parameters, and when it resumed its
// optimizer state, train state and seed: all ranks start from identical values.
static ds_status resume_and_share(trainer *t) {
    ds_context *ctx = t->ctx;
    resume_point rp;
    memset(&rp, 0, sizeof rp);
    if (is_root(t) && ds_config_bool(t->cfg, "train.resume")) {
        bool found = false;
        DS_TRY(load_resume_point(t, &found));
        rp.found = found;
        rp.step = t->optim.step;
        rp.state = t->state;
    }
    DS_TRY(broadcast(t, &rp, sizeof rp));
    DS_TRY(broadcast(t, t->model.params.params, t->model.params.total * sizeof(float)));
    // On CUDA the host arrays are the staging copy: what was loaded or received goes up.
    DS_TRY(ds_param_block_upload(ctx, &t->model.params));
    if (!rp.found) return DS_OK;
    DS_TRY(broadcast(t, t->optim.m, t->optim.total * sizeof(float)));
    DS_TRY(broadcast(t, t->optim.v, t->optim.total * sizeof(float)));
    DS_TRY(ds_optim_upload(ctx, &t->optim));
    t->optim.step = rp.step;
    t->state = rp.state;
    ctx->seed = t->state.seed;
    t->last_ckpt_step = t->optim.step;
    return DS_OK;
}

// A 64-bit hash of the parameter block's bits (for the cross-rank consistency check).
static uint64_t params_hash(const ds_param_block *pb) {
    const uint32_t *w = (const uint32_t *)pb->params;  // (total) host, the floats' bits
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < pb->total; i++) h = (h ^ w[i]) * 1099511628211ull;
    return h;
}

// Every rank must hold the very same parameters (same reduced gradients, same AdamW arithmetic);
// a difference is a bug that would silently break the equivalence with one process: fail.
static ds_status check_ranks_agree(trainer *t) {
    if (t->world == 1) return DS_OK;
    const uint64_t mine = params_hash(&t->model.params);
    uint64_t root = mine;
    DS_TRY(broadcast(t, &root, sizeof root));
    int64_t differ = root != mine;
    DS_TRY(allreduce(t, &differ, 1, DS_I64));
    DS_REQUIRE(&t->ctx->err, differ == 0, DS_ERR_INTERNAL,
               "after step %lld the parameters of %lld rank(s) differ from rank 0's%s", (long long)t->optim.step,
               (long long)differ, root != mine ? " (this rank's among them)" : "");
    return DS_OK;
}

// The memory plan, made once for the largest shape (train.batch_size x the longest tokenized
// example) and allocated at start: nothing is allocated per step. On CUDA: the fp32 parameter,
// gradient and two moment blocks, the decay mask, the bf16 working copy (bf16 mode), the
// activation arena (whose plan covers forward, backward and every smaller batch; evaluation reuses
// it) and the device's own workspaces (cuBLASLt, reduction scratch: counted from ds_gpu_open).
// Activation recomputation is not implemented: every activation of a step stays resident.
typedef struct memory_plan {
    size_t params, grads, moments, mask, bf16, arena, workspaces, total;
} memory_plan;

static void log_plan(ds_context *ctx, const memory_plan *p, const char *where) {
    const double MiB = 1048576.0;
    const struct {
        const char *what;
        size_t bytes;
    } rows[] = {{"parameters (fp32 master)", p->params}, {"gradients (fp32)", p->grads},
                {"AdamW moments (fp32 m, v)", p->moments}, {"weight-decay mask (u8)", p->mask},
                {"bf16 parameter copy", p->bf16}, {"activation arena", p->arena},
                {"workspaces (cuBLASLt, scratch)", p->workspaces}, {"total", p->total}};
    DS_LOG_INFO(&ctx->log, "memory plan (%s memory, allocated once at start):", where);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].bytes > 0 || i < 3)  // device-only rows (mask, bf16 copy, workspaces) when present
            DS_LOG_INFO(&ctx->log, "  %-32s %10.1f MiB", rows[i].what, rows[i].bytes / MiB);
}

static ds_status place_and_plan(trainer *t) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    const bool cuda = ctx->device.kind == DS_DEVICE_CUDA;
    ds_dtype act = DS_F32;
    DS_TRY(ds_run_act_dtype(ctx, t->cfg, &act, err));
    t->model.act_dtype = act;  // the arena plan depends on it (ds_bert_to_device sets it again)
    memory_plan p = {0};
    const size_t n = t->model.params.total;
    p.params = p.grads = n * sizeof(float);
    p.moments = 2 * n * sizeof(float);
    DS_TRY(ds_bert_arena_bytes(ctx, &t->model, (int64_t)t->batch, t->task.train.max_length, true, &p.arena));
    if (cuda) {
        p.mask = n;
        p.bf16 = act == DS_BF16 ? n * sizeof(uint16_t) : 0;
        p.workspaces = ds_gpu_peak_bytes(ctx);  // what ds_gpu_open holds: cuBLASLt workspace, scratch
    }
    p.total = p.params + p.grads + p.moments + p.mask + p.bf16 + p.arena + p.workspaces;
    if (cuda) {
        size_t free_b = 0, total_b = 0;
        DS_TRY(ds_gpu_mem_info(ctx, &free_b, &total_b));
        const size_t need = p.total - p.workspaces;  // the workspaces are allocated already
        if (need > free_b) {
            log_plan(ctx, &p, "device");
            return ds_err_set(err, DS_ERR_OOM,
                              "the training state needs %.1f MiB of device memory (%zu bytes) but cuda:%d has %.1f MiB "
                              "free of %.1f MiB: the activations take %.1f MiB for batch %zu x %lld tokens; lower "
                              "train.batch_size (and raise train.grad_accum to keep the effective batch), lower "
                              "model.max_length%s",
                              need / 1048576.0, need, ctx->device.index, free_b / 1048576.0, total_b / 1048576.0,
                              p.arena / 1048576.0, t->batch, (long long)t->task.train.max_length,
                              act == DS_BF16 ? "" : ", or use run.precision=bf16 (half the activation memory)");
        }
    }
    DS_TRY(ds_bert_to_device(ctx, &t->model, act));
    DS_TRY(ds_optim_to_device(ctx, &t->optim, &t->model.params));
    DS_TRY(ds_arena_init_for(ctx, &t->arena, p.arena));
    log_plan(ctx, &p, cuda ? "device" : "host");
    if (cuda)
        DS_LOG_INFO(&ctx->log, "device memory: peak of live allocations %.1f MiB (the plan's total; nothing more is "
                               "allocated per step)", ds_gpu_peak_bytes(ctx) / 1048576.0);
    return DS_OK;
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

    const double dropout = ds_config_float(cfg, "model.dropout");
    if (dropout >= 0) {  // a training-time override, as HF's hidden_dropout_prob=... in from_pretrained
        t->model.cfg.hidden_dropout = t->model.cfg.attn_dropout = t->model.cfg.classifier_dropout = (float)dropout;
        DS_LOG_INFO(&ctx->log, "model.dropout: every dropout probability set to %g", dropout);
    }

    t->batch = (size_t)ds_config_int(cfg, "train.batch_size");
    t->global_batch = (size_t)t->world * t->batch;
    t->accum = ds_config_int(cfg, "train.grad_accum");
    t->batches_per_epoch = (int64_t)((t->task.train.n + t->global_batch - 1) / t->global_batch);
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
    DS_TRY(place_and_plan(t));
    // Slots in pinned memory when a device will read them (asynchronous copies), else malloc.
    const ds_text_loader_options lo = {
        .batch = t->batch, .rank = t->rank, .world = t->world,
        .num_workers = (int)ds_config_int(cfg, "data.num_workers"), .slots = (int)ds_config_int(cfg, "data.prefetch_batches"),
        .group_by_length = ds_config_bool(cfg, "data.group_by_length"), .group_batches = DS_TEXT_LOADER_GROUP_BATCHES,
        .alloc = ctx->cuda ? ds_text_loader_pinned_alloc : NULL, .free = ctx->cuda ? ds_text_loader_pinned_free : NULL,
        .alloc_user = ctx, .log = &ctx->log, .device = ctx->cuda ? ctx : NULL};
    DS_TRY(ds_text_loader_init(&t->loader, &t->task.train, &lo, err));
    t->loader_ready = true;

    choose_metric(t);
    DS_TRY(make_user_json(t, err));
    t->ck = ds_checkpoint_options_default();
    t->ck.dir = ds_config_str(cfg, "train.output_dir");
    t->ck.keep_last = (int)ds_config_int(cfg, "train.keep_last");
    memset(&t->state, 0, sizeof t->state);
    t->state.seed = ctx->seed;
    t->state.shuffle_seed = ctx->seed;
    t->last_ckpt_step = -1;

    DS_TRY(resume_and_share(t));
    if (is_root(t)) {
        DS_TRY(make_dirs(t->ck.dir, err));
        char mpath[4096];
        snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", t->ck.dir);
        DS_TRY(ds_metrics_log_open(&t->mlog, mpath, t->last_ckpt_step >= 0 ? t->optim.step : -1, err));
        t->mlog_open = true;
    }
    if (t->world > 1) {
        DS_TRY(ds_grad_sync_init(&t->gsync, t->comm, &t->model.params, ds_config_float(cfg, "dist.bucket_mb") * 1e6,
                                 err));
        t->gsync_ready = true;
        DS_LOG_INFO(&ctx->log, "data parallel: %d ranks (%s), global batch %zu = %d x %zu, gradients in %d bucket(s) of "
                    "about %.3g MB",
                    t->world, ds_comm_backend_name(ds_comm_backend_of(t->comm)), t->global_batch, t->world, t->batch,
                    t->gsync.count, ds_config_float(cfg, "dist.bucket_mb"));
    }
    DS_LOG_INFO(&ctx->log,
                "training: %zu examples, batch %zu x %lld accumulation, %lld batches per epoch, %lld optimizer steps "
                "(warm-up %lld, %s schedule, lr %.3g), selecting by %s",
                t->task.train.n, t->global_batch, (long long)t->accum, (long long)t->batches_per_epoch,
                (long long)t->total_steps, (long long)t->sched.warmup_steps, ds_lr_kind_name(t->sched.kind),
                t->sched.base_lr, t->metric);
    return DS_OK;
}

static ds_status save_checkpoint(trainer *t, bool is_best) {
    // On CUDA the checkpoint (and the cross-rank hash) read the host staging copy: bring it down.
    DS_TRY(ds_param_block_download(t->ctx, &t->model.params));
    DS_TRY(check_ranks_agree(t));
    t->state.scheduler_step = t->optim.step;
    t->last_ckpt_step = t->optim.step;
    if (!is_root(t)) return DS_OK;
    DS_TRY(ds_optim_download(t->ctx, &t->optim));
    char path[4096];
    DS_TRY(ds_checkpoint_save_step(&t->ck, t->optim.step, is_best, &t->model.params, &t->optim, &t->state,
                                   t->user_json, path, sizeof path, &t->ctx->err));
    DS_LOG_DEBUG(&t->ctx->log, "checkpoint %s%s", path, is_best ? " (best so far)" : "");
    return DS_OK;
}

// Evaluates `e` with every rank taking a contiguous share and the sums all-reduced: every rank
// gets the report of the whole set.
static ds_status evaluate(trainer *t, const ds_text_examples *e, const char *prefix, ds_eval_result *r) {
    ds_err *err = &t->ctx->err;
    const size_t first = e->n * (size_t)t->rank / (size_t)t->world;
    const size_t stop = e->n * (size_t)(t->rank + 1) / (size_t)t->world;
    ds_eval_sums sums;
    DS_TRY(ds_eval_sums_init(&sums, e, err));
    ds_status st = ds_eval_accumulate(t->ctx, &t->model, e, first, stop - first, t->batch, &t->arena, &sums);
    ds_metric_buffer bufs[3];
    const int nb = ds_eval_sums_buffers(&sums, bufs);
    for (int i = 0; i < nb && st == DS_OK && t->world > 1; i++) st = allreduce(t, bufs[i].data, bufs[i].count, bufs[i].dtype);
    if (st == DS_OK) st = ds_eval_report(&sums, prefix, r, err);
    ds_eval_sums_free(&sums);
    return st;
}

// Evaluates on dev (when there is one), updates the best, writes a checkpoint.
static ds_status evaluate_and_save(trainer *t) {
    bool is_best = false;
    if (t->task.dev.n > 0) {
        ds_eval_result r;
        DS_TRY(evaluate(t, &t->task.dev, "eval_", &r));
        const double v = ds_eval_value(&r, t->metric);
        const ds_metrics_record rec = {.step = t->optim.step, .epoch = (double)t->state.epoch +
                                       (double)t->state.epoch_position / (double)t->batches_per_epoch,
                                       .extra = r.values, .extra_count = r.count};
        const ds_status ls = t->mlog_open ? ds_metrics_log_write(&t->mlog, &rec, &t->ctx->err) : DS_OK;
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

// This rank's share of the global micro-batch at `at` of the epoch order: positions [lo, hi) of
// it, and the global micro-batch's size.
typedef struct shard {
    size_t global_n, lo, hi;
} shard;

static shard shard_of(const trainer *t, size_t at) {
    const size_t n = t->task.train.n;
    shard s;
    s.global_n = n - at < t->global_batch ? n - at : t->global_batch;
    const size_t lo = (size_t)t->rank * t->batch, hi = lo + t->batch;
    s.lo = lo < s.global_n ? lo : s.global_n;
    s.hi = hi < s.global_n ? hi : s.global_n;
    return s;
}

// Training losses summed over ranks: [0] this step's loss, [1] the logging window's (each rank
// holds its share: loss x local examples / global examples / accumulation).
static ds_status reduce_losses(trainer *t, double step_loss, double window_loss, double out[2]) {
    out[0] = step_loss;
    out[1] = window_loss;
    return allreduce(t, out, 2, DS_F64);
}

static ds_status train_loop(trainer *t, ds_train_summary *out) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    const int64_t eval_every = ds_config_int(t->cfg, "train.eval_every");
    const int64_t log_every = ds_config_int(t->cfg, "train.log_every");
    const int64_t patience = ds_config_int(t->cfg, "train.early_stopping");
    size_t *order = malloc(t->task.train.n * sizeof *order);
    ds_status st = order ? DS_OK : ds_err_set(err, DS_ERR_OOM, "training: out of memory");
    ds_batch_loader_stats data_mark = ds_text_loader_stats(&t->loader);  // at the start of the logging window
    const double t0 = ds_now_seconds();
    double window_loss = 0, step_loss = 0, window_t0 = t0;  // this rank's shares
    int64_t window_steps = 0, window_examples = 0, window_samples = 0, pending = 0;
    ds_grad_sync_stats comm_mark = t->gsync.stats;  // at the start of the logging window
    ds_progress_options po = ds_progress_options_default();
    po.log = &ctx->log;
    if (ctx->log.level < DS_LOG_INFO || !is_root(t)) po.mode = DS_PROGRESS_OFF;
    ds_progress_start(&t->progress, &po, t->optim.step, t->stop_at, t0);
    const ds_grad_hook hook = {.ready = ds_grad_sync_ready, .user = &t->gsync};
    bool stop = false;
    while (st == DS_OK && !stop && t->optim.step < t->stop_at) {
        epoch_order(t, t->state.epoch, order);
        if ((st = ds_text_loader_start_epoch(&t->loader, order, t->state.epoch_position, err)) != DS_OK) break;
        for (int64_t b = t->state.epoch_position; b < t->batches_per_epoch && st == DS_OK; b++) {
            const size_t at = (size_t)b * t->global_batch;
            const shard sh = shard_of(t, at);
            const size_t n = sh.hi - sh.lo;  // this rank's examples (0 for a late rank in a short last batch)
            // The step's last micro-batch communicates; the others only accumulate.
            const bool last_micro = pending + 1 >= t->accum || b + 1 >= t->batches_per_epoch;
            if (last_micro && t->gsync_ready) ds_grad_sync_begin(&t->gsync);
            ds_text_loader_batch lb;
            if ((st = ds_text_loader_next(&t->loader, &lb, err)) != DS_OK) break;
            if (lb.batch.B != (int64_t)n || lb.global_n != sh.global_n) {
                st = ds_err_set(err, DS_ERR_INTERNAL, "training: the loader's batch %lld has %lld of %zu examples, the "
                                "shard %zu of %zu", (long long)b, (long long)lb.batch.B, lb.global_n, n, sh.global_n);
                break;
            }
            if (n > 0) {
                ds_bert_output o;
                const uint64_t rng_step =
                    (uint64_t)(t->state.epoch * t->batches_per_epoch + b) * (uint64_t)t->world + (uint64_t)t->rank;
                st = ds_bert_forward(ctx, &t->model, &lb.batch, true, rng_step, &t->arena, &o);
                // The forward has copied the batch in (on a device: enqueued the copy; the slot goes
                // once it has completed).
                const ds_status rs = ds_text_loader_release_after_device(&t->loader, &lb, err);
                if ((st = st != DS_OK ? st : rs) != DS_OK) break;
                // The model's loss is the mean over this rank's n examples: weighted by n / global_n,
                // the sum over ranks is the mean over the global micro-batch (1 for one rank).
                const double share = (double)n / (double)sh.global_n;
                if ((st = ds_bert_backward_hooked(ctx, &t->model, share / (double)t->accum, &t->arena,
                                                  last_micro && t->gsync_ready ? &hook : NULL)) != DS_OK)
                    break;
                window_loss += o.loss * share / (double)t->accum;
                step_loss += o.loss * share / (double)t->accum;
            } else {
                ds_text_loader_release(&t->loader, &lb);  // an empty share: nothing reads it
            }
            window_examples += (int64_t)sh.global_n;
            window_samples += (int64_t)sh.global_n;
            t->state.epoch_position = b + 1;
            if (!last_micro) {
                pending++;
                continue;
            }
            pending = 0;
            double losses[2] = {step_loss, window_loss};
            if (t->gsync_ready) {
                if ((st = ds_grad_sync_finish(&t->gsync, err)) != DS_OK) break;
                if ((st = reduce_losses(t, step_loss, window_loss, losses)) != DS_OK) break;
            }
            ds_optim_stats s;
            const double lr = ds_lr_for_step(&t->sched, t->optim.step);
            if ((st = ds_optim_step(ctx, &t->optim, &t->model.params, lr, &s)) != DS_OK) break;
            if ((st = ds_bert_zero_grads(&t->model)) != DS_OK) break;
            window_steps++;
            const double now = ds_now_seconds();
            ds_progress_update(&t->progress, t->optim.step, losses[0], lr, window_examples, now);
            step_loss = 0;
            if (t->optim.step % log_every == 0 || t->optim.step == t->stop_at) {
                out->train_loss = losses[1] / (double)window_steps;
                ds_metric_value comm[3];
                int ncomm = 0;
                if (t->gsync_ready) {  // per step of this window, in milliseconds
                    const ds_grad_sync_stats *c = &t->gsync.stats;
                    const double steps = (double)(c->steps - comm_mark.steps);
                    comm[0] = (ds_metric_value){"allreduce_exposed_ms", 1e3 * (c->exposed_s - comm_mark.exposed_s) / steps};
                    comm[1] = (ds_metric_value){"allreduce_in_flight_ms",
                                                1e3 * (c->in_flight_s - comm_mark.in_flight_s) / steps};
                    ncomm = 2;
                    comm_mark = *c;
                }
                const ds_batch_loader_stats data_now = ds_text_loader_stats(&t->loader);
                comm[ncomm++] = (ds_metric_value){"data_wait_ms", 1e3 * (data_now.wait_s - data_mark.wait_s) /
                                                                      (double)window_steps};
                data_mark = data_now;
                const ds_metrics_record rec = {
                    .step = t->optim.step,
                    .epoch = (double)t->state.epoch + (double)(b + 1) / (double)t->batches_per_epoch,
                    .has_train = true, .loss = out->train_loss, .lr = lr, .grad_norm = s.grad_norm,
                    .samples_per_s = (double)window_samples / (now - window_t0), .extra = comm, .extra_count = ncomm};
                if (t->mlog_open && (st = ds_metrics_log_write(&t->mlog, &rec, err)) != DS_OK) break;
                window_loss = 0, window_steps = 0, window_samples = 0, window_t0 = now;
            }
            window_examples = 0;
            if (eval_every > 0 && t->optim.step % eval_every == 0) {
                if ((st = evaluate_and_save(t)) != DS_OK) break;
                stop = out->early_stopped = patience_ran_out(t, patience);
            }
            if (stop || t->optim.step >= t->stop_at) break;
        }
        ds_text_loader_stop_epoch(&t->loader);  // joins the workers, also after an error or a stop
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
    if (t->gsync_ready) {
        const ds_grad_sync_stats *c = &t->gsync.stats;
        out->comm = *c;
        if (c->steps > 0)
            DS_LOG_INFO(&ctx->log,
                        "all-reduce: %lld steps, %.2f MB of gradients per step in %d bucket(s); exposed %.2f ms per "
                        "step (%.1f%% of the training time), in flight %.2f ms per step",
                        (long long)c->steps, c->bytes / (double)c->steps / 1e6, t->gsync.count,
                        1e3 * c->exposed_s / (double)c->steps, 100.0 * c->exposed_s / out->seconds,
                        1e3 * c->in_flight_s / (double)c->steps);
    }
    const ds_batch_loader_stats data = ds_text_loader_stats(&t->loader);
    if (data.batches > 0)
        DS_LOG_INFO(&ctx->log, "data: waited %.3f s for %lld batches (%.3f ms per batch, %.1f%% of the training time; "
                    "data.num_workers %lld)", data.wait_s, (long long)data.batches, 1e3 * data.wait_s / (double)data.batches,
                    100.0 * data.wait_s / out->seconds, (long long)ds_config_int(t->cfg, "data.num_workers"));
    free(order);
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
        if (is_root(t)) DS_TRY(ds_checkpoint_load(out->best_checkpoint, &t->model.params, NULL, NULL, NULL, err));
        DS_TRY(broadcast(t, t->model.params.params, t->model.params.total * sizeof(float)));
        DS_TRY(ds_param_block_upload(ctx, &t->model.params));
    }
    if (t->task.dev.n > 0) {
        DS_TRY(evaluate(t, &t->task.dev, "eval_", &out->dev));
        out->has_dev = true;
    }
    if (t->task.test.n > 0) {
        DS_TRY(evaluate(t, &t->task.test, "test_", &out->test));
        out->has_test = true;
    }
    DS_TRY(ds_label_map_copy(&out->labels, &t->task.labels, err));
    snprintf(out->export_dir, sizeof out->export_dir, "%s/model", t->ck.dir);
    if (!is_root(t)) return DS_OK;
    DS_TRY(ds_param_block_download(ctx, &t->model.params));  // the export reads the host copy
    DS_TRY(ds_hf_export(&t->model, &t->task.labels, ds_config_str(t->cfg, "model.path"), out->export_dir, err));
    DS_LOG_INFO(&ctx->log, "exported the fine-tuned model to %s (Hugging Face format)", out->export_dir);
    return DS_OK;
}

ds_status ds_train(ds_context *ctx, const ds_config *cfg, ds_comm *comm, ds_train_summary *out) {
    memset(out, 0, sizeof *out);
    ds_label_map_init(&out->labels);
    trainer t;
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    t.cfg = cfg;
    t.comm = comm && ds_comm_size(comm) > 1 ? comm : NULL;
    t.rank = t.comm ? ds_comm_rank(comm) : 0;
    t.world = t.comm ? ds_comm_size(comm) : 1;
    out->world_size = t.world;
    ds_status st = setup(&t);
    if (st == DS_OK) st = train_loop(&t, out);
    if (st == DS_OK) st = finish(&t, out);
    out->steps = t.optim.step;
    out->total_steps = t.total_steps;
    free(t.user_json);
    if (t.mlog_open) ds_metrics_log_close(&t.mlog);
    if (t.gsync_ready) ds_grad_sync_free(&t.gsync);
    if (t.loader_ready) ds_text_loader_free(&t.loader);
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
