// What the conv2d files share (conv2d.cu: entry points and dispatch; conv2d_plain.cu: the PLAIN
// direct kernels; conv2d_fast.cu + conv2d_igemm.cuh: the FAST implicit GEMM on tensor cores;
// conv2d_cudnn.cu: cuDNN and AUTO). docs/cuda_conv.md describes the algorithms.
//
// Layouts are torch's (the API's): x (N, C, H, W), w (K, C/G, R, S), y (N, K, P, Q), all
// contiguous, NCHW kept inside the backend too (no transposes; see docs/cuda_conv.md for why).
// A convolution is G independent GEMMs per the three passes:
//   forward  y_g   (Kg x N*P*Q)  = w_g (Kg x Cg*R*S) . im2col(x_g) (Cg*R*S x N*P*Q)
//   dgrad    dx_g  (Cg x N*H*W)  = w_g^T arranged (Cg x Kg*R*S) . gather(dy_g) (Kg*R*S x N*H*W)
//   wgrad    dw_g  (Kg x Cg*R*S) = dy_g (Kg x N*P*Q) . im2col(x_g)^T (N*P*Q x Cg*R*S)
// with the reduction index k of forward k = (c R + r) S + s (torch's weight order), of dgrad
// k = (ko R + r) S + s, and of wgrad the output pixel j = (n P + p) Q + q.
#ifndef DS_CUDA_CONV2D_INTERNAL_CUH
#define DS_CUDA_CONV2D_INTERNAL_CUH

#include <stdint.h>

#include "cuda_state.cuh"

// The resolved geometry of one call.
struct ds_conv_problem {
    int64_t N, C, H, W;      // input
    int64_t K, R, S;         // output channels, kernel rows, kernel columns
    int64_t P, Q;            // output rows, columns
    int64_t G, Cg, Kg;       // groups; input and output channels per group
    int sh, sw, ph, pw, dh, dw;
    ds_dtype dt;             // x's dtype (F32 or BF16); w, y, dy, dx have it too
};

// The FAST (tensor-core) path's limits: every GEMM extent and index fits in int32.
bool ds_conv_fast_fits(const ds_conv_problem &p);
// Whether our own passes of p run FAST (BF16 data, opt.kernels FAST, within the limits), not PLAIN.
bool ds_conv_own_is_fast(const ds_context *ctx, const ds_conv_problem &p);

// Bytes of workspace our own implementation uses at most for p (FAST wgrad's split-K partials,
// whatever the variant: the variant may change between the query and the call); 0 for F32.
size_t ds_conv_own_workspace_bytes(const ds_conv_problem &p);

// Our own passes (PLAIN or FAST by ctx->cuda->opt.kernels and the dtype). Pointers are device
// memory of the layouts above; b, db may be NULL; dx, dw may be NULL (not wanted). ws: workspace
// of ws_bytes (may be smaller than asked: FAST wgrad then splits less, down to no split).
ds_status ds_conv_own_forward(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *w, const float *b,
                              void *y, void *ws, size_t ws_bytes);
ds_status ds_conv_own_dgrad(ds_context *ctx, const ds_conv_problem &p, const void *w, const void *dy, void *dx);
ds_status ds_conv_own_wgrad(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *dy, float *dw,
                            bool accumulate, void *ws, size_t ws_bytes);
// db[k] (+)= sum over n, p, q of dy[n, k, p, q], in double, deterministic (channel_sums.cuh).
ds_status ds_conv_bias_grad(ds_context *ctx, const ds_conv_problem &p, const void *dy, float *db, bool accumulate);
// y[n, k, :, :] += b[k], rounded once (after cuDNN's forward, which has no bias).
ds_status ds_conv_add_bias(ds_context *ctx, const ds_conv_problem &p, const float *b, void *y);
// dw (F32) (+)= src (BF16), element by element (after cuDNN's BF16 weight gradient).
ds_status ds_conv_accumulate_bf16(ds_context *ctx, const void *src, float *dw, int64_t n, bool accumulate);

// FAST launchers (conv2d_fast.cu): BF16 x/w/dy, fp32 accumulation; dw F32.
ds_status ds_conv_fast_forward(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *w, const float *b,
                               void *y);
ds_status ds_conv_fast_dgrad(ds_context *ctx, const ds_conv_problem &p, const void *w, const void *dy, void *dx);
ds_status ds_conv_fast_wgrad(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *dy, float *dw,
                             bool accumulate, void *ws, size_t ws_bytes);
// The split count FAST wgrad uses for p with a workspace of ws_bytes (1: no split).
int ds_conv_fast_wgrad_splits(const ds_conv_problem &p, size_t ws_bytes);

// ---- cuDNN and AUTO (conv2d_cudnn.cu) ----
// Which pass of a convolution.
enum ds_conv_pass { DS_CONV_PASS_FWD = 0, DS_CONV_PASS_DGRAD = 1, DS_CONV_PASS_WGRAD = 2 };

// Bytes of workspace cuDNN's chosen algorithms need for p (the largest of the three passes plus,
// in BF16, a BF16 copy of dw), finding them first when p is new; 0 when cuDNN cannot do p (or the
// build has no cuDNN). Called by the workspace query under run.conv = cudnn | auto.
ds_status ds_conv_cudnn_workspace(ds_context *ctx, const ds_conv_problem &p, size_t *bytes);

// Runs one pass with cuDNN when it can do p within ws_bytes: *done = true. Otherwise *done =
// false and nothing ran (the caller runs our own).
ds_status ds_conv_cudnn_forward(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *w,
                                const float *b, void *y, void *ws, size_t ws_bytes, bool *done);
ds_status ds_conv_cudnn_dgrad(ds_context *ctx, const ds_conv_problem &p, const void *w, const void *dy, void *dx,
                              void *ws, size_t ws_bytes, bool *done);
ds_status ds_conv_cudnn_wgrad(ds_context *ctx, const ds_conv_problem &p, const void *x, const void *dy, float *dw,
                              bool accumulate, void *ws, size_t ws_bytes, bool *done);

// AUTO: whether pass `pass` of p with these pointer alignments should run cuDNN; on the first
// call for a (shape, alignment, pass) both are timed (see conv2d_cudnn.cu) and the answer is
// cached in ctx->cuda->conv_tuning.
struct ds_conv_operands {
    const void *x, *w, *dy;
    const float *b;
    void *y, *dx;
    float *dw;
    bool accumulate;
    void *ws;
    size_t ws_bytes;
};
ds_status ds_conv_auto_pick(ds_context *ctx, const ds_conv_problem &p, ds_conv_pass pass, const ds_conv_operands &o,
                            bool *use_cudnn);

#endif
