// The optimizer driver: AdamW (as Hugging Face's Trainer runs torch.optim.AdamW) or SGD with
// momentum (as torchvision's segmentation recipe runs torch.optim.SGD) over the TRAINABLE range of
// a parameter block (runtime/base/param_block.h: frozen tensors and buffers are never touched).
// One step is
//   1. the global gradient norm of the trainable tensors, as torch.nn.utils.clip_grad_norm_
//      computes it (each tensor's 2-norm in fp32, then the 2-norm of those norms), and with
//      clipping enabled the factor min(max_norm / (norm + 1e-6), 1) in torch's fp32 arithmetic;
//   2. the update of every trainable tensor (ds_adamw_step or ds_sgd_step), with that factor
//      folded into grad_scale (the gradients themselves are left as they are: torch scales them
//      in place, we scale them as the update reads them, which is the same float product), weight
//      decay only on tensors whose spec says `decay` (HF: not on biases and LayerNorm weights), and
//      the learning rate of the tensor's group: (base_lr * lr_mult) * lr_factor, which is what
//      torch's schedulers give a param group whose lr is lr_mult times the base (each group's
//      initial lr times the schedule's factor).
// The optimizer state (AdamW's moments m and v, or SGD's momentum buffer) lives in arrays laid out
// exactly as the block's trainable range (element e of the range at index e - train_begin), so a
// checkpoint, an all-reduce bucket or a device copy treats them alike.
//
// On CUDA (a parameter block moved by ds_param_block_to_device, and ds_optim_to_device) the step
// is one reduction and one fused kernel per lr group instead of a loop over tensors:
//   1. ds_gpu_sum_squares over the trainable range of the gradient block (padding between
//      tensors is zero), one fixed-order reduction in double on the device: norm = sqrt(sum),
//      rounded to fp32. torch takes each tensor's norm in fp32 and then the norm of those; in exact
//      arithmetic both are the same number, and in floating point they differ by rounding only
//      (the double sum is the closer one; the two agree to about an fp32 ulp of the norm, ~1e-7
//      relative), so the clip factor, computed on the host by ds_clip_coef exactly as on the CPU,
//      agrees as closely;
//   2. one ds_adamw_step / ds_sgd_step over each group's flat range with decay_mask (1 where the
//      tensor's spec says decay, 0 on the others and on padding), which also rewrites the bf16
//      working copy when the block has one.
// The CPU path is the per-tensor loop above.
#ifndef DS_OPTIM_H
#define DS_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/context.h"
#include "../base/param_block.h"
#include "../base/status.h"

// What a step does when the gradient norm is NaN or infinite.
typedef enum ds_nonfinite_policy {
    DS_NONFINITE_ERROR = 0,  // fail with DS_ERR_NUMERIC, nothing updated (default)
    DS_NONFINITE_SKIP,       // skip the step: nothing updated, the step count unchanged, stats say so
} ds_nonfinite_policy;
// (torch's default, error_if_nonfinite=False, would scale by NaN and turn every parameter into
// NaN; that is never wanted in a trainer, so it is not offered.)

typedef enum ds_optim_kind {
    DS_OPTIM_ADAMW = 0,  // torch.optim.AdamW (decoupled weight decay)
    DS_OPTIM_SGD,        // torch.optim.SGD with momentum (dampening 0), Nesterov optional
} ds_optim_kind;

// "adamw", "sgd"; parse returns 0, or -1 for an unknown name.
const char *ds_optim_kind_name(ds_optim_kind k);
int ds_optim_kind_parse(const char *name, ds_optim_kind *out);

// Options; defaults are HF TrainingArguments' (ds_optim_options_default).
typedef struct ds_optim_options {
    ds_optim_kind kind;   // default DS_OPTIM_ADAMW
    double beta1;         // default 0.9   (adam_beta1)
    double beta2;         // default 0.999 (adam_beta2)
    double eps;           // default 1e-8  (adam_epsilon)
    double momentum;      // SGD: default 0.9 (torchvision's recipe); 0 is plain SGD (no buffer)
    bool nesterov;        // SGD: default false
    double weight_decay;  // default 0.0   (weight_decay); applied where spec.decay is set
    double max_grad_norm; // default 1.0   (max_grad_norm); <= 0 disables clipping (the norm is
                          // still computed and reported)
    ds_nonfinite_policy nonfinite;  // default DS_NONFINITE_ERROR
} ds_optim_options;

ds_optim_options ds_optim_options_default(void);

#define DS_OPTIM_MAX_STATES 2

typedef struct ds_optim {
    ds_optim_options options;
    size_t begin;   // the block's train_begin: state index = block offset - begin
    size_t total;   // elements of each state array == the block's trainable range (train_end - begin)
    // The state arrays, (total) F32 host each, zeroed at init: AdamW's first and second moments
    // (m, v), or SGD's momentum buffer (buf; NULL without momentum). state[] lists the present ones
    // in checkpoint order, named by ds_optim_state_name.
    float *m, *v, *buf;
    int nstates;
    float *state[DS_OPTIM_MAX_STATES];
    int64_t step;   // optimizer steps taken (torch's state["step"]); the next step is step + 1
    // CUDA (ds_optim_to_device): the state on the device; the host arrays above are then the
    // staging copy for checkpoints, current only after ds_optim_download.
    ds_device device;
    float *state_dev[DS_OPTIM_MAX_STATES];  // (total) F32 device, as state[]
    uint8_t *decay_mask_dev;   // (total) U8 device: 1 = weight decay applies to this element
    void *dev_owner;           // the ds_context of the device (for ds_gpu_free in ds_optim_free)
} ds_optim;

// The checkpoint name of state k: "adam_m", "adam_v" (AdamW) or "sgd_momentum" (SGD).
const char *ds_optim_state_name(const ds_optim *o, int k);

// What one step did, for logging.
typedef struct ds_optim_stats {
    double grad_norm;   // global 2-norm of the gradients before clipping (the value torch's
                        // clip_grad_norm_ returns and HF logs as grad_norm), an fp32 value
    double clip_coef;   // factor applied to the gradients: 1 when not clipped
    double lr;          // the learning rate of the base group (lr multiplier 1)
    bool skipped;       // non-finite norm under DS_NONFINITE_SKIP: nothing was updated
} ds_optim_stats;

// Checks the options (kind known, betas in [0, 1), eps, momentum and weight_decay finite and
// >= 0, Nesterov only with momentum, max_grad_norm finite) and allocates the zeroed state for the
// trainable range of `pb`.
ds_status ds_optim_init(ds_optim *o, const ds_param_block *pb, const ds_optim_options *options, ds_err *err);
void ds_optim_free(ds_optim *o);

// Moves the state to ctx's CUDA device (uploading the host one: zero, or a checkpoint's) and
// builds the decay mask of `pb`'s trainable range there. Nothing on a CPU context.
ds_status ds_optim_to_device(ds_context *ctx, ds_optim *o, const ds_param_block *pb);
// Host state -> device (after loading a checkpoint or a broadcast); device -> host, waited for
// (before a checkpoint). Nothing on the CPU.
ds_status ds_optim_upload(ds_context *ctx, ds_optim *o);
ds_status ds_optim_download(ds_context *ctx, ds_optim *o);

// The global gradient norm of the block's trainable tensors, as torch.nn.utils.get_total_norm
// (norm_type 2) of their gradients: each tensor's norm and the norm of those are rounded to fp32 as torch
// returns them (accumulated here in double, so within an ulp or so of torch's fp32 reductions).
float ds_grad_global_norm(const ds_param_block *pb);

// torch's clip factor in fp32: clamp(max_norm / (total_norm + 1e-6), max=1.0), where the Python
// division is reciprocal(total_norm + 1e-6) * max_norm (Tensor.__rtruediv__). 1 when
// max_norm <= 0 (clipping off).
float ds_clip_coef(float total_norm, double max_norm);

// One step over every trainable tensor of `pb`, group g at learning rate
// (base_lr * g.lr_mult) * lr_factor (see the top of this file; lr_factor is the schedule's
// multiplier, ds_lr_lambda). On success o->step has advanced by one (unless stats->skipped).
// stats->lr is the base group's rate, base_lr * lr_factor. stats may be NULL. The block must be
// the one `o` was initialised for (same trainable range); the gradients are not changed.
ds_status ds_optim_step(ds_context *ctx, ds_optim *o, ds_param_block *pb, double base_lr, double lr_factor,
                        ds_optim_stats *stats);

// Views of trainable tensor i's state k (ds_optim_state_name), of AdamW's moments and SGD's
// buffer (the same shape as its parameter; absent (data NULL) for a tensor that is not trainable
// or a state the optimizer does not have).
ds_tensor ds_optim_state_view(const ds_optim *o, const ds_param_block *pb, int k, int i);
ds_tensor ds_optim_m(const ds_optim *o, const ds_param_block *pb, int i);
ds_tensor ds_optim_v(const ds_optim *o, const ds_param_block *pb, int i);
ds_tensor ds_optim_buf(const ds_optim *o, const ds_param_block *pb, int i);

#endif
