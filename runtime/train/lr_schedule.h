// Learning-rate schedules, exactly as Hugging Face transformers defines them
// (transformers/optimization.py) and as torch.optim.lr_scheduler.LambdaLR applies them.
//
// HF defines each schedule by a multiplier lambda(current_step) of the base learning rate.
// LambdaLR evaluates it once at construction (last_epoch 0) and again after every optimizer
// step, so the learning rate used by optimizer step k (1-based) is base_lr * lambda(k - 1):
// the first step of a warmup schedule runs at lr 0. ds_lr_for_step takes that `k - 1`, the
// number of optimizer steps already taken, which is also LambdaLR's `last_epoch` after them.
#ifndef DS_LR_SCHEDULE_H
#define DS_LR_SCHEDULE_H

#include <stdint.h>

#include "../base/status.h"

typedef enum ds_lr_kind {
    DS_LR_LINEAR = 0,             // get_linear_schedule_with_warmup ("linear", HF's default)
    DS_LR_COSINE,                 // get_cosine_schedule_with_warmup ("cosine"); with min_lr_rate > 0
                                  // get_cosine_with_min_lr_schedule_with_warmup ("cosine_with_min_lr")
    DS_LR_CONSTANT_WITH_WARMUP,   // get_constant_schedule_with_warmup ("constant_with_warmup")
    DS_LR_CONSTANT,               // get_constant_schedule ("constant"); warmup_steps is ignored
    DS_LR_POLY,                   // torch.optim.lr_scheduler.PolynomialLR ("poly", torchvision's segmentation
                                  // recipe): (1 - step / total)^power, in its closed form; after an
                                  // optional linear warm-up (as "linear"'s) the decay spans the rest
    DS_LR_KIND_COUNT
} ds_lr_kind;

// A schedule. Start from ds_lr_schedule_default() and set what differs.
typedef struct ds_lr_schedule {
    ds_lr_kind kind;       // default DS_LR_LINEAR
    double base_lr;        // the optimizer's lr; default 5e-5 (HF TrainingArguments.learning_rate)
    int64_t warmup_steps;  // default 0; see ds_lr_warmup_from_ratio for HF's warmup_ratio
    int64_t total_steps;   // num_training_steps; required (> 0) by linear and cosine; default 0
    double num_cycles;     // cosine: waves of the cosine; default 0.5 (one half wave, down to 0)
    double min_lr_rate;    // cosine: floor as a fraction of base_lr, in [0, 1]; default 0
    double power;          // poly: the exponent; default 0.9 (torchvision's recipe)
} ds_lr_schedule;

ds_lr_schedule ds_lr_schedule_default(void);

// Checks the fields (kind in range, base_lr finite and >= 0, warmup_steps >= 0, total_steps > 0
// for linear, cosine and poly, power finite and >= 0, num_cycles finite, min_lr_rate in [0, 1]); err names the field.
ds_status ds_lr_schedule_check(const ds_lr_schedule *s, ds_err *err);

// HF's lr_lambda(current_step): the multiplier of base_lr after `current_step` optimizer steps.
// current_step >= 0. Past total_steps, linear stays at 0 and cosine continues its wave (both as
// in HF, which never clamps the step); poly stays at 0 (PolynomialLR clamps the step at
// total_iters).
double ds_lr_lambda(const ds_lr_schedule *s, int64_t current_step);

// The learning rate of the next optimizer step when `steps_taken` steps have been taken:
// base_lr * lambda(steps_taken), the product LambdaLR computes.
double ds_lr_for_step(const ds_lr_schedule *s, int64_t steps_taken);

// HF's warmup steps from TrainingArguments.warmup_ratio: ceil(total_steps * ratio).
int64_t ds_lr_warmup_from_ratio(int64_t total_steps, double ratio);

// "linear", "cosine", "constant_with_warmup", "constant" (HF's SchedulerType names), "poly".
const char *ds_lr_kind_name(ds_lr_kind kind);
// Parses one of those names; returns 0 and sets *out, or -1 when unknown.
int ds_lr_kind_parse(const char *name, ds_lr_kind *out);

#endif
