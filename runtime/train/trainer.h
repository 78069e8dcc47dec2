// The fine-tuning loop of a text classifier, driven by the config: data (text_task.h), the
// pretrained model (hf_bert.h), AdamW with HF's schedules and clipping (optim.h,
// lr_schedule.h), gradient accumulation, evaluation every N steps or each epoch (evaluate.h),
// checkpoints with the best one kept (checkpoint_dir.h), early stopping, bit-exact resume, and
// at the end the best model evaluated on dev and test and exported as an HF directory.
//
// Determinism: the data order of epoch e is a Philox permutation of (seed, DS_TRAIN_SHUFFLE_OFFSET
// + e); micro-batch b of epoch e draws its dropout masks from rng_step = e * batches_per_epoch + b.
// A checkpoint records (epoch, micro-batches consumed), so a resumed run continues with the very
// same batches and masks: 10 steps straight equal 5 + resume + 5 bit for bit.
//
// Data parallel (a communicator of W > 1 ranks, runtime/dist/comm.h): the same as one process on the
// global batch. train.batch_size is the PER-RANK micro-batch B; a global micro-batch is W * B
// examples of the epoch's order, rank r taking positions [r*B, (r+1)*B) of it (a short last
// batch splits by position, so late ranks may get fewer examples or none). Each rank scales its
// loss by (its examples / the global micro-batch's) / accumulation and the gradients are SUMMED
// across ranks, in buckets that start during the backward of a step's last micro-batch
// (runtime/dist/grad_sync.h); earlier micro-batches of an accumulation do not communicate. Rank r's
// dropout masks come from rng_step * W + r. Parameters (and on resume the optimizer state) are
// broadcast from rank 0, which alone reads and writes checkpoints, the metrics log and the
// export; evaluation is sharded by contiguous ranges and its sums all-reduced, so every rank
// takes the same decisions (best checkpoint, early stopping). Checkpoints record the global batch
// size (user JSON "global_batch"), so a run resumes on another number of ranks: the position in
// the epoch is converted through examples consumed.
#ifndef DS_TRAINER_H
#define DS_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/context.h"
#include "../dist/comm.h"
#include "../config/config.h"
#include "../tasks/text/evaluate.h"
#include "../dist/grad_sync.h"

#define DS_TRAIN_SHUFFLE_OFFSET 0x5348554646ull  // "SHUFF": far from dropout's offsets

typedef struct ds_train_summary {
    int64_t steps;            // optimizer steps taken in total (resumed ones included)
    int64_t total_steps;      // planned
    double train_loss;        // mean loss of the last logging window
    double seconds;           // wall time of this run's training loop
    bool early_stopped;
    bool has_dev, has_test;
    ds_eval_result dev, test; // of the final (best) model
    ds_label_map labels;      // the classes, in id order (empty for regression)
    char best_checkpoint[4096];
    char export_dir[4096];
    int world_size;           // ranks that trained
    ds_grad_sync_stats comm;  // gradient all-reduce time (zero for one rank)
} ds_train_summary;

// Runs the fine-tune the config describes. ctx->seed must be set from run.seed. comm: this rank's
// communicator (ds_dist_start), or NULL for a single process; ctx->log.rank should be its rank.
ds_status ds_train(ds_context *ctx, const ds_config *cfg, ds_comm *comm, ds_train_summary *out);
void ds_train_summary_free(ds_train_summary *s);

#endif
