#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/dataset_split.h"
#include "../../models/common/device_memory.h"
#include "../base/check.h"
#include "../io/fs.h"
#include "../tasks/registry.h"
#include "evaluator.h"
#include "rng_keys.h"
#include "run_files.h"
#include "run_device.h"
#include "trainer_internal.h"

ds_status ds_trainer_allreduce(trainer *t, void *buf, int64_t count, ds_dtype dtype) {
    if (!t->comm) return DS_OK;
    return ds_comm_allreduce_sum(t->comm, buf, count, dtype, &t->ctx->err);
}

ds_status ds_trainer_broadcast(trainer *t, void *buf, size_t bytes) {
    if (!t->comm) return DS_OK;
    return ds_comm_broadcast(t->comm, buf, bytes, 0, &t->ctx->err);
}

// The collective hook models and the evaluator use (runtime/base/model_hooks.h): host buffers, and
// buffers in the model's device memory (SyncBatchNorm's sums on CUDA).
static ds_status collective_sum(void *user, void *buf, int64_t count, ds_dtype dtype, ds_err *err) {
    trainer *t = user;
    return ds_comm_allreduce_sum(t->comm, buf, count, dtype, err);
}
static ds_status collective_sum_device(void *user, void *buf, int64_t count, ds_dtype dtype, ds_err *err) {
    trainer *t = user;
    return ds_comm_allreduce_sum_device(t->comm, buf, count, dtype, err);
}

// The dev metric that selects the best checkpoint, as the family names it.
static ds_status choose_metric(trainer *t) {
    ds_metric_choice c;
    DS_TRY(t->family->select_metric(t->task, ds_config_str(t->cfg, "train.metric"), &c, &t->ctx->err));
    snprintf(t->metric, sizeof t->metric, "eval_%s", c.name);
    t->greater_is_better = c.greater_is_better;
    return DS_OK;
}

// The checkpoint's user metadata: the family's fields, then the global batch size.
static ds_status make_user_json(trainer *t, ds_err *err) {
    cJSON *root = NULL;
    DS_TRY(t->family->checkpoint_meta(t->task, &root, err));
    cJSON_AddNumberToObject(root, "global_batch", (double)t->global_batch);
    t->user_json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return t->user_json ? DS_OK : ds_err_set(err, DS_ERR_OOM, "checkpoint metadata: out of memory");
}

static ds_status schedule_from_config(trainer *t) {
    const ds_config *cfg = t->cfg;
    ds_err *err = &t->ctx->err;
    t->sched = ds_lr_schedule_default();
    DS_REQUIRE(err, ds_lr_kind_parse(ds_config_str(cfg, "train.schedule"), &t->sched.kind) == 0, DS_ERR_CONFIG,
               "train.schedule: unknown schedule '%s'", ds_config_str(cfg, "train.schedule"));
    t->sched.base_lr = ds_config_float(cfg, "train.lr");
    t->sched.total_steps = t->total_steps;
    t->sched.power = ds_config_float(cfg, "train.poly_power");
    const int64_t warmup = ds_config_int(cfg, "train.warmup_steps");
    t->sched.warmup_steps =
        warmup > 0 ? warmup : ds_lr_warmup_from_ratio(t->total_steps, ds_config_float(cfg, "train.warmup_ratio"));
    return ds_lr_schedule_check(&t->sched, err);
}

static ds_status optimizer_from_config(trainer *t) {
    const ds_config *cfg = t->cfg;
    ds_err *err = &t->ctx->err;
    ds_optim_options oo = ds_optim_options_default();
    oo.nonfinite = strcmp(ds_config_str(cfg, "train.nonfinite"), "skip") == 0 ? DS_NONFINITE_SKIP : DS_NONFINITE_ERROR;
    DS_REQUIRE(err, ds_optim_kind_parse(ds_config_str(cfg, "train.optimizer"), &oo.kind) == 0, DS_ERR_CONFIG,
               "train.optimizer: unknown optimizer '%s'", ds_config_str(cfg, "train.optimizer"));
    oo.beta1 = ds_config_float(cfg, "train.adam_beta1");
    oo.beta2 = ds_config_float(cfg, "train.adam_beta2");
    oo.eps = ds_config_float(cfg, "train.adam_eps");
    oo.momentum = ds_config_float(cfg, "train.momentum");
    oo.nesterov = ds_config_bool(cfg, "train.nesterov");
    oo.weight_decay = ds_config_float(cfg, "train.weight_decay");
    oo.max_grad_norm = ds_config_float(cfg, "train.max_grad_norm");
    return ds_optim_init(&t->optim, t->pb, &oo, err);
}

static ds_status setup(trainer *t) {
    ds_context *ctx = t->ctx;
    const ds_config *cfg = t->cfg;
    ds_err *err = &ctx->err;
    if (!t->family) DS_TRY(ds_task_family_of_config(cfg, &t->family, err));
    // A resumed run takes the checkpoint's seeds before the family splits its data or initialises
    // anything: run.seed never changes the data of a run in progress.
    DS_TRY(ds_trainer_resume_seeds(t));
    DS_TRY(t->family->open_train(ctx, cfg, &t->task));
    t->pb = t->family->params(t->task);
    t->train_n = t->family->count(t->task, DS_DATA_TRAIN);
    DS_REQUIRE(err, t->train_n > 0, DS_ERR_INVALID_ARG, "the training set is empty");
    DS_REQUIRE(err, t->pb->train_end > t->pb->train_begin, DS_ERR_CONFIG,
               "every parameter of the model is frozen: nothing to train");

    t->batch = (size_t)ds_config_int(cfg, "train.batch_size");
    t->global_batch = (size_t)t->world * t->batch;
    t->accum = ds_config_int(cfg, "train.grad_accum");
    bool drop_last = ds_config_bool(cfg, "data.drop_last");
    if (!drop_last && t->family->batch_statistics) {
        // As torchvision's recipe: a forward with batch statistics needs every rank (SyncBN's
        // collective) and more than one value per channel; any number of ranks drops alike.
        drop_last = true;
        DS_LOG_INFO(&ctx->log, "data.drop_last: on, since %s's batch statistics need full batches on every rank",
                    t->family->name);
    }
    t->batches_per_epoch = drop_last ? (int64_t)(t->train_n / t->global_batch)
                                     : (int64_t)((t->train_n + t->global_batch - 1) / t->global_batch);
    DS_REQUIRE(err, t->batches_per_epoch > 0, DS_ERR_CONFIG,
               "the training set (%zu examples) holds no full global batch of %zu (data.drop_last)", t->train_n,
               t->global_batch);
    // HF: update steps per epoch = batches // accumulation (at least 1).
    int64_t updates_per_epoch = t->batches_per_epoch / t->accum;
    if (updates_per_epoch < 1) updates_per_epoch = 1;
    const int64_t max_steps = ds_config_int(cfg, "train.max_steps");
    t->total_steps = max_steps > 0 ? max_steps : (int64_t)ceil(ds_config_float(cfg, "train.epochs") * (double)updates_per_epoch);
    DS_REQUIRE(err, t->total_steps > 0, DS_ERR_CONFIG, "train.epochs and train.max_steps give no optimizer step");
    const int64_t stop_after = ds_config_int(cfg, "train.stop_after");
    t->stop_at = stop_after > 0 && stop_after < t->total_steps ? stop_after : t->total_steps;

    DS_TRY(schedule_from_config(t));
    DS_TRY(optimizer_from_config(t));
    DS_TRY(ds_trainer_place_and_plan(t));
    // Slots in pinned memory when a device will read them (asynchronous copies), else malloc. A step
    // takes all its micro-batches before the first backward (their weights normalise the loss), so
    // the ring holds at least train.grad_accum of them.
    int slots = (int)ds_config_int(cfg, "data.prefetch_batches");
    if (slots < t->accum) slots = (int)t->accum;
    const ds_train_loader_options lo = {
        .batch = t->batch, .rank = t->rank, .world = t->world,
        .num_workers = (int)ds_config_int(cfg, "data.num_workers"), .slots = slots, .drop_last = drop_last,
        .group_by_length = ds_config_bool(cfg, "data.group_by_length"), .group_batches = DS_TRAIN_LOADER_GROUP_BATCHES,
        .alloc = ctx->cuda ? ds_train_loader_pinned_alloc : NULL, .free = ctx->cuda ? ds_train_loader_pinned_free : NULL,
        .alloc_user = ctx, .log = &ctx->log, .device = ctx->cuda ? ctx : NULL};
    DS_TRY(ds_train_loader_init(&t->loader, t->task, &lo, err));
    t->loader_ready = true;

    DS_TRY(choose_metric(t));
    DS_TRY(make_user_json(t, err));
    t->ck = ds_checkpoint_options_default();
    t->ck.dir = ds_config_str(cfg, "train.output_dir");
    t->ck.keep_last = (int)ds_config_int(cfg, "train.keep_last");
    memset(&t->state, 0, sizeof t->state);
    t->state.seed = ctx->seed;
    t->state.shuffle_seed = ctx->seed;
    t->last_ckpt_step = -1;

    DS_TRY(ds_trainer_resume_and_share(t));
    if (ds_trainer_is_root(t)) {
        DS_TRY(ds_mkdirs(t->ck.dir, err));
        DS_TRY(ds_run_files_write_config(cfg, t->ck.dir, err));  // for `downstream report` (run_files.h)
        char mpath[4096];
        snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", t->ck.dir);
        DS_TRY(ds_metrics_log_open(&t->mlog, mpath, t->last_ckpt_step >= 0 ? t->optim.step : -1, err));
        t->mlog_open = true;
        if (ds_config_bool(cfg, "train.tensorboard"))  // a second sink of the same lines
            DS_TRY(ds_metrics_log_add_tensorboard(&t->mlog, t->ck.dir, t->last_ckpt_step >= 0 ? t->optim.step : -1, err));
    }
    if (t->world > 1) {
        DS_TRY(ds_grad_sync_init(&t->gsync, t->comm, t->pb, ds_config_float(cfg, "dist.bucket_mb") * 1e6, err));
        t->gsync_ready = true;
        DS_LOG_INFO(&ctx->log, "data parallel: %d ranks (%s), global batch %zu = %d x %zu, gradients in %d bucket(s) of "
                    "about %.3g MB",
                    t->world, ds_comm_backend_name(ds_comm_backend_of(t->comm)), t->global_batch, t->world, t->batch,
                    t->gsync.count, ds_config_float(cfg, "dist.bucket_mb"));
    }
    DS_LOG_INFO(&ctx->log,
                "training: %zu examples, batch %zu x %lld accumulation, %lld batches per epoch, %lld optimizer steps "
                "(warm-up %lld, %s schedule, lr %.3g, %s), selecting by %s",
                t->train_n, t->global_batch, (long long)t->accum, (long long)t->batches_per_epoch,
                (long long)t->total_steps, (long long)t->sched.warmup_steps, ds_lr_kind_name(t->sched.kind),
                t->sched.base_lr, ds_optim_kind_name(t->optim.options.kind), t->metric);
    return DS_OK;
}

// The order of epoch e's examples: a permutation from (shuffle_seed, DS_TRAIN_SHUFFLE_OFFSET + e).
static void epoch_order(const trainer *t, int64_t epoch, size_t *order) {
    for (size_t i = 0; i < t->train_n; i++) order[i] = i;
    uint64_t draw = 0;
    ds_shuffle_indices(order, t->train_n, t->state.shuffle_seed, DS_TRAIN_SHUFFLE_OFFSET + (uint64_t)epoch, &draw);
}

// Early stopping: true (and logged) once `patience` evaluations in a row brought no better metric.
static bool patience_ran_out(const trainer *t, int64_t patience) {
    if (patience <= 0 || t->evals_without_gain < patience) return false;
    DS_LOG_INFO(&t->ctx->log, "early stopping: %lld evaluations without a better %s", (long long)patience, t->metric);
    return true;
}

// The micro-batches of one optimizer step, taken from the loader before any backward.
#define MAX_MICRO 1024
typedef struct step_batches {
    ds_train_batch mb[MAX_MICRO];
    int64_t m;       // micro-batches in the step
    double weight;   // W: the sum of their loss weights over every rank
    bool summed;     // a summed loss: dloss = 1 for every micro-batch
} step_batches;

// Takes micro-batches b0 .. b0 + m - 1 of the epoch and all-reduces their weights, with whether a
// rank got a preemption signal (so that every rank stops after the same step).
static ds_status take_step(trainer *t, int64_t b0, int64_t m, step_batches *sb) {
    ds_err *err = &t->ctx->err;
    sb->m = 0;
    // Weights of the mean-type batches, count of summed ones, ranks asked to stop.
    double local[3] = {0, 0, ds_preempt_requested(t->preempt) ? 1 : 0};
    for (int64_t i = 0; i < m; i++) {
        ds_train_batch *lb = &sb->mb[i];
        DS_TRY(ds_train_loader_next(&t->loader, lb, err));
        sb->m++;
        // This rank's share of the global micro-batch at position (b0 + i) * G of the order.
        const size_t at = (size_t)(b0 + i) * t->global_batch;
        const size_t global_n = t->train_n - at < t->global_batch ? t->train_n - at : t->global_batch;
        const size_t lo = (size_t)t->rank * t->batch;
        const size_t want = lo >= global_n ? 0 : (global_n - lo < t->batch ? global_n - lo : t->batch);
        DS_REQUIRE(err, lb->info.n == want && lb->global_n == global_n && lb->slot.index == b0 + i, DS_ERR_INTERNAL,
                   "training: the loader's batch %lld has %zu of %zu examples, the shard %zu of %zu",
                   (long long)lb->slot.index, lb->info.n, lb->global_n, want, global_n);
        if (lb->info.n == 0) continue;
        if (lb->info.summed) local[1] += 1;
        else local[0] += lb->info.weight;
    }
    DS_TRY(ds_trainer_allreduce(t, local, 3, DS_F64));
    if (local[2] > 0 && !t->preempted) {
        t->preempted = true;
        DS_LOG_WARN(&t->ctx->log, "%s: finishing step %lld, then a checkpoint and exit",
                    t->preempt && t->preempt->pending ? (t->preempt->signal == 15 ? "SIGTERM" : "SIGUSR1")
                                                      : "another rank was signalled",
                    (long long)t->optim.step + 1);
    }
    sb->summed = local[1] > 0;
    DS_REQUIRE(err, !(sb->summed && local[0] > 0), DS_ERR_INTERNAL,
               "training: a step mixes summed and averaged losses");
    sb->weight = local[0];
    return DS_OK;
}

// A non-finite gradient norm stopped the step (train.nonfinite=stop): the error names the first
// trainable tensor, in the block's order, whose gradient holds a NaN or an infinity.
static void name_nonfinite(trainer *t) {
    ds_context *ctx = t->ctx;
    char was[sizeof ctx->err.msg];
    snprintf(was, sizeof was, "%s", ctx->err.msg);
    ds_err_clear(&ctx->err);
    if (ds_param_block_download_grads(ctx, t->pb) != DS_OK) {
        ds_err_set(&ctx->err, DS_ERR_NUMERIC, "%s", was);
        return;
    }
    for (int i = 0; i < t->pb->count; i++) {
        if (!ds_param_is_trainable(t->pb, i)) continue;
        const ds_tensor g = ds_param_block_grad(t->pb, i);
        const float *v = g.data;  // (numel) host
        const int64_t n = ds_tensor_numel(&g);
        for (int64_t k = 0; k < n; k++)
            if (!isfinite(v[k])) {
                ds_err_set(&ctx->err, DS_ERR_NUMERIC,
                           "step %lld: the gradient of '%s' is non-finite (element %lld is %g), the first tensor in "
                           "the model's order to be so; nothing was updated (train.nonfinite=skip drops such steps)",
                           (long long)t->optim.step + 1, t->pb->specs[i].name, (long long)k, (double)v[k]);
                return;
            }
    }
    ds_err_set(&ctx->err, DS_ERR_NUMERIC, "%s", was);
}

// The loss is a mean over its weight w: w / W makes the sum over micro-batches and ranks the mean
// over the step's whole batch (a summed loss just adds up).
static double micro_dloss(const step_batches *sb, const ds_train_batch *lb) {
    return sb->summed ? 1.0 : sb->weight > 0 ? lb->info.weight / sb->weight : 0.0;
}

// After the step's backwards: its losses come down (one wait on a device) and add up, in order,
// into this rank's shares of the step's and the window's loss. A non-finite loss stops the run
// here, before the optimizer step (train.nonfinite=stop), naming its micro-batch.
static ds_status step_loss_shares(trainer *t, const step_batches *sb, int64_t b0, double *step_loss,
                                  double *window_loss) {
    DS_TRY(ds_step_losses_resolve(t->ctx, &t->losses));
    int64_t k = 0;  // the step losses hold the micro-batches with examples, in order
    for (int64_t i = 0; i < sb->m; i++) {
        const ds_train_batch *lb = &sb->mb[i];
        if (lb->info.n == 0) continue;
        DS_REQUIRE(&t->ctx->err, k < t->losses.n, DS_ERR_INTERNAL, "training: micro-batch %lld has no loss",
                   (long long)i);
        const double loss = t->losses.value[k++];
        // A micro-batch with nothing to average (every pixel or label ignored) has the loss 0/0: it
        // weighs 0 and adds nothing (its backward ran with dloss 0 for the collectives).
        const bool empty = !sb->summed && lb->info.weight == 0;
        DS_REQUIRE(&t->ctx->err, isfinite(loss) || empty || t->skip_nonfinite, DS_ERR_NUMERIC,
                   "the loss of micro-batch %lld of epoch %lld is %g (step %lld): stopped (train.nonfinite=skip "
                   "drops such steps instead); lower the learning rate or check the data", (long long)(b0 + i),
                   (long long)t->state.epoch, loss, (long long)t->optim.step + 1);
        // A summed loss is logged per global micro-batch: the sum averaged over the step's.
        const double share = empty ? 0.0 : sb->summed ? loss / (double)sb->m : loss * micro_dloss(sb, lb);
        *step_loss += share;
        *window_loss += share;
    }
    return DS_OK;
}

// Gives back the slots of a step's micro-batches that are still held (after an error).
static void release_step(trainer *t, step_batches *sb, int64_t from) {
    for (int64_t i = from; i < sb->m; i++) ds_train_loader_release(&t->loader, &sb->mb[i]);
}

static ds_status train_loop(trainer *t, ds_train_summary *out) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    const ds_task_family *f = t->family;
    const int64_t eval_every = ds_config_int(t->cfg, "train.eval_every");
    const int64_t log_every = ds_config_int(t->cfg, "train.log_every");
    const int64_t patience = ds_config_int(t->cfg, "train.early_stopping");
    DS_REQUIRE(err, t->accum <= MAX_MICRO, DS_ERR_CONFIG, "train.grad_accum %lld: at most %d micro-batches per step",
               (long long)t->accum, MAX_MICRO);
    size_t *order = malloc(t->train_n * sizeof *order);
    step_batches *sb = malloc(sizeof *sb);
    ds_status st = order && sb ? DS_OK : ds_err_set(err, DS_ERR_OOM, "training: out of memory");
    ds_batch_loader_stats data_mark = ds_train_loader_stats(&t->loader);  // at the start of the logging window
    const double t0 = ds_now_seconds();
    double window_loss = 0, window_t0 = t0;  // this rank's shares
    int64_t window_steps = 0, window_examples = 0, window_samples = 0;
    ds_grad_sync_stats comm_mark = t->gsync.stats;  // at the start of the logging window
    ds_progress_options po = ds_progress_options_default();
    po.log = &ctx->log;
    if (ctx->log.level < DS_LOG_INFO || !ds_trainer_is_root(t)) po.mode = DS_PROGRESS_OFF;
    ds_progress_start(&t->progress, &po, t->optim.step, t->stop_at, t0);
    const ds_grad_hook hook = {.ready = ds_grad_sync_ready, .user = &t->gsync};
    const ds_collective *coll = t->world > 1 ? &t->coll : NULL;
    bool stop = false;
    while (st == DS_OK && !stop && t->optim.step < t->stop_at) {
        epoch_order(t, t->state.epoch, order);
        if ((st = ds_train_loader_start_epoch(&t->loader, t->state.epoch, order, t->state.epoch_position, err)) != DS_OK)
            break;
        for (int64_t b = t->state.epoch_position; b < t->batches_per_epoch && st == DS_OK;) {
            // One optimizer step: its micro-batches (fewer at the end of an epoch), their weights.
            const int64_t m = t->batches_per_epoch - b < t->accum ? t->batches_per_epoch - b : t->accum;
            if ((st = take_step(t, b, m, sb)) != DS_OK) {
                release_step(t, sb, 0);
                break;
            }
            ds_step_losses_reset(&t->losses);
            for (int64_t i = 0; i < m && st == DS_OK; i++) {
                ds_train_batch *lb = &sb->mb[i];
                const bool last_micro = i + 1 == m;
                if (last_micro && t->gsync_ready) ds_grad_sync_begin(&t->gsync);
                if (lb->info.n > 0) {
                    const uint64_t rng_step =
                        ds_train_rng_step(t->state.epoch, t->batches_per_epoch, b + i, t->world, t->rank);
                    // The loss stays where the model computed it (forward_train) and comes down with the
                    // step's others after the loop: no wait for the device per micro-batch.
                    ds_task_loss loss = {.value = NAN};
                    st = f->forward_train ? f->forward_train(ctx, t->task, lb->data, rng_step, coll, &t->arena, &loss)
                                          : f->forward(ctx, t->task, lb->data, true, rng_step, coll, &t->arena,
                                                       &loss.value);
                    // The forward has copied the batch in (on a device: enqueued the copy; the slot goes
                    // once it has completed).
                    const ds_status rs = ds_train_loader_release_after_device(&t->loader, lb, err);
                    if (st == DS_OK && rs == DS_OK) st = ds_step_losses_add(ctx, &t->losses, &loss);
                    if ((st = st != DS_OK ? st : rs) != DS_OK) {
                        release_step(t, sb, i + 1);
                        break;
                    }
                    if ((st = f->backward(ctx, t->task, micro_dloss(sb, lb), &t->arena,
                                          last_micro && t->gsync_ready ? &hook : NULL)) != DS_OK) {
                        release_step(t, sb, i + 1);
                        break;
                    }
                } else {
                    ds_train_loader_release(&t->loader, lb);  // an empty share: nothing reads it
                }
                window_examples += (int64_t)lb->global_n;
                window_samples += (int64_t)lb->global_n;
            }
            if (st == DS_OK && t->gsync_ready) st = ds_grad_sync_finish(&t->gsync, err);
            double step_loss = 0;
            if (st == DS_OK) st = step_loss_shares(t, sb, b, &step_loss, &window_loss);
            if (st != DS_OK) break;
            t->state.epoch_position = b + m;
            b += m;
            // Training losses summed over ranks: [0] this step's loss, [1] the logging window's.
            double losses[2] = {step_loss, window_loss};
            if (t->gsync_ready && (st = ds_trainer_allreduce(t, losses, 2, DS_F64)) != DS_OK) break;
            ds_optim_stats s;
            if ((st = ds_optim_step(ctx, &t->optim, t->pb, t->sched.base_lr, ds_lr_lambda(&t->sched, t->optim.step),
                                    &s)) != DS_OK) {
                if (ctx->err.status == DS_ERR_NUMERIC) name_nonfinite(t);
                break;
            }
            if (s.skipped) {
                // Nothing was updated; the step still counts (schedule, train.max_steps), so a run whose
                // every step overflows ends instead of looping over the data for ever.
                t->optim.step++;
                t->skipped_steps++;
                DS_LOG_WARN(&ctx->log, "step %lld skipped: the gradient norm is %g (train.nonfinite=skip; %lld so far)",
                            (long long)t->optim.step, s.grad_norm, (long long)t->skipped_steps);
            }
            if ((st = ds_param_block_zero_grads(ctx, t->pb)) != DS_OK) break;
            window_steps++;
            const double now = ds_now_seconds();
            ds_progress_update(&t->progress, t->optim.step, losses[0], s.lr, window_examples, now);
            if (t->optim.step % log_every == 0 || t->optim.step == t->stop_at) {
                out->train_loss = losses[1] / (double)window_steps;
                ds_metric_value extra[4];
                int nextra = 0;
                if (t->gsync_ready) {  // per step of this window, in milliseconds
                    const ds_grad_sync_stats *c = &t->gsync.stats;
                    const double steps = (double)(c->steps - comm_mark.steps);
                    extra[0] = (ds_metric_value){"allreduce_exposed_ms", 1e3 * (c->exposed_s - comm_mark.exposed_s) / steps};
                    extra[1] = (ds_metric_value){"allreduce_in_flight_ms",
                                                 1e3 * (c->in_flight_s - comm_mark.in_flight_s) / steps};
                    nextra = 2;
                    comm_mark = *c;
                }
                const ds_batch_loader_stats data_now = ds_train_loader_stats(&t->loader);
                extra[nextra++] = (ds_metric_value){"data_wait_ms", 1e3 * (data_now.wait_s - data_mark.wait_s) /
                                                                        (double)window_steps};
                data_mark = data_now;
                if (t->skipped_steps > 0)
                    extra[nextra++] = (ds_metric_value){"skipped_steps", (double)t->skipped_steps};
                const ds_metrics_record rec = {
                    .step = t->optim.step,
                    .epoch = (double)t->state.epoch + (double)b / (double)t->batches_per_epoch,
                    .has_train = true, .loss = out->train_loss, .lr = s.lr, .grad_norm = s.grad_norm,
                    .samples_per_s = (double)window_samples / (now - window_t0), .extra = extra,
                    .extra_count = nextra};
                if (t->mlog_open && (st = ds_metrics_log_write(&t->mlog, &rec, err)) != DS_OK) break;
                window_loss = 0, window_steps = 0, window_samples = 0, window_t0 = now;
            }
            window_examples = 0;
            if (eval_every > 0 && t->optim.step % eval_every == 0) {
                if ((st = ds_trainer_evaluate_and_save(t)) != DS_OK) break;
                stop = out->early_stopped = patience_ran_out(t, patience);
            }
            if (t->preempted) stop = true;
            if (stop || t->optim.step >= t->stop_at) break;
        }
        ds_train_loader_stop_epoch(&t->loader);  // joins the workers, also after an error or a stop
        if (st != DS_OK || stop || t->optim.step >= t->stop_at) break;
        t->state.epoch++;
        t->state.epoch_position = 0;
        if (eval_every == 0) {
            if ((st = ds_trainer_evaluate_and_save(t)) != DS_OK) break;
            stop = out->early_stopped = patience_ran_out(t, patience);
        }
    }
    // The end of training gets its evaluation and checkpoint unless one was just written. A stop
    // before the end (train.stop_after) gets a checkpoint but no evaluation: an evaluation that the
    // uninterrupted run would not make must not decide which checkpoint is the best.
    if (st == DS_OK && t->last_ckpt_step != t->optim.step) {
        if ((t->optim.step >= t->total_steps || out->early_stopped) && !t->preempted) {
            st = ds_trainer_evaluate_and_save(t);
        } else {
            t->last_ckpt_evaluated = false;
            st = ds_trainer_save_checkpoint(t, false);
        }
    }
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
    const ds_batch_loader_stats data = ds_train_loader_stats(&t->loader);
    if (data.batches > 0)
        DS_LOG_INFO(&ctx->log, "data: waited %.3f s for %lld batches (%.3f ms per batch, %.1f%% of the training time; "
                    "data.num_workers %lld)", data.wait_s, (long long)data.batches, 1e3 * data.wait_s / (double)data.batches,
                    100.0 * data.wait_s / out->seconds, (long long)ds_config_int(t->cfg, "data.num_workers"));
    free(sb);
    free(order);
    return st;
}

static ds_status finish(trainer *t, ds_train_summary *out) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    if (t->preempted) {
        out->preempted = true;
        out->preempt_signal = t->preempt && t->preempt->pending ? t->preempt->signal : 0;
        DS_LOG_WARN(&ctx->log, "preempted: checkpoint of step %lld written in %s", (long long)t->optim.step, t->ck.dir);
        if (ds_trainer_is_root(t) && ds_config_bool(t->cfg, "train.requeue")) {
            DS_TRY(ds_slurm_requeue(err));
            DS_LOG_WARN(&ctx->log, "requeued Slurm job %s: it resumes from that checkpoint (train.resume=auto)",
                        getenv("SLURM_JOB_ID"));
        }
        return DS_OK;
    }
    if (t->optim.step < t->total_steps && !out->early_stopped) {
        DS_LOG_INFO(&ctx->log, "stopped after step %lld of %lld (train.stop_after); continue with --set train.resume=true",
                    (long long)t->optim.step, (long long)t->total_steps);
        return DS_OK;
    }
    snprintf(out->best_checkpoint, sizeof out->best_checkpoint, "%s/%s", t->ck.dir, DS_CHECKPOINT_BEST_NAME);
    if (t->state.has_best && t->state.best_step != t->optim.step) {
        DS_LOG_INFO(&ctx->log, "loading the best checkpoint (step %lld, %s %.4f)", (long long)t->state.best_step,
                    t->metric, t->state.best_metric);
        if (ds_trainer_is_root(t)) DS_TRY(ds_checkpoint_load(out->best_checkpoint, t->pb, NULL, NULL, NULL, err));
        DS_TRY(ds_trainer_broadcast(t, t->pb->params, t->pb->total * sizeof(float)));
        DS_TRY(ds_param_block_upload(ctx, t->pb));
    }
    if (t->family->count(t->task, DS_DATA_DEV) > 0) {
        DS_TRY(ds_trainer_evaluate(t, DS_DATA_DEV, "eval_", &out->dev));
        out->has_dev = true;
    }
    if (t->family->count(t->task, DS_DATA_TEST) > 0) {
        DS_TRY(ds_trainer_evaluate(t, DS_DATA_TEST, "test_", &out->test));
        out->has_test = true;
    }
    snprintf(out->export_dir, sizeof out->export_dir, "%s/model", t->ck.dir);
    if (!ds_trainer_is_root(t)) return DS_OK;
    DS_TRY(ds_run_files_write_end(ctx, t->task, t->ck.dir, out->has_dev ? &out->dev : NULL,
                                  out->has_test ? &out->test : NULL, t->batch, &t->arena));
    DS_TRY(ds_param_block_download(ctx, t->pb));  // the export reads the host copy
    return t->family->export_model(ctx, t->task, out->export_dir);
}

ds_status ds_train(ds_context *ctx, const ds_config *cfg, ds_comm *comm, ds_preempt *preempt, ds_train_summary *out) {
    return ds_train_family(ctx, cfg, NULL, comm, preempt, out);
}

ds_status ds_train_family(ds_context *ctx, const ds_config *cfg, const ds_task_family *family, ds_comm *comm,
                          ds_preempt *preempt, ds_train_summary *out) {
    memset(out, 0, sizeof *out);
    trainer t;
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    t.family = family;
    t.preempt = preempt;
    t.skip_nonfinite = strcmp(ds_config_str(cfg, "train.nonfinite"), "skip") == 0;
    t.cfg = cfg;
    t.comm = comm && ds_comm_size(comm) > 1 ? comm : NULL;
    t.rank = t.comm ? ds_comm_rank(comm) : 0;
    t.world = t.comm ? ds_comm_size(comm) : 1;
    t.coll = (ds_collective){.allreduce_sum = t.comm ? collective_sum : NULL,
                             .allreduce_sum_device =
                                 t.comm && ctx->device.kind != DS_DEVICE_CPU ? collective_sum_device : NULL,
                             .user = &t, .world = t.world, .rank = t.rank};
    out->world_size = t.world;
    ds_status st = setup(&t);
    if (st == DS_OK) st = ds_step_losses_init(ctx, &t.losses, t.accum > 0 ? t.accum : 1);
    if (st == DS_OK) st = train_loop(&t, out);
    if (st == DS_OK) st = finish(&t, out);
    out->steps = t.optim.step;
    out->total_steps = t.total_steps;
    out->skipped_steps = t.skipped_steps;
    free(t.user_json);
    if (t.mlog_open) ds_metrics_log_close(&t.mlog);
    if (t.gsync_ready) ds_grad_sync_free(&t.gsync);
    if (t.loader_ready) ds_train_loader_free(&t.loader);
    ds_step_losses_free(&t.losses);
    ds_arena_free(&t.arena);
    ds_optim_free(&t.optim);
    if (t.task) t.family->close(t.task);
    return st;
}

void ds_train_summary_free(ds_train_summary *s) {
    ds_eval_result_free(&s->dev);
    ds_eval_result_free(&s->test);
}
