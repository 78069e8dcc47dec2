// The op API: one args struct per op, one typed entry point per op, dispatched by the device of
// the op's tensors through one table per backend. Model code calls only these entry points.
//
// Conventions for every op:
// - Tensors are contiguous. On the CPU, float tensors are all F32 or all F64 within one call
//   (F64 exists for the finite-difference gradient checks); CUDA adds BF16 where it says so.
// - Index tensors (token ids, targets, masks) are I32.
// - A tensor whose .data is NULL is "absent" where the field says it may be.
// - Backward ops overwrite input gradients (dx) and, for parameter gradients (dw, db, dgamma,
//   dbeta, dtable), add into them when .accumulate is true (gradient accumulation over
//   micro-batches) or overwrite them when false.
// - Errors (shape, dtype, device mismatch, out-of-range index) are returned as a ds_status with
//   the message in ctx->err; nothing is written in that case.
#ifndef DS_OPS_H
#define DS_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/base/context.h"
#include "../runtime/base/tensor.h"

typedef enum ds_op {
    DS_OP_LINEAR_FWD = 0,
    DS_OP_LINEAR_BWD,
    DS_OP_LAYERNORM_FWD,
    DS_OP_LAYERNORM_BWD,
    DS_OP_GELU_FWD,
    DS_OP_GELU_BWD,
    DS_OP_TANH_FWD,
    DS_OP_TANH_BWD,
    DS_OP_SOFTMAX_FWD,
    DS_OP_SOFTMAX_BWD,
    DS_OP_ATTENTION_FWD,
    DS_OP_ATTENTION_BWD,
    DS_OP_DROPOUT_FWD,
    DS_OP_DROPOUT_BWD,
    DS_OP_EMBEDDING_FWD,
    DS_OP_EMBEDDING_BWD,
    DS_OP_CROSS_ENTROPY_FWD,
    DS_OP_CROSS_ENTROPY_BWD,
    DS_OP_ADAMW,
    DS_OP_ADD,
    DS_OP_PERMUTE_HEADS,
    DS_OP_BCE_LOGITS_FWD,
    DS_OP_BCE_LOGITS_BWD,
    DS_OP_MSE_FWD,
    DS_OP_MSE_BWD,
    DS_OP_SGD,
    DS_OP_CONV2D_WORKSPACE,
    DS_OP_CONV2D_FWD,
    DS_OP_CONV2D_BWD,
    DS_OP_BN_STATS,
    DS_OP_BN_FINALIZE,
    DS_OP_BN_APPLY,
    DS_OP_BN_BWD_REDUCE,
    DS_OP_BN_BWD_APPLY,
    DS_OP_RELU_FWD,
    DS_OP_RELU_BWD,
    DS_OP_MAXPOOL2D_FWD,
    DS_OP_MAXPOOL2D_BWD,
    DS_OP_ADAPTIVE_AVGPOOL2D_FWD,
    DS_OP_ADAPTIVE_AVGPOOL2D_BWD,
    DS_OP_INTERPOLATE_FWD,
    DS_OP_INTERPOLATE_BWD,
    DS_OP_PIXEL_CE_FWD,
    DS_OP_PIXEL_CE_BWD,
    DS_OP_CHANNEL_COPY,
    DS_OP_LOG_SOFTMAX_FWD,
    DS_OP_LOG_SOFTMAX_BWD,
    DS_OP_CTC_LOSS_FWD,
    DS_OP_CTC_LOSS_BWD,
    DS_OP_GROUPNORM_FWD,
    DS_OP_GROUPNORM_BWD,
    DS_OP_WEIGHT_NORM_FWD,
    DS_OP_WEIGHT_NORM_BWD,
    DS_OP_SPEC_AUGMENT_FWD,
    DS_OP_SPEC_AUGMENT_BWD,
    DS_OP_COUNT
} ds_op;

const char *ds_op_name(ds_op op);

// ---- linear: y = x w^T + b (torch.nn.Linear layout) ----
typedef struct ds_linear_fwd_args {
    ds_tensor x;  // (N, K)
    ds_tensor w;  // (M, K)
    ds_tensor b;  // (M), may be absent
    ds_tensor y;  // (N, M) out
} ds_linear_fwd_args;

typedef struct ds_linear_bwd_args {
    ds_tensor x;   // (N, K) forward input
    ds_tensor w;   // (M, K)
    ds_tensor dy;  // (N, M)
    ds_tensor dx;  // (N, K) out, may be absent (first layer)
    ds_tensor dw;  // (M, K) out
    ds_tensor db;  // (M) out, may be absent
    bool accumulate;  // dw/db += instead of =
} ds_linear_bwd_args;

// ---- layer norm over the last dim, biased variance (torch.nn.LayerNorm) ----
typedef struct ds_layernorm_fwd_args {
    ds_tensor x;      // (N, C)
    ds_tensor gamma;  // (C)
    ds_tensor beta;   // (C)
    ds_tensor y;      // (N, C) out
    ds_tensor mean;   // (N) out, saved for backward, same float dtype as x
    ds_tensor rstd;   // (N) out, 1/sqrt(var + eps), saved for backward
    double eps;
} ds_layernorm_fwd_args;

typedef struct ds_layernorm_bwd_args {
    ds_tensor x;       // (N, C)
    ds_tensor gamma;   // (C)
    ds_tensor mean;    // (N)
    ds_tensor rstd;    // (N)
    ds_tensor dy;      // (N, C)
    ds_tensor dx;      // (N, C) out
    ds_tensor dgamma;  // (C) out
    ds_tensor dbeta;   // (C) out
    bool accumulate;
} ds_layernorm_bwd_args;

// ---- elementwise: GELU (erf form, as torch's default and BERT's "gelu") and tanh ----
// Any shape; x, y, dy, dx have equal numel.
typedef struct ds_unary_fwd_args {
    ds_tensor x;
    ds_tensor y;  // out
} ds_unary_fwd_args;

typedef struct ds_unary_bwd_args {
    ds_tensor x;   // forward input (GELU reads it)
    ds_tensor y;   // forward output (tanh reads it); either may be absent when unused
    ds_tensor dy;
    ds_tensor dx;  // out
} ds_unary_bwd_args;

// ---- softmax over the last dim ----
typedef struct ds_softmax_fwd_args {
    ds_tensor x;  // (N, C)
    ds_tensor y;  // (N, C) out
} ds_softmax_fwd_args;

typedef struct ds_softmax_bwd_args {
    ds_tensor y;   // (N, C) forward output
    ds_tensor dy;  // (N, C)
    ds_tensor dx;  // (N, C) out
} ds_softmax_bwd_args;

// ---- scaled dot-product attention with a key padding mask ----
// s[b,h,i,j] = scale * q[b,h,i,:] . k[b,h,j,:], masked to -inf where key_mask[b,j] == 0;
// p = softmax_j(s); p' = dropout(p) with stream (ctx->seed, dropout_offset) at element index
// ((b*H + h)*T + i)*T + j; out = p' v. A row whose keys are all masked outputs zeros and has
// lse = -inf. lse (logsumexp of the scaled, masked scores) is what backward needs: it
// recomputes p from q, k and lse, so no (T, T) tensor is ever saved.
// token_major_heads (CPU only; CUDA refuses it): 0, the default, takes q, k, v, out (and dout, dq,
// dk, dv) as (B, H, T, D). H > 0 takes them as (B, T, H*D), the token-major rows the linear layers
// write, with head h in columns h*D .. h*D + D - 1: no permutes around the op; the numbers are the
// same as with permuted (B, H, T, D) inputs.
typedef struct ds_attention_fwd_args {
    ds_tensor q;         // (B, H, T, D), or (B, T, H*D) with token_major_heads
    ds_tensor k;         // as q
    ds_tensor v;         // as q
    ds_tensor key_mask;  // (B, T) I32, 1 = attend, 0 = padding; may be absent (attend to all)
    ds_tensor out;       // as q, out
    ds_tensor lse;       // (B, H, T) out, F32 on every backend (F64 with F64 inputs on the CPU)
    double scale;        // usually 1/sqrt(D)
    float dropout_p;     // 0 disables dropout
    uint64_t dropout_offset;
    int token_major_heads;
} ds_attention_fwd_args;

typedef struct ds_attention_bwd_args {
    ds_tensor q, k, v;   // (B, H, T, D), or (B, T, H*D) with token_major_heads
    ds_tensor key_mask;  // (B, T) I32, may be absent
    ds_tensor out;       // as q: the forward output
    ds_tensor lse;       // (B, H, T)
    ds_tensor dout;      // as q
    ds_tensor dq, dk, dv;  // as q, out
    double scale;
    float dropout_p;
    uint64_t dropout_offset;
    int token_major_heads;
} ds_attention_bwd_args;

// ---- dropout: y = x * keep / (1 - p), keep drawn from stream (ctx->seed, offset) ----
// Backward regenerates the same mask from the counter, so no mask is stored.
typedef struct ds_dropout_fwd_args {
    ds_tensor x;  // any shape
    ds_tensor y;  // out, same numel
    float p;      // in [0, 1)
    uint64_t offset;
} ds_dropout_fwd_args;

typedef struct ds_dropout_bwd_args {
    ds_tensor dy;
    ds_tensor dx;  // out
    float p;
    uint64_t offset;
} ds_dropout_bwd_args;

// ---- embedding lookup ----
typedef struct ds_embedding_fwd_args {
    ds_tensor ids;    // (N) I32, each in [0, V)
    ds_tensor table;  // (V, C)
    ds_tensor out;    // (N, C) out
} ds_embedding_fwd_args;

typedef struct ds_embedding_bwd_args {
    ds_tensor ids;     // (N) I32
    ds_tensor dout;    // (N, C)
    ds_tensor dtable;  // (V, C) out; rows of repeated ids sum their gradients
    bool accumulate;
    // torch.nn.Embedding(padding_idx=...): positions whose id equals padding_idx add nothing,
    // so that row's gradient stays 0 (BERT's word embeddings: pad_token_id). Off unless set.
    bool has_padding_idx;
    int32_t padding_idx;
} ds_embedding_bwd_args;

// ---- cross-entropy with ignore_index, mean over the targets that are not ignored ----
// As torch.nn.functional.cross_entropy(reduction="mean"): with every target ignored the loss
// is NaN (0/0), like torch.
typedef struct ds_cross_entropy_fwd_args {
    ds_tensor logits;   // (N, C)
    ds_tensor targets;  // (N) I32, in [0, C) or == ignore_index
    ds_tensor loss;     // (1) out
    ds_tensor lse;      // (N) out, per-row logsumexp, saved for backward
    int ignore_index;   // torch's default is -100
} ds_cross_entropy_fwd_args;

typedef struct ds_cross_entropy_bwd_args {
    ds_tensor logits;   // (N, C)
    ds_tensor targets;  // (N) I32
    ds_tensor lse;      // (N)
    ds_tensor dlogits;  // (N, C) out
    double dloss;       // upstream gradient of the scalar loss, usually 1
    int ignore_index;
} ds_cross_entropy_bwd_args;

// ---- pointwise losses, mean over every element ----
// BCE with logits, as torch.nn.BCEWithLogitsLoss() (reduction "mean", no weights):
//   loss = mean_i [ (1 - t_i) x_i - log_sigmoid(x_i) ],  log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|))
// which never overflows (the naive -t log s - (1-t) log(1-s) does for |x| > ~17 in F32 / ~37 in
// F64); dx_i = dloss (sigmoid(x_i) - t_i) / n. Targets may be soft (any value in [0, 1]).
// MSE, as torch.nn.MSELoss() (reduction "mean"): loss = mean_i (x_i - t_i)^2, dx_i = dloss 2 (x_i - t_i) / n.
// x and target have any shape of equal numel and one float dtype; each element's term is
// computed in double and the sum is taken in double in index order (thread-count independent).
// With n = 0 the loss is NaN (0/0), like torch.
typedef struct ds_pointwise_loss_fwd_args {
    ds_tensor x;       // (n...) logits (BCE) or predictions (MSE)
    ds_tensor target;  // (n...) same numel and dtype as x
    ds_tensor loss;    // (1) out, x's dtype
} ds_pointwise_loss_fwd_args;

typedef struct ds_pointwise_loss_bwd_args {
    ds_tensor x;       // (n...) forward input
    ds_tensor target;  // (n...)
    ds_tensor dx;      // (n...) out
    double dloss;      // upstream gradient of the scalar loss, usually 1
} ds_pointwise_loss_bwd_args;

// ---- AdamW, as torch.optim.AdamW (decoupled weight decay, bias correction) ----
// Per element, with g = grad * grad_scale:
//   param *= 1 - lr * weight_decay
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param -= (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// grad_scale folds global-norm clipping into the update (1 = no clipping). decay_mask lets one
// call cover a whole flat parameter block with parameter groups (HF: no decay on biases and
// LayerNorm weights): elements whose mask is 0 skip the first line, exactly as with
// weight_decay = 0.
typedef struct ds_adamw_args {
    ds_tensor param;       // (n) F32 master weights, updated in place
    ds_tensor grad;        // (n) F32
    ds_tensor m;           // (n) F32 first moment, updated in place
    ds_tensor v;           // (n) F32 second moment, updated in place
    ds_tensor param_bf16;  // (n) BF16 working copy written after the update (CUDA); may be absent
    ds_tensor decay_mask;  // (n) U8: 1 = weight decay applies to this element; absent (.data NULL): applies to every element
    double lr, beta1, beta2, eps, weight_decay;
    double grad_scale;
    int64_t step;  // 1-based step count after this update
} ds_adamw_args;

// ---- SGD with momentum, as torch.optim.SGD (dampening 0, maximize off) ----
// Per element, with g = grad * grad_scale (the clip factor; 1 = none):
//   g   = g + weight_decay * param                 (weight decay where the mask allows)
//   buf = step == 1 ? g : momentum * buf + g       (momentum != 0: torch clones g on the first step)
//   g   = nesterov ? g + momentum * buf : buf      (momentum != 0)
//   param -= lr * g
// The float rounding of each line is torch's (kernels/cpu/sgd.c says which are fused).
typedef struct ds_sgd_args {
    ds_tensor param;       // (n) F32 master weights, updated in place
    ds_tensor grad;        // (n) F32
    ds_tensor momentum_buf;  // (n) F32 momentum buffer, updated in place; absent when momentum is 0
    ds_tensor param_bf16;  // (n) BF16 working copy written after the update (CUDA); may be absent
    ds_tensor decay_mask;  // (n) U8: 1 = weight decay applies; absent: applies to every element
    double lr, momentum, weight_decay, grad_scale;
    bool nesterov;         // needs momentum > 0 (torch's rule)
    int64_t step;          // 1-based step count after this update
} ds_sgd_args;

// ---- y = a + b, elementwise (residual connections; summing gradients of a shared input) ----
// y may be the same memory as a or b.
typedef struct ds_add_args {
    ds_tensor a, b;  // equal numel
    ds_tensor y;     // out
} ds_add_args;

// ---- split or merge attention heads ----
// to_heads: x (B, T, H*D) -> y (B, H, T, D); otherwise x (B, H, T, D) -> y (B, T, H*D).
// The backward of a split is a merge and the other way round.
typedef struct ds_permute_heads_args {
    ds_tensor x;
    ds_tensor y;  // out, must not overlap x
    int heads;
    bool to_heads;
} ds_permute_heads_args;

// ================================ vision ops (NCHW) ================================
// Image tensors are (N, C, H, W), contiguous, as torch's default layout. A 1-d signal (N, C, L)
// is the same memory as (N, C, 1, L): conv1d is conv2d with H = 1 (kernel (1, S)).

// ---- 2-d convolution, as torch.nn.functional.conv2d (cross-correlation, zero padding) ----
// y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * x[n, g*C/G + c, p*sh - ph + r*dh, q*sw - pw + s*dw]
// with g = k / (K/G) the group of output channel k, and out-of-range input positions read as 0.
// P = (H + 2 ph - dh (R - 1) - 1) / sh + 1 (floor), Q likewise; both must be >= 1.
// Geometry fields that are 0 stand for their default (stride 1, dilation 1, groups 1), so a
// zeroed geometry is a plain stride-1 unpadded convolution.
typedef struct ds_conv2d_geom {
    int stride_h, stride_w;      // >= 1 (0: 1)
    int pad_h, pad_w;            // >= 0
    int dilation_h, dilation_w;  // >= 1 (0: 1)
    int groups;                  // >= 1 (0: 1), divides C and K
} ds_conv2d_geom;

// Scratch memory (warp-ctc style): the caller asks how many bytes a shape needs
// (ds_conv2d_workspace_size, on the backend of x's device) and passes that much as `workspace`
// to forward and backward, carved from its own arena, so the op never allocates. The CPU backend
// uses it for im2col columns: one (C/G * R * S, P * Q) buffer per parallel slot (0 bytes for a
// 1x1 stride-1 unpadded convolution, which multiplies x directly); for a dilated kernel that mostly
// reads padding (its tap-wise path, kernels/cpu/conv2d.c) the weights repacked tap by tap and then
// one (C/G + K/G, P * Q) gather buffer per slot. A smaller workspace than asked for still works
// (fewer slots run in parallel); one below a single slot is an error.
typedef struct ds_conv2d_workspace_args {
    ds_tensor x;     // (N, C, H, W): shape, dtype and device only (data may be NULL)
    ds_tensor w;     // (K, C/G, R, S): shape and dtype only (data may be NULL)
    ds_conv2d_geom geom;
    size_t *bytes;   // out (host): bytes of workspace that forward and backward of this shape take
} ds_conv2d_workspace_args;

typedef struct ds_conv2d_fwd_args {
    ds_tensor x;          // (N, C, H, W)
    ds_tensor w;          // (K, C/G, R, S) torch layout
    ds_tensor b;          // (K), may be absent
    ds_tensor y;          // (N, K, P, Q) out, must not overlap x
    ds_tensor workspace;  // any dtype, >= the queried bytes; may be absent when that is 0
    ds_conv2d_geom geom;
} ds_conv2d_fwd_args;

// dx is overwritten; dw and db are added into when accumulate (ops convention). Every output is
// the same for any thread count: dw sums the images in order, dx is a col2im per channel.
typedef struct ds_conv2d_bwd_args {
    ds_tensor x;          // (N, C, H, W) forward input
    ds_tensor w;          // (K, C/G, R, S)
    ds_tensor dy;         // (N, K, P, Q)
    ds_tensor dx;         // (N, C, H, W) out, may be absent (the first layer)
    ds_tensor dw;         // (K, C/G, R, S) out, may be absent (a frozen weight)
    ds_tensor db;         // (K) out, may be absent
    ds_tensor workspace;  // as forward
    ds_conv2d_geom geom;
    bool accumulate;
} ds_conv2d_bwd_args;

// ---- batch normalisation over (N, H, W) per channel, split for SyncBatchNorm ----
// Training (torch.nn.BatchNorm2d.train(), or SyncBatchNorm over every rank's batch):
//   bn_stats      local sums           -> stats   (the model all-reduces stats over ranks)
//   bn_finalize   global stats         -> mean, rstd; updates the running statistics
//   bn_apply      y = (x - mean) rstd gamma + beta
// and backward:
//   bn_bwd_reduce local sums of dy, dy*xhat -> sums; dgamma, dbeta (local: the trainer
//                 all-reduces parameter gradients like every other)  (the model all-reduces sums)
//   bn_bwd_apply  dx = gamma rstd (dy - sum(dy)/n - xhat sum(dy xhat)/n) from the global sums
// Eval (running statistics): bn_finalize(use_running) -> mean, rstd; bn_apply; backward is
// bn_bwd_apply without sums (dx = dy gamma rstd), plus bn_bwd_reduce when gamma/beta need gradients.
// A statistics buffer is (2C + 1) F64: [0, C) the first sum, [C, 2C) the second, [2C] the count
// of values per channel (N*H*W), so that one all-reduce of the buffer sums counts too. Sums are
// taken in double in a fixed order: results are the same for any thread count, and the variance
// E[x^2] - mean^2 keeps ~1e-16 * mean^2/var relative accuracy (harmless for activations).
typedef struct ds_bn_stats_args {
    ds_tensor x;      // (N, C, H, W)
    ds_tensor stats;  // (2C + 1) F64 out: sum x, sum x^2, count
} ds_bn_stats_args;

// Training (use_running false): mean = sum/n, var = sum2/n - mean^2 (biased, what normalises),
// rstd = 1/sqrt(var + eps); when present, running_mean = (1 - momentum) running_mean + momentum
// mean and running_var likewise with the UNBIASED var * n/(n-1), num_batches_tracked += 1 (as
// torch). n must be > 1 (torch: "Expected more than 1 value per channel when training").
// Eval (use_running true): mean = running_mean, rstd = 1/sqrt(running_var + eps); nothing updates.
typedef struct ds_bn_finalize_args {
    ds_tensor stats;                // (2C + 1) F64, summed over every rank; absent with use_running
    ds_tensor mean, rstd;           // (C) out, F32 or F64 (the activations' dtype)
    ds_tensor running_mean;         // (C) F32, updated in place (training) or read (eval); may be absent in training
    ds_tensor running_var;          // (C) F32, as running_mean
    ds_tensor num_batches_tracked;  // (1) I64, += 1 in training; may be absent
    double eps, momentum;
    bool use_running;
} ds_bn_finalize_args;

typedef struct ds_bn_apply_args {
    ds_tensor x;            // (N, C, H, W)
    ds_tensor mean, rstd;   // (C)
    ds_tensor gamma, beta;  // (C)
    ds_tensor y;            // (N, C, H, W) out, may be x itself
} ds_bn_apply_args;

typedef struct ds_bn_bwd_reduce_args {
    ds_tensor x;              // (N, C, H, W) forward input
    ds_tensor mean, rstd;     // (C) what forward normalised with
    ds_tensor dy;             // (N, C, H, W)
    ds_tensor sums;           // (2C + 1) F64 out: sum dy, sum dy*xhat, count; may be absent (eval)
    ds_tensor dgamma, dbeta;  // (C) out, local sums; both absent for a frozen BN
    bool accumulate;          // dgamma/dbeta += instead of =
} ds_bn_bwd_reduce_args;

typedef struct ds_bn_bwd_apply_args {
    ds_tensor x;            // (N, C, H, W) forward input (read only with sums; may be absent without)
    ds_tensor mean, rstd;   // (C)
    ds_tensor gamma;        // (C)
    ds_tensor dy;           // (N, C, H, W)
    ds_tensor sums;         // (2C + 1) F64 summed over every rank; absent: eval (running statistics)
    ds_tensor dx;           // (N, C, H, W) out, may be dy itself
} ds_bn_bwd_apply_args;

// ---- ReLU, in place or not: y = max(x, 0) (NaN stays NaN); dx = dy where y > 0, else 0 ----
// Uses ds_unary_fwd_args / ds_unary_bwd_args; backward reads y (x may be absent), so y may have
// overwritten x and dx may be dy.

// ---- 2-d max pooling, as torch.nn.functional.max_pool2d(return_indices=True) ----
// Padding reads as -inf; the first maximum in row-major window order wins a tie and NaN wins
// over numbers (torch's CPU rule). indices[n, c, p, q] = h * W + w of the winner within its
// (H, W) plane, as torch. P = (H + 2 ph - dh (kh - 1) - 1 (+ sh - 1 when ceil_mode)) / sh + 1,
// minus 1 when ceil_mode and the last window would start in the padding (torch's rule).
typedef struct ds_pool2d_geom {
    int kernel_h, kernel_w;      // >= 1
    int stride_h, stride_w;      // >= 1 (0: the kernel size, as torch's default)
    int pad_h, pad_w;            // in [0, kernel/2]
    int dilation_h, dilation_w;  // >= 1 (0: 1)
    bool ceil_mode;
} ds_pool2d_geom;

typedef struct ds_maxpool2d_fwd_args {
    ds_tensor x;        // (N, C, H, W)
    ds_tensor y;        // (N, C, P, Q) out
    ds_tensor indices;  // (N, C, P, Q) I32 out, saved for backward
    ds_pool2d_geom geom;
} ds_maxpool2d_fwd_args;

typedef struct ds_maxpool2d_bwd_args {
    ds_tensor indices;  // (N, C, P, Q) I32 from forward
    ds_tensor dy;       // (N, C, P, Q)
    ds_tensor dx;       // (N, C, H, W) out: the sum of dy over the outputs whose winner it was
    // Optional (kernel_h 0: not given): forward's geometry. The CPU ignores it; CUDA's FAST
    // backward uses it to gather, for each input cell, the outputs whose window holds it (no
    // atomics); without it CUDA walks each plane's outputs in order on one thread. It must be the
    // geometry the indices came from.
    ds_pool2d_geom geom;
} ds_maxpool2d_bwd_args;

// ---- adaptive average pooling, as torch.nn.functional.adaptive_avg_pool2d ----
// Output cell (i, j) averages rows [floor(i H / P), ceil((i + 1) H / P)) and columns likewise.
typedef struct ds_adaptive_avgpool2d_args {
    ds_tensor x;  // forward: (N, C, H, W) in; backward: dy (N, C, P, Q) in
    ds_tensor y;  // forward: (N, C, P, Q) out; backward: dx (N, C, H, W) out
} ds_adaptive_avgpool2d_args;

// ---- interpolation (resizing) to a given output size, as torch.nn.functional.interpolate(size=) ----
// Bilinear: source coordinate src = (dst + 0.5) * in/out - 0.5 clamped at 0 (align_corners
// false) or dst * (in - 1)/(out - 1) (align_corners true); neighbours i0 = floor(src) and
// i1 = min(i0 + 1, in - 1), weights 1 - l and l with l = src - i0. Up or down, any ratio.
// Backward scatters each dy through the same weights, plane by plane in a fixed order (no
// atomics): deterministic, and the same for any thread count.
typedef enum ds_interp_mode { DS_INTERP_BILINEAR = 0 } ds_interp_mode;

typedef struct ds_interpolate_args {
    ds_tensor x;  // forward: (N, C, H, W) in; backward: dy (N, C, OH, OW) in
    ds_tensor y;  // forward: (N, C, OH, OW) out; backward: dx (N, C, H, W) out
    ds_interp_mode mode;
    bool align_corners;
} ds_interpolate_args;

// ---- per-pixel cross-entropy, as torch.nn.functional.cross_entropy(logits (N, K, H, W),
// targets (N, H, W), weight=class_weights, ignore_index=, reduction="mean") ----
// loss = sum_i w[t_i] (lse_i - logit_i[t_i]) / sum_i w[t_i] over the pixels i whose target is
// not ignore_index (w = 1 without class weights). weight_sum is that denominator (the valid
// pixel count without weights): the trainer weights each rank's and micro-batch's loss by it.
// With no valid pixel the loss is NaN (0/0, like torch) and backward gives zeros. A target that
// is neither in [0, K) nor ignore_index is an error naming the pixel. Sums in double, in a fixed
// order (the same for any thread count).
typedef struct ds_pixel_ce_fwd_args {
    ds_tensor logits;         // (N, K, H, W)
    ds_tensor targets;        // (N, H, W) I32
    ds_tensor class_weights;  // (K) same dtype as logits, may be absent (all 1)
    ds_tensor loss;           // (1) out
    ds_tensor weight_sum;     // (1) out, the denominator
    ds_tensor lse;            // (N, H, W) out, per-pixel logsumexp, saved for backward
    int ignore_index;         // segmentation: 255
} ds_pixel_ce_fwd_args;

typedef struct ds_pixel_ce_bwd_args {
    ds_tensor logits;         // (N, K, H, W)
    ds_tensor targets;        // (N, H, W) I32
    ds_tensor class_weights;  // (K), may be absent
    ds_tensor lse;            // (N, H, W) from forward
    ds_tensor weight_sum;     // (1) from forward
    ds_tensor dlogits;        // (N, K, H, W) out
    double dloss;             // upstream gradient of the scalar loss
    int ignore_index;
} ds_pixel_ce_bwd_args;

// ---- channel slice copy: dst[:, dst_c0 + i] (+)= src[:, src_c0 + i] for i < channels ----
// Concatenation along channels (copy each part into its slice) and its backward (copy each
// slice out) are this one op. src and dst have the same N and spatial size and must not overlap.
typedef struct ds_channel_copy_args {
    ds_tensor src;       // (N, Cs, H, W)
    ds_tensor dst;       // (N, Cd, H, W) out
    int64_t src_c0, dst_c0, channels;
    bool accumulate;     // dst += src instead of =
} ds_channel_copy_args;
// ================================ speech ops ================================

// ---- log-softmax over the last dim: y = x - logsumexp(x) (torch.nn.functional.log_softmax) ----
// Uses the softmax args: forward x (N, C) -> y (N, C); backward from y (the forward output) and
// dy: dx = dy - exp(y) sum_j dy_j. The row sums are taken in double.

// ---- CTC loss (torch.nn.functional.ctc_loss), in log space ----
// Layout (batch-first, unlike torch's (T, N, C)): log_probs (N, T, C), the log-softmax of the
// logits over C; targets padded (N, S): row n's first target_lengths[n] entries are its labels,
// the rest is ignored. Each utterance n uses frames [0, input_lengths[n]) and its own labels;
// the extended label sequence is blank, l1, blank, l2, ..., lL, blank (2L+1 states) with the
// skip from l(k-1) to l(k) allowed when the two labels differ.
//   losses[n] = -log p(targets_n | log_probs_n), +inf when no alignment exists (fewer frames
//               than labels plus repeats); 0 in that case when zero_infinity
//   loss      = sum_n losses[n]                                (DS_CTC_SUM)
//             = mean_n losses[n] / max(target_lengths[n], 1)   (DS_CTC_MEAN, as torch)
// The recursions run on probabilities in an extended-range double format (a mantissa and a
// binary exponent per state, kernels/cpu/ctc_loss.c), so there is no exp or log per state and
// no underflow, for both dtypes: torch's float32 log-space CTC loses ~1e-3 of its gradient at
// T = 400 by rounding log-likelihoods of hundreds of nats; ours stays near double precision
// until the outputs are rounded. Utterances run in parallel; results do not depend on the
// thread count.
// alpha (N, T, 2S+1) F64 and alpha_exp (N, T, 2S+1) I32 are the forward's saved state: for frame
// t < input_lengths[n] of utterance n, alpha_t(state) = alpha * 2^alpha_exp with entries [0, L]
// the blank states 0, 2, .., 2L and [S+1, S+L] the label states 1, 3, .., 2L-1
// (L = target_lengths[n]); a zero probability is alpha = 0, alpha_exp = INT32_MIN. Other entries
// are not written. (A probability below 2^-2147483647, a log-likelihood under -1.5e9, counts as
// 0; so does a log-prob under -1e15.) On CUDA with run.ctc = cudnn (ds_gpu_options.ctc), the
// cases cuDNN takes (F32, blank 0, S <= 255) run cuDNN's fp32 log-space CTC instead: alpha and
// alpha_exp are then not written, and the CUDA backward of such a forward recomputes through cuDNN
// (docs/cuda_ops_speech.md).
typedef enum ds_ctc_reduction { DS_CTC_MEAN = 0, DS_CTC_SUM } ds_ctc_reduction;

// What backward differentiates with respect to.
//   DS_CTC_GRAD_LOG_PROBS: d loss / d log_probs, the true gradient: -w_n * gamma_n(t, c), gamma
//     being the posterior occupancy of class c at frame t (what finite differences measure).
//   DS_CTC_GRAD_LOGITS: d loss / d logits for log_probs = log_softmax(logits):
//     w_n * (exp(log_probs) - gamma_n) for t < input_lengths[n], 0 beyond. This is exactly what
//     torch's ctc_loss backward returns as "the gradient of log_probs" (it assumes normalised
//     log-probabilities), and equals torch's autograd through log_softmax + ctc_loss; it saves
//     the log_softmax backward.
// w_n = dloss (sum) or dloss / (N max(target_lengths[n], 1)) (mean). Frames t >= input_lengths[n]
// get 0; an utterance without alignment gets NaN (as torch), or 0 when zero_infinity. Backward
// reads the likelihood from alpha, so it needs no losses.
typedef enum ds_ctc_grad_wrt { DS_CTC_GRAD_LOG_PROBS = 0, DS_CTC_GRAD_LOGITS } ds_ctc_grad_wrt;

typedef struct ds_ctc_loss_fwd_args {
    ds_tensor log_probs;        // (N, T, C) float
    ds_tensor targets;          // (N, S) I32, each used label in [0, C) and != blank
    ds_tensor input_lengths;    // (N) I32 in [0, T]
    ds_tensor target_lengths;   // (N) I32 in [0, S]
    ds_tensor losses;           // (N) out, log_probs' dtype
    ds_tensor loss;             // (1) out, the reduction
    ds_tensor alpha;            // (N, T, 2S+1) F64 out, saved for backward
    ds_tensor alpha_exp;        // (N, T, 2S+1) I32 out, saved for backward
    int blank;                  // in [0, C)
    ds_ctc_reduction reduction;
    bool zero_infinity;
} ds_ctc_loss_fwd_args;

typedef struct ds_ctc_loss_bwd_args {
    ds_tensor log_probs;        // (N, T, C)
    ds_tensor targets;          // (N, S) I32
    ds_tensor input_lengths;    // (N) I32
    ds_tensor target_lengths;   // (N) I32
    ds_tensor alpha;            // (N, T, 2S+1) F64 from forward
    ds_tensor alpha_exp;        // (N, T, 2S+1) I32 from forward
    ds_tensor grad;             // (N, T, C) out
    double dloss;               // upstream gradient of `loss`
    int blank;
    ds_ctc_reduction reduction;
    bool zero_infinity;
    ds_ctc_grad_wrt wrt;
} ds_ctc_loss_bwd_args;

// The number a trainer weighs a CTC loss by when it combines micro-batches or ranks: the batch
// size for DS_CTC_MEAN (the loss is a mean over utterances), 1 for DS_CTC_SUM (a sum needs no
// weight: sums add). *is_sum says which.
double ds_ctc_loss_weight(ds_ctc_reduction reduction, int64_t batch, bool *is_sum);

// ---- group norm (torch.nn.GroupNorm): per sample and group of C/G channels, over those
// channels and every position; biased variance; affine per channel ----
typedef struct ds_groupnorm_fwd_args {
    ds_tensor x;      // (N, C, L...) any number of trailing dims (L = their product)
    ds_tensor gamma;  // (C)
    ds_tensor beta;   // (C)
    ds_tensor y;      // x's shape, out
    ds_tensor mean;   // (N, G) out, saved for backward
    ds_tensor rstd;   // (N, G) out, 1/sqrt(var + eps)
    int groups;       // G, C % G == 0
    double eps;
} ds_groupnorm_fwd_args;

typedef struct ds_groupnorm_bwd_args {
    ds_tensor x, gamma, mean, rstd;  // as in forward
    ds_tensor dy;                    // x's shape
    ds_tensor dx;                    // x's shape, out
    ds_tensor dgamma, dbeta;         // (C) out
    int groups;
    bool accumulate;
} ds_groupnorm_bwd_args;

// ---- weight norm (torch.nn.utils.weight_norm / parametrizations.weight_norm with `dim`) ----
// w = g * v / ||v||, the norm over every dim of v except `dim` (one norm per index of `dim`).
// g holds v.shape[dim] values in any shape of that numel (torch keeps (1, .., K, .., 1)).
// Backward: dg = sum(dw v) / ||v||, dv = (g / ||v||) (dw - (dg / ||v||) v), both per slice.
typedef struct ds_weight_norm_fwd_args {
    ds_tensor v;     // any shape, 1 <= ndim
    ds_tensor g;     // v.shape[dim] elements
    ds_tensor w;     // v's shape, out
    ds_tensor norm;  // (v.shape[dim]) out, ||v|| per slice, saved for backward
    int dim;         // in [0, v.ndim)
} ds_weight_norm_fwd_args;

typedef struct ds_weight_norm_bwd_args {
    ds_tensor v, g, norm;  // as in forward
    ds_tensor dw;          // v's shape
    ds_tensor dv;          // v's shape, out
    ds_tensor dg;          // g's shape, out
    int dim;
    bool accumulate;       // dv/dg += instead of =
} ds_weight_norm_bwd_args;

// ---- SpecAugment's masking of hidden states (HF Wav2Vec2Model._mask_hidden_states) ----
// y[b, t, :] = embed where time_mask[b, t], else x[b, t, :]; then y[b, t, c] = 0 wherever
// feature_mask[b, c] (HF applies the time masks first, then zeroes the masked features). Either
// mask may be absent. y may be x (in place). Backward: dx = dy where neither mask hits, else 0;
// dembed[c] (+)= sum over time-masked (b, t) whose feature c is not masked of dy[b, t, c], in
// (b, t) order (thread-count independent).
typedef struct ds_spec_augment_fwd_args {
    ds_tensor x;             // (B, T, C)
    ds_tensor time_mask;     // (B, T) I32 0/1, may be absent
    ds_tensor feature_mask;  // (B, C) I32 0/1, may be absent
    ds_tensor embed;         // (C) masked_spec_embed; needed when time_mask is present
    ds_tensor y;             // (B, T, C) out
} ds_spec_augment_fwd_args;

typedef struct ds_spec_augment_bwd_args {
    ds_tensor dy;            // (B, T, C)
    ds_tensor time_mask;     // (B, T) I32, may be absent
    ds_tensor feature_mask;  // (B, C) I32, may be absent
    ds_tensor dx;            // (B, T, C) out, may be dy (in place)
    ds_tensor dembed;        // (C) out, may be absent (no gradient wanted)
    bool accumulate;
} ds_spec_augment_bwd_args;


// ---- backends ----
typedef ds_status (*ds_op_fn)(ds_context *ctx, const void *args);

typedef struct ds_backend {
    const char *name;
    ds_op_fn fn[DS_OP_COUNT];  // NULL: not supported on this backend
} ds_backend;

const ds_backend *ds_backend_cpu(void);
const ds_backend *ds_backend_cuda(void);  // in a build without CUDA, every slot is NULL
const ds_backend *ds_backend_for(ds_device_kind kind);
bool ds_backend_supports(const ds_backend *b, ds_op op);

// Runs `op` on the backend that owns `on` (the op's first tensor's device).
ds_status ds_op_run(ds_context *ctx, ds_op op, const ds_tensor *on, const void *args);

// Typed entry points.
ds_status ds_linear_forward(ds_context *ctx, const ds_linear_fwd_args *a);
ds_status ds_linear_backward(ds_context *ctx, const ds_linear_bwd_args *a);
ds_status ds_layernorm_forward(ds_context *ctx, const ds_layernorm_fwd_args *a);
ds_status ds_layernorm_backward(ds_context *ctx, const ds_layernorm_bwd_args *a);
ds_status ds_gelu_forward(ds_context *ctx, const ds_unary_fwd_args *a);
ds_status ds_gelu_backward(ds_context *ctx, const ds_unary_bwd_args *a);
ds_status ds_tanh_forward(ds_context *ctx, const ds_unary_fwd_args *a);
ds_status ds_tanh_backward(ds_context *ctx, const ds_unary_bwd_args *a);
ds_status ds_softmax_forward(ds_context *ctx, const ds_softmax_fwd_args *a);
ds_status ds_softmax_backward(ds_context *ctx, const ds_softmax_bwd_args *a);
ds_status ds_attention_forward(ds_context *ctx, const ds_attention_fwd_args *a);
ds_status ds_attention_backward(ds_context *ctx, const ds_attention_bwd_args *a);
ds_status ds_dropout_forward(ds_context *ctx, const ds_dropout_fwd_args *a);
ds_status ds_dropout_backward(ds_context *ctx, const ds_dropout_bwd_args *a);
ds_status ds_embedding_forward(ds_context *ctx, const ds_embedding_fwd_args *a);
ds_status ds_embedding_backward(ds_context *ctx, const ds_embedding_bwd_args *a);
ds_status ds_cross_entropy_forward(ds_context *ctx, const ds_cross_entropy_fwd_args *a);
ds_status ds_cross_entropy_backward(ds_context *ctx, const ds_cross_entropy_bwd_args *a);
ds_status ds_adamw_step(ds_context *ctx, const ds_adamw_args *a);
ds_status ds_sgd_step(ds_context *ctx, const ds_sgd_args *a);
ds_status ds_add(ds_context *ctx, const ds_add_args *a);
ds_status ds_permute_heads(ds_context *ctx, const ds_permute_heads_args *a);
ds_status ds_bce_with_logits_forward(ds_context *ctx, const ds_pointwise_loss_fwd_args *a);
ds_status ds_bce_with_logits_backward(ds_context *ctx, const ds_pointwise_loss_bwd_args *a);
ds_status ds_mse_forward(ds_context *ctx, const ds_pointwise_loss_fwd_args *a);
ds_status ds_mse_backward(ds_context *ctx, const ds_pointwise_loss_bwd_args *a);
ds_status ds_conv2d_workspace_size(ds_context *ctx, const ds_conv2d_workspace_args *a);
ds_status ds_conv2d_forward(ds_context *ctx, const ds_conv2d_fwd_args *a);
ds_status ds_conv2d_backward(ds_context *ctx, const ds_conv2d_bwd_args *a);
ds_status ds_bn_stats(ds_context *ctx, const ds_bn_stats_args *a);
ds_status ds_bn_finalize(ds_context *ctx, const ds_bn_finalize_args *a);
ds_status ds_bn_apply(ds_context *ctx, const ds_bn_apply_args *a);
ds_status ds_bn_backward_reduce(ds_context *ctx, const ds_bn_bwd_reduce_args *a);
ds_status ds_bn_backward_apply(ds_context *ctx, const ds_bn_bwd_apply_args *a);
ds_status ds_relu_forward(ds_context *ctx, const ds_unary_fwd_args *a);
ds_status ds_relu_backward(ds_context *ctx, const ds_unary_bwd_args *a);
ds_status ds_maxpool2d_forward(ds_context *ctx, const ds_maxpool2d_fwd_args *a);
ds_status ds_maxpool2d_backward(ds_context *ctx, const ds_maxpool2d_bwd_args *a);
ds_status ds_adaptive_avgpool2d_forward(ds_context *ctx, const ds_adaptive_avgpool2d_args *a);
ds_status ds_adaptive_avgpool2d_backward(ds_context *ctx, const ds_adaptive_avgpool2d_args *a);
ds_status ds_interpolate_forward(ds_context *ctx, const ds_interpolate_args *a);
ds_status ds_interpolate_backward(ds_context *ctx, const ds_interpolate_args *a);
ds_status ds_pixel_cross_entropy_forward(ds_context *ctx, const ds_pixel_ce_fwd_args *a);
ds_status ds_pixel_cross_entropy_backward(ds_context *ctx, const ds_pixel_ce_bwd_args *a);
ds_status ds_channel_copy(ds_context *ctx, const ds_channel_copy_args *a);

// Output extent of a convolution / pooling window along one axis (floor mode), or <= 0 when the
// input is too small: (in + 2 pad - dilation (kernel - 1) - 1) / stride + 1.
int64_t ds_conv_out_size(int64_t in, int kernel, int stride, int pad, int dilation);
// The (output position, kernel tap) pairs along one axis whose input position
// out * stride - pad + tap * dilation lies inside [0, in): kernel * out_size without padding,
// fewer with it. Over both axes their product counts the multiply-adds per input and output channel
// that do not read zero padding (what the CPU conv's tap-wise path computes, and the FLOP basis of
// the segmentation bench).
int64_t ds_conv_valid_pairs(int64_t in, int kernel, int stride, int pad, int dilation);
// The same for max pooling, with torch's ceil_mode rule.
int64_t ds_pool_out_size(int64_t in, int kernel, int stride, int pad, int dilation, bool ceil_mode);
ds_status ds_log_softmax_forward(ds_context *ctx, const ds_softmax_fwd_args *a);
ds_status ds_log_softmax_backward(ds_context *ctx, const ds_softmax_bwd_args *a);
ds_status ds_ctc_loss_forward(ds_context *ctx, const ds_ctc_loss_fwd_args *a);
ds_status ds_ctc_loss_backward(ds_context *ctx, const ds_ctc_loss_bwd_args *a);
ds_status ds_groupnorm_forward(ds_context *ctx, const ds_groupnorm_fwd_args *a);
ds_status ds_groupnorm_backward(ds_context *ctx, const ds_groupnorm_bwd_args *a);
ds_status ds_weight_norm_forward(ds_context *ctx, const ds_weight_norm_fwd_args *a);
ds_status ds_weight_norm_backward(ds_context *ctx, const ds_weight_norm_bwd_args *a);
ds_status ds_spec_augment_forward(ds_context *ctx, const ds_spec_augment_fwd_args *a);
ds_status ds_spec_augment_backward(ds_context *ctx, const ds_spec_augment_bwd_args *a);

#endif
