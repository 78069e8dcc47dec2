// Elementwise activations on CUDA: GELU (erf form, as the CPU op, torch's default and BERT's
// "gelu") and tanh, forward and backward, any shape, F32 or BF16 (one dtype per call), in fp32
// with one rounding on store. PLAIN and FAST variants come from elementwise.cuh.
#include "op_checks.cuh"
#include "cuda_state.cuh"
#include "elementwise.cuh"

extern "C" {
#include "cuda_ops.h"
}

// y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2; erff is CUDA's accurate one (no fast math).
struct gelu_fwd_fn {
    __device__ float operator()(float x) const { return x * 0.5f * (1.0f + erff(x * 0.70710678118654752f)); }
};

// dx = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
struct gelu_bwd_fn {
    __device__ float operator()(float x, float dy) const {
        const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        const float pdf = expf(-0.5f * x * x) * 0.39894228040143268f;
        return dy * (cdf + x * pdf);
    }
};

struct tanh_fwd_fn {
    __device__ float operator()(float x) const { return tanhf(x); }
};

// dx = dy (1 - y^2), from the saved output y.
struct tanh_bwd_fn {
    __device__ float operator()(float y, float dy) const { return dy * (1.0f - y * y); }
};

// x and y of a forward call: equal numel, one dtype (F32 or BF16). Sets *dt and *n.
static ds_status check_fwd(ds_context *ctx, const char *op, const ds_unary_fwd_args *a, ds_dtype *dt, int64_t *n) {
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "x", &a->x, -1, dt));
    *n = ds_tensor_numel(&a->x);
    return ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "y", &a->y, *dt, *n);
}

// dy, dx and the saved tensor backward reads (`saved`, called `saved_name`).
static ds_status check_bwd(ds_context *ctx, const char *op, const ds_unary_bwd_args *a, const ds_tensor *saved,
                           const char *saved_name, ds_dtype *dt, int64_t *n) {
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_TRY(ds_cuda_check_act(ctx, DS_CUDA_CTX_DEVICE, op, "dy", &a->dy, -1, dt));
    *n = ds_tensor_numel(&a->dy);
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, saved_name, saved, *dt, *n));
    return ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "dx", &a->dx, *dt, *n);
}

extern "C" ds_status ds_cuda_gelu_forward(ds_context *ctx, const void *args) {
    const ds_unary_fwd_args *a = (const ds_unary_fwd_args *)args;
    ds_dtype dt = DS_F32;  // set by the first check
    int64_t n = 0;
    DS_TRY(check_fwd(ctx, "gelu_forward", a, &dt, &n));
    return ds_map1(ctx, dt, a->x.data, a->y.data, n, gelu_fwd_fn{});
}

extern "C" ds_status ds_cuda_gelu_backward(ds_context *ctx, const void *args) {
    const ds_unary_bwd_args *a = (const ds_unary_bwd_args *)args;
    ds_dtype dt = DS_F32;  // set by the first check
    int64_t n = 0;
    DS_TRY(check_bwd(ctx, "gelu_backward", a, &a->x, "x (forward input)", &dt, &n));
    return ds_map2(ctx, dt, a->x.data, a->dy.data, a->dx.data, n, gelu_bwd_fn{});
}

extern "C" ds_status ds_cuda_tanh_forward(ds_context *ctx, const void *args) {
    const ds_unary_fwd_args *a = (const ds_unary_fwd_args *)args;
    ds_dtype dt = DS_F32;  // set by the first check
    int64_t n = 0;
    DS_TRY(check_fwd(ctx, "tanh_forward", a, &dt, &n));
    return ds_map1(ctx, dt, a->x.data, a->y.data, n, tanh_fwd_fn{});
}

extern "C" ds_status ds_cuda_tanh_backward(ds_context *ctx, const void *args) {
    const ds_unary_bwd_args *a = (const ds_unary_bwd_args *)args;
    ds_dtype dt = DS_F32;  // set by the first check
    int64_t n = 0;
    DS_TRY(check_bwd(ctx, "tanh_backward", a, &a->y, "y (forward output)", &dt, &n));
    return ds_map2(ctx, dt, a->y.data, a->dy.data, a->dx.data, n, tanh_bwd_fn{});
}
