// Conv1d for the speech model (HF's nn.Conv1d layers): the shared conv2d op with H = 1, x (N, C, L)
// viewed as (N, C, 1, L) and the weight (K, C/G, S) as (K, C/G, 1, S); the op's workspace is carved
// from the arena for the call and released after it (a measuring arena plans it).
#ifndef DS_W2V_CONV_H
#define DS_W2V_CONV_H

#include "../../kernels/ops.h"
#include "../../runtime/base/arena.h"

typedef struct ds_w2v_conv1d {
    int stride, padding, groups;
} ds_w2v_conv1d;

// y (N, K, Lout) = conv1d(x (N, C, L), w (K, C/G, S)) + b (K) (b may be NULL or absent).
ds_status ds_w2v_conv1d_forward(ds_context *ctx, const ds_w2v_conv1d *c, const ds_tensor *x, const ds_tensor *w,
                                const ds_tensor *b, const ds_tensor *y, ds_arena *arena);

// dx (overwritten; may be NULL/absent), dw and db (added into; may be NULL/absent) from dy.
ds_status ds_w2v_conv1d_backward(ds_context *ctx, const ds_w2v_conv1d *c, const ds_tensor *x, const ds_tensor *w,
                                 const ds_tensor *dy, const ds_tensor *dx, const ds_tensor *dw, const ds_tensor *db,
                                 ds_arena *arena);

#endif
