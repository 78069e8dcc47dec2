// Shared by runtime/train/trainer*.c only: the trainer's state.
#ifndef DS_TRAINER_INTERNAL_H
#define DS_TRAINER_INTERNAL_H

#include "../io/checkpoint_dir.h"
#include "../tasks/task.h"
#include "lr_schedule.h"
#include "metrics_log.h"
#include "optim.h"
#include "progress.h"
#include "step_losses.h"
#include "train_loader.h"
#include "trainer.h"

typedef struct trainer {
    ds_context *ctx;
    const ds_config *cfg;
    const ds_task_family *family;
    ds_task *task;           // the family's data and model (NULL until opened)
    ds_param_block *pb;      // the task's parameter block
    ds_optim optim;
    ds_lr_schedule sched;
    ds_arena arena;
    ds_step_losses losses;   // the current optimizer step's micro-batch losses (step_losses.h)
    ds_train_state state;
    ds_checkpoint_options ck;
    size_t batch;
    int64_t accum, batches_per_epoch, total_steps, stop_at;
    size_t train_n;          // examples of the training split
    char metric[48];         // e.g. "eval_accuracy"
    bool greater_is_better;
    char *user_json;         // the family's metadata plus the global batch, stored in every checkpoint
    int64_t last_ckpt_step;  // step of the newest checkpoint written by this run
    bool last_ckpt_evaluated;  // that checkpoint came with an evaluation
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
    ds_collective coll;      // what models and the evaluator reach the other ranks by
    ds_train_loader loader;  // the training batches, made ahead by data.num_workers threads
    bool loader_ready;
    ds_preempt *preempt;     // SIGUSR1/SIGTERM between steps (NULL: none)
    bool preempted;          // some rank got one: finish this step, checkpoint, stop
    bool skip_nonfinite;     // train.nonfinite = skip
    int64_t skipped_steps;
} trainer;

// Whether train.resume asks to resume: true, false, or auto (resume under Slurm).
bool ds_trainer_resume_wanted(const trainer *t);

static inline bool ds_trainer_is_root(const trainer *t) { return t->rank == 0; }

// Sum over ranks in place / broadcast from rank 0 (nothing for one rank).
ds_status ds_trainer_allreduce(trainer *t, void *buf, int64_t count, ds_dtype dtype);
ds_status ds_trainer_broadcast(trainer *t, void *buf, size_t bytes);

// ---- trainer_resume.c ----
// Before the family opens: the seeds of the checkpoint to resume (train.resume), on every rank,
// into ctx->seed (a different run.seed is ignored with a warning).
ds_status ds_trainer_resume_seeds(trainer *t);
// After the model and optimizer exist: rank 0 loads the checkpoint to resume (if any) and every
// rank gets its parameters and buffers, and when it resumed its optimizer state and train state.
ds_status ds_trainer_resume_and_share(trainer *t);
// Every rank must hold the very same parameters: fails naming how many differ from rank 0's.
ds_status ds_trainer_check_ranks_agree(trainer *t);

// ---- memory_plan.c ----
// The memory plan of the run, logged; on CUDA refused before allocating when it does not fit. Then
// the model, the optimizer state and the arena are placed on the device.
ds_status ds_trainer_place_and_plan(trainer *t);

// ---- trainer_eval.c ----
// Evaluates split s on every rank (sharded) into r.
ds_status ds_trainer_evaluate(trainer *t, ds_data_split s, const char *prefix, ds_eval_result *r);
// Evaluates on dev (when there is one), updates the best, writes a checkpoint.
ds_status ds_trainer_evaluate_and_save(trainer *t);
// Writes a checkpoint of this step without evaluating (it is not a candidate for the best).
ds_status ds_trainer_save_checkpoint(trainer *t, bool is_best);

#endif
