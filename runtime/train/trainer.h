// The fine-tuning loop, for every model family (runtime/tasks/task.h; task.type chooses): the
// family's data and pretrained model, AdamW or SGD with the schedules and clipping (optim.h,
// lr_schedule.h), gradient accumulation, evaluation every N steps or each epoch (evaluator.h),
// checkpoints with the best one kept (runtime/io/checkpoint_dir.h), early stopping, bit-exact
// resume, and at the end the best model evaluated on dev and test and exported in its
// ecosystem's format.
//
// Determinism: the data order of epoch e is a Philox permutation of (shuffle_seed,
// DS_TRAIN_SHUFFLE_OFFSET + e); micro-batch b of epoch e draws its dropout masks from
// ds_train_rng_step (rng_keys.h) and its augmentation from (seed, epoch, example). A checkpoint
// records (epoch, micro-batches consumed) and the seeds, so a resumed run continues with the very
// same split, batches and masks: 10 steps straight equal 5 + resume + 5 bit for bit. The seeds of
// a resumed run are the checkpoint's: a different run.seed is ignored with a warning.
//
// Loss weights (task.h): each micro-batch's loss is a mean over its weight (examples, valid
// pixels, target tokens) or a sum. Before the first backward of an optimizer step the trainer
// takes every micro-batch of the step from the loader, sums their weights and all-reduces the sum
// W over the ranks; micro-batch i's backward then gets dloss = w_i / W (1 for a summed loss). So a
// step on R ranks x A accumulated micro-batches equals one step on the one big batch, for any
// family and any split of the weights among ranks and micro-batches.
//
// Data parallel (a communicator of W > 1 ranks, runtime/dist/comm.h): train.batch_size is the
// PER-RANK micro-batch B; a global micro-batch is W * B examples of the epoch's order, rank r
// taking positions [r*B, (r+1)*B) of it (a short last batch splits by position, so late ranks may
// get fewer examples or none). The gradients are SUMMED across ranks, in buckets that start during
// the backward of a step's last micro-batch (runtime/dist/grad_sync.h); earlier micro-batches of an
// accumulation do not communicate. Parameters, buffers (and on resume the optimizer state) are
// broadcast from rank 0, which alone reads and writes checkpoints, the metrics log and the export;
// evaluation is sharded by contiguous ranges and its sums all-reduced, so every rank takes the
// same decisions (best checkpoint, early stopping). Models reach the other ranks only through the
// collective hook (SyncBatchNorm). Checkpoints record the global batch size (user JSON
// "global_batch"), so a run resumes on another number of ranks: the position in the epoch is
// converted through examples consumed.
#ifndef DS_TRAINER_H
#define DS_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/context.h"
#include "../config/config.h"
#include "../dist/comm.h"
#include "../dist/grad_sync.h"
#include "../metrics/eval_result.h"
#include "../tasks/task.h"
#include "preempt.h"

typedef struct ds_train_summary {
    int64_t steps;            // optimizer steps taken in total (resumed ones included)
    int64_t total_steps;      // planned
    double train_loss;        // mean loss of the last logging window
    double seconds;           // wall time of this run's training loop
    bool early_stopped;
    bool has_dev, has_test;
    ds_eval_result dev, test; // of the final (best) model
    char best_checkpoint[4096];
    char export_dir[4096];
    int world_size;           // ranks that trained
    ds_grad_sync_stats comm;  // gradient all-reduce time (zero for one rank)
    bool preempted;           // stopped by SIGUSR1/SIGTERM after a checkpoint (and requeued if asked)
    int preempt_signal;
    int64_t skipped_steps;    // steps dropped for a non-finite loss or gradient (train.nonfinite=skip)
} ds_train_summary;

// Runs the fine-tune the config describes. ctx->seed must be set from run.seed (a resumed run
// replaces it with the checkpoint's). comm: this rank's communicator (ds_dist_start), or NULL for
// a single process; ctx->log.rank should be its rank. preempt (may be NULL): polled between steps;
// once it reports a signal on any rank, every rank finishes the step, rank 0 writes a checkpoint
// (and with train.requeue requeues the Slurm job) and ds_train returns DS_OK with out->preempted.
ds_status ds_train(ds_context *ctx, const ds_config *cfg, ds_comm *comm, ds_preempt *preempt, ds_train_summary *out);
// The same with the family given, whatever task.type says (tests train families of their own).
ds_status ds_train_family(ds_context *ctx, const ds_config *cfg, const ds_task_family *family, ds_comm *comm,
                          ds_preempt *preempt, ds_train_summary *out);
void ds_train_summary_free(ds_train_summary *s);

#endif
