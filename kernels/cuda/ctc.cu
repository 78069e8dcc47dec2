// CTC loss on CUDA (torch.nn.functional.ctc_loss semantics, the op contract of kernels/ops.h);
// the CPU reference is kernels/cpu/ctc_loss.c. log_probs and grad F32 or F64 (as the CPU op: the
// loss is computed in double either way, so a BF16 path would only add a conversion); targets,
// lengths I32; alpha (N, T, 2S+1) F64 and alpha_exp (N, T, 2S+1) I32 as on the CPU, so either
// backend's backward reads either backend's forward state.
//
// Numerics: the CPU op's extended-range probabilities (a double mantissa and a binary exponent
// per state; the exponent is the log2 of the state's probability up to the mantissa's factor), so
// the recursion has no exp or log per state and cannot underflow (ctc_math.cuh). The alpha rows
// are bit-identical to the CPU's.
//
// Kernels, one block per utterance (blockIdx.x = utterance n - n0), threads striding over the
// 2L+1 states s of the extended sequence (s even: blank s/2; s odd: label (s-1)/2), so any L
// works (targets of 2,000 labels use the same code as 20):
//   forward   for t = 0..T-1: alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) [+ alpha_{t-1}(s-2)
//             when s is a label differing from label s-2]) y_t(s); the two rows (previous,
//             current) live in the block's work area, one barrier per frame; each row is also
//             stored into alpha/alpha_exp at the CPU's index (blank j at [j], label j at
//             [S+1+j]). Thread 0 writes -log p to a double per utterance.
//   finish    one thread: losses[n] (zero_infinity), then the sum or the mean in utterance
//             order, in double, as the CPU.
//   backward  frames [T, T_max) set to 0; then for t = T-1..0: beta_t from beta_{t+1} (two rows
//             in the work area), the occupancy alpha beta / (y p) of every state into the work
//             area, and the gradient row: every class first as if its occupancy were 0, then,
//             after a barrier, the blank (a fixed-order block sum over the blank states) and
//             each label class (the first label of each class walks the chain of its repeats in
//             label order) overwrite theirs. Global writes of one block separated by a barrier
//             land in order, so the last one stays; no atomics anywhere: identical bits every run.
// The work area of a block: dynamic shared memory when it fits the device's opt-in limit
// (forward 32 (2S+1) bytes; backward 40 (2S+1) + 8 S bytes: S <= ~2,600 labels on sm_90, ~1,900
// on sm_80), else a slice of ctx->cuda->scratch (1 MiB), with the utterances launched in chunks
// that fit (a chunk of one utterance fits up to S ~= 11,900 in backward); longer targets are
// DS_ERR_UNSUPPORTED. The same code reads either memory through a generic pointer.
// Lengths and targets are checked on the device (one synchronisation) unless
// opt.trusted_indices, with the CPU op's messages; nothing is written before that.
// run.ctc = cudnn (opt.ctc) hands the cases cuDNN takes to ctc_cudnn.cu after the same checks; the
// finish kernel (losses, reduction) is this file's either way.
#include <math.h>

#include "block_reduce.cuh"
#include "ctc_internal.cuh"
#include "ctc_math.cuh"
#include "op_checks.cuh"

extern "C" {
#include "cuda_ops.h"
}

enum { CTC_MAX_THREADS = 512, CTC_DEFAULT_SMEM = 48 * 1024 };

// Index into a (N, T, 2S+1) alpha row of state s (the CPU's split layout).
static __device__ __forceinline__ int64_t ctc_store_index(int64_t s, int64_t S) {
    return (s & 1) ? S + 1 + (s >> 1) : (s >> 1);
}

// The class of state s: the blank, or label (s-1)/2.
static __device__ __forceinline__ int ctc_class(int64_t s, const int32_t *tg, int blank) {
    return (s & 1) ? tg[s >> 1] : blank;
}

// Whether label state s (odd) may be entered from label state s-2: the two labels differ.
static __device__ __forceinline__ bool ctc_skip_from_prev(int64_t s, const int32_t *tg) {
    return (s & 1) && s >= 3 && tg[s >> 1] != tg[(s >> 1) - 1];
}

// Bytes of a block's work area.
static size_t fwd_work_bytes(int64_t S) { return (size_t)(32 * (2 * S + 1)); }
static size_t bwd_work_bytes(int64_t S) { return (size_t)(40 * (2 * S + 1) + 8 * S); }

// Forward: alpha rows, and nll[n] = -log p (double, device).
template <typename T>
__global__ void __launch_bounds__(CTC_MAX_THREADS)
    ctc_forward_kernel(const T *lp, const int32_t *targets, const int32_t *il, const int32_t *tl, ctc_geom g,
                       double *alpha, int32_t *alpha_exp, double *nll, char *gwork, size_t stride, int64_t n0) {
    extern __shared__ double ctc_smem[];
    const int64_t n = n0 + blockIdx.x;
    const int64_t L = tl[n], Tn = il[n], W = 2 * g.S + 1, Ws = 2 * L + 1;
    const int32_t *tg = targets + n * g.S;
    // rows: rv[r * W + s], re[r * W + s] for r = t & 1
    double *work = gwork ? (double *)(gwork + blockIdx.x * stride) : ctc_smem;
    double *rv = work, *re = work + 2 * W;
    const T *lpn = lp + n * g.T * g.C;
    double *an = alpha + n * g.T * W;
    int32_t *aen = alpha_exp + n * g.T * W;
    for (int64_t t = 0; t < Tn; t++) {
        const T *lpt = lpn + t * g.C;
        const int64_t cur = (t & 1) * W, prev = W - cur;
        for (int64_t s = threadIdx.x; s < Ws; s += blockDim.x) {
            double yv, ye, v, e;
            ctc_exp_split((double)lpt[ctc_class(s, tg, g.blank)], &yv, &ye);
            if (t == 0) {
                v = s < 2 ? yv : 0.0;
                e = s < 2 ? ye : CTC_ZERO_E;
            } else {
                const bool skip = ctc_skip_from_prev(s, tg);
                ctc_sum3_mul(rv[prev + s], re[prev + s], s >= 1 ? rv[prev + s - 1] : 0.0,
                             s >= 1 ? re[prev + s - 1] : CTC_ZERO_E, skip ? rv[prev + s - 2] : 0.0,
                             skip ? re[prev + s - 2] : CTC_ZERO_E, yv, ye, &v, &e);
            }
            rv[cur + s] = v;
            re[cur + s] = e;
            const int64_t k = t * W + ctc_store_index(s, g.S);
            an[k] = v;
            aen[k] = ctc_exp_store(v, e);
        }
        __syncthreads();  // row t complete before row t+1 reads it (and before its buffer is rewritten)
    }
    if (threadIdx.x != 0) return;
    if (Tn == 0) {
        nll[n] = L == 0 ? 0.0 : INFINITY;
        return;
    }
    // p = last blank + last label, from the stored row (as the CPU's ctc_likelihood).
    const int64_t last = (Tn - 1) * W;
    const double lv = L > 0 ? an[last + g.S + L] : 0.0, le = L > 0 ? ctc_exp_of(aen[last + g.S + L]) : CTC_ZERO_E;
    double pv, pe;
    ctc_sum3_mul(an[last + L], ctc_exp_of(aen[last + L]), lv, le, 0.0, CTC_ZERO_E, 1.0, 0.0, &pv, &pe);
    nll[n] = -ctc_log(pv, pe);
}

// losses[n] and the reduction, in utterance order (one thread).
template <typename T>
__global__ void ctc_finish_kernel(const double *nll, const int32_t *tl, int64_t N, bool mean, bool zero_infinity,
                                  T *losses, T *loss) {
    double total = 0;
    for (int64_t n = 0; n < N; n++) {
        double l = nll[n];
        if (zero_infinity && l == INFINITY) l = 0;
        losses[n] = (T)l;
        total = __dadd_rn(total, mean ? l / (double)(tl[n] > 1 ? tl[n] : 1) : l);
    }
    if (mean) total /= (double)N;
    loss[0] = (T)total;
}

// Backward into grad (N, T_max, C).
template <typename T>
__global__ void __launch_bounds__(CTC_MAX_THREADS)
    ctc_backward_kernel(const T *lp, const int32_t *targets, const int32_t *il, const int32_t *tl, ctc_geom g,
                        const double *alpha, const int32_t *alpha_exp, double dloss, bool mean, bool zero_infinity,
                        bool wrt_logits, T *grad, char *gwork, size_t stride, int64_t n0) {
    extern __shared__ double ctc_smem[];
    __shared__ double red[33];
    const int64_t n = n0 + blockIdx.x;
    const int64_t L = tl[n], Tn = il[n], W = 2 * g.S + 1, Ws = 2 * L + 1, C = g.C;
    const int32_t *tg = targets + n * g.S;
    // rows rv/re (2 W each), occupancies occ (W), then label chains: nxt[j] the next label with
    // j's class (-1: none), head[j] 1 when j is its class's first label.
    double *work = gwork ? (double *)(gwork + blockIdx.x * stride) : ctc_smem;
    double *rv = work, *re = work + 2 * W, *occ = work + 4 * W;
    int32_t *nxt = (int32_t *)(work + 5 * W), *head = nxt + g.S;
    const T *lpn = lp + n * g.T * C;
    T *gn = grad + n * g.T * C;
    const double *an = alpha + n * g.T * W;
    const int32_t *aen = alpha_exp + n * g.T * W;
    for (int64_t i = Tn * C + threadIdx.x; i < g.T * C; i += blockDim.x) gn[i] = (T)0;
    if (Tn == 0) return;
    const int64_t last = (Tn - 1) * W;
    const double lv = L > 0 ? an[last + g.S + L] : 0.0, le = L > 0 ? ctc_exp_of(aen[last + g.S + L]) : CTC_ZERO_E;
    double pv, pe;
    ctc_sum3_mul(an[last + L], ctc_exp_of(aen[last + L]), lv, le, 0.0, CTC_ZERO_E, 1.0, 0.0, &pv, &pe);
    if (pv == 0.0 || pv != pv) {
        // No alignment: NaN (torch's -inf + inf), or 0 with zero_infinity; NaN stays NaN.
        const T v = zero_infinity && pv == 0.0 ? (T)0 : (T)NAN;
        for (int64_t i = threadIdx.x; i < Tn * C; i += blockDim.x) gn[i] = v;
        return;
    }
    const double wgt = mean ? dloss / ((double)(L > 1 ? L : 1) * (double)g.N) : dloss;
    for (int64_t j = threadIdx.x; j < L; j += blockDim.x) {
        int32_t nx = -1, hd = 1;
        for (int64_t k = j + 1; k < L && nx < 0; k++)
            if (tg[k] == tg[j]) nx = (int32_t)k;
        for (int64_t k = 0; k < j && hd; k++)
            if (tg[k] == tg[j]) hd = 0;
        nxt[j] = nx;
        head[j] = hd;
    }
    for (int64_t t = Tn - 1; t >= 0; t--) {
        const T *lpt = lpn + t * C;
        T *gr = gn + t * C;
        const int64_t cur = (t & 1) * W, nx = W - cur;
        __syncthreads();  // beta_{t+1} complete, occupancies and chains of frame t+1 read
        double gb = 0.0;  // this thread's blank occupancies, in state order
        for (int64_t s = threadIdx.x; s < Ws; s += blockDim.x) {
            double yv, ye, v, e;
            ctc_exp_split((double)lpt[ctc_class(s, tg, g.blank)], &yv, &ye);
            if (t == Tn - 1) {
                const bool end = s == Ws - 1 || s == Ws - 2;
                v = end ? yv : 0.0;
                e = end ? ye : CTC_ZERO_E;
            } else {
                // beta_t(s) from s, s+1 and (label s whose next label differs) s+2 at t+1.
                const bool skip = (s & 1) && s + 2 < Ws && tg[(s >> 1) + 1] != tg[s >> 1];
                ctc_sum3_mul(rv[nx + s], re[nx + s], s + 1 < Ws ? rv[nx + s + 1] : 0.0,
                             s + 1 < Ws ? re[nx + s + 1] : CTC_ZERO_E, skip ? rv[nx + s + 2] : 0.0,
                             skip ? re[nx + s + 2] : CTC_ZERO_E, yv, ye, &v, &e);
            }
            rv[cur + s] = v;
            re[cur + s] = e;
            // alpha beta / (y p): the CPU's expression and order.
            const int64_t k = t * W + ctc_store_index(s, g.S);
            const double inv = yv == 0.0 ? 0.0 : 1.0 / __dmul_rn(yv, pv);
            const double o = __dmul_rn(__dmul_rn(__dmul_rn(an[k], v), inv),
                                       ctc_pow2(__dadd_rn(__dadd_rn(__dadd_rn(ctc_exp_of(aen[k]), e), -ye), -pe)));
            occ[s] = o;
            if (!(s & 1)) gb = __dadd_rn(gb, o);
        }
        // Every class as if unoccupied; the blank and the label classes are overwritten below.
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            double cv, ce;
            ctc_exp_split((double)lpt[c], &cv, &ce);
            gr[c] = wrt_logits ? (T)__dmul_rn(wgt, __dmul_rn(cv, ctc_pow2(ce))) : (T)(-__dmul_rn(wgt, 0.0));
        }
        gb = ds_block_sum(gb, red);  // barriers: occ and the default row are complete after this
        double cv, ce;
        if (threadIdx.x == 0) {
            ctc_exp_split((double)lpt[g.blank], &cv, &ce);
            gr[g.blank] = wrt_logits ? (T)__dmul_rn(wgt, __dadd_rn(__dmul_rn(cv, ctc_pow2(ce)), -gb))
                                     : (T)(-__dmul_rn(wgt, gb));
        }
        for (int64_t j = threadIdx.x; j < L; j += blockDim.x) {
            if (!head[j]) continue;
            double gamma = 0.0;
            for (int64_t k = j; k >= 0; k = nxt[k]) gamma = __dadd_rn(gamma, occ[2 * k + 1]);
            ctc_exp_split((double)lpt[tg[j]], &cv, &ce);
            gr[tg[j]] = wrt_logits ? (T)__dmul_rn(wgt, __dadd_rn(__dmul_rn(cv, ctc_pow2(ce)), -gamma))
                                   : (T)(-__dmul_rn(wgt, gamma));
        }
    }
}

// First failing check in the CPU op's order, as an item i = n (S + 2) + k: k = 0 input_lengths[n],
// k = 1 target_lengths[n], k = 2 + j label j of utterance n. *first holds UINT64_MAX before.
static __global__ void ctc_validate_kernel(const int32_t *targets, const int32_t *il, const int32_t *tl, ctc_geom g,
                                           unsigned long long *first) {
    const int64_t per = g.S + 2, total = g.N * per;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t n = i / per, k = i - n * per;
        bool bad;
        if (k == 0) bad = il[n] < 0 || il[n] > g.T;
        else if (k == 1) bad = tl[n] < 0 || tl[n] > g.S;
        else {
            const int32_t v = targets[n * g.S + (k - 2)];
            bad = k - 2 < tl[n] && (v < 0 || v >= g.C || v == g.blank);
        }
        if (bad) atomicMin(first, (unsigned long long)i);  // integer min: the same answer every run
    }
}

// Shapes, dtypes, blank, and (unless trusted) the lengths and labels.
static ds_status check_common(ds_context *ctx, ds_cuda_state *cu, const char *op, const ds_tensor *lp,
                              const ds_tensor *targets, const ds_tensor *il, const ds_tensor *tl,
                              const ds_tensor *alpha, const ds_tensor *alpha_exp, int blank, ctc_geom *g) {
    DS_TRY(ds_cuda_check(ctx, op, "log_probs", lp, DS_DTYPE_COUNT, 3, NULL));
    DS_REQUIRE(&ctx->err, lp->dtype == DS_F32 || lp->dtype == DS_F64, DS_ERR_INVALID_ARG,
               "%s: log_probs: expected dtype F32 or F64 on cuda, got %s", op, ds_dtype_name(lp->dtype));
    g->N = lp->shape[0], g->T = lp->shape[1], g->C = lp->shape[2];
    const int64_t ts[2] = {g->N, -1};
    DS_TRY(ds_cuda_check(ctx, op, "targets", targets, DS_I32, 2, ts));
    g->S = targets->shape[1];
    const int64_t ns[1] = {g->N}, as[3] = {g->N, g->T, 2 * g->S + 1};
    DS_TRY(ds_cuda_check(ctx, op, "input_lengths", il, DS_I32, 1, ns));
    DS_TRY(ds_cuda_check(ctx, op, "target_lengths", tl, DS_I32, 1, ns));
    DS_TRY(ds_cuda_check(ctx, op, "alpha", alpha, DS_F64, 3, as));
    DS_TRY(ds_cuda_check(ctx, op, "alpha_exp", alpha_exp, DS_I32, 3, as));
    DS_REQUIRE(&ctx->err, blank >= 0 && blank < g->C, DS_ERR_INVALID_ARG, "%s: blank = %d is not a class of [0, %lld)",
               op, blank, (long long)g->C);
    DS_REQUIRE(&ctx->err, g->S < INT32_MAX / 2, DS_ERR_INVALID_ARG, "%s: targets: %lld labels per utterance is too many",
               op, (long long)g->S);
    g->blank = blank;
    if (g->N == 0 || cu->opt.trusted_indices) return DS_OK;
    unsigned long long *first = (unsigned long long *)cu->scratch;  // device, 8 bytes
    DS_CUDA_CHECK(&ctx->err, cudaMemsetAsync(first, 0xff, sizeof *first, cu->stream));
    ctc_validate_kernel<<<ds_cuda_grid(g->N * (g->S + 2), 256), 256, 0, cu->stream>>>(
        (const int32_t *)targets->data, (const int32_t *)il->data, (const int32_t *)tl->data, *g, first);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    unsigned long long bad = 0;
    DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(&bad, first, sizeof bad, cudaMemcpyDeviceToHost, cu->stream));
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(cu->stream));
    if (bad == ~0ull) return DS_OK;
    const int64_t per = g->S + 2, n = (int64_t)bad / per, k = (int64_t)bad - n * per;
    int32_t v = 0;
    const int32_t *src = k == 0 ? (const int32_t *)il->data + n
                         : k == 1 ? (const int32_t *)tl->data + n
                                  : (const int32_t *)targets->data + n * g->S + (k - 2);
    DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(&v, src, sizeof v, cudaMemcpyDeviceToHost, cu->stream));
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(cu->stream));
    if (k == 0)
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: input_lengths[%lld] = %d must lie in [0, T = %lld]", op,
                          (long long)n, (int)v, (long long)g->T);
    if (k == 1)
        return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG, "%s: target_lengths[%lld] = %d must lie in [0, S = %lld]",
                          op, (long long)n, (int)v, (long long)g->S);
    return ds_err_set(&ctx->err, DS_ERR_INVALID_ARG,
                      "%s: targets[%lld, %lld] = %d must be a class of [0, %lld) other than the blank %d", op,
                      (long long)n, (long long)(k - 2), (int)v, (long long)g->C, blank);
}

// Where the blocks' work areas go: shared memory (chunk = all utterances) or slices of the
// scratch after `reserved` bytes (chunk = how many fit). Sets the kernel's dynamic shared memory
// limit when more than the default 48 KiB is needed.
struct ctc_plan {
    bool smem;
    size_t bytes, stride;  // per block
    int64_t chunk;         // utterances per launch
    unsigned threads;
};

static ds_status plan_work(ds_context *ctx, ds_cuda_state *cu, const char *op, const void *kernel, size_t bytes,
                           size_t reserved, const ctc_geom &g, ctc_plan *p) {
    const int64_t W = 2 * g.S + 1;
    int64_t th = (W + 31) / 32 * 32;
    p->threads = (unsigned)(th > (int64_t)CTC_MAX_THREADS ? (int64_t)CTC_MAX_THREADS : th);
    p->bytes = bytes;
    p->stride = (bytes + 255) / 256 * 256;
    // The backward kernel's 264 bytes of static shared memory count against the same limit.
    if (bytes + 512 <= cu->max_smem_optin) {
        p->smem = true;
        p->chunk = g.N;
        if (bytes > CTC_DEFAULT_SMEM)
            DS_CUDA_CHECK(&ctx->err, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
        return DS_OK;
    }
    p->smem = false;
    p->chunk = reserved < cu->scratch_bytes ? (int64_t)((cu->scratch_bytes - reserved) / p->stride) : 0;
    DS_REQUIRE(&ctx->err, p->chunk > 0, DS_ERR_UNSUPPORTED,
               "%s: targets of %lld labels need %zu bytes of work per utterance, more than the shared memory (%zu) "
               "and the scratch (%zu) hold",
               op, (long long)g.S, bytes, cu->max_smem_optin, cu->scratch_bytes - (reserved < cu->scratch_bytes ? reserved : 0));
    if (p->chunk > g.N) p->chunk = g.N;
    return DS_OK;
}

template <typename T>
static ds_status launch_forward(ds_context *ctx, ds_cuda_state *cu, const ds_ctc_loss_fwd_args *a, const ctc_geom &g) {
    const char *op = "ctc_loss_forward";
    // The scratch holds nll (N doubles) first, then the global work areas when needed.
    const size_t reserved = ((size_t)g.N * sizeof(double) + 255) / 256 * 256;
    DS_REQUIRE(&ctx->err, reserved <= cu->scratch_bytes, DS_ERR_UNSUPPORTED,
               "%s: a batch of %lld utterances is more than the scratch holds", op, (long long)g.N);
    double *nll = (double *)cu->scratch;
    if (ds_ctc_cudnn_takes(cu, g, a->log_probs.dtype)) {
        DS_TRY(ds_ctc_cudnn_nll(ctx, cu, a, g, nll));
    } else {
        ctc_plan p;
        DS_TRY(plan_work(ctx, cu, op, (const void *)ctc_forward_kernel<T>, fwd_work_bytes(g.S), reserved, g, &p));
        for (int64_t n0 = 0; n0 < g.N; n0 += p.chunk) {
            const int64_t cnt = g.N - n0 < p.chunk ? g.N - n0 : p.chunk;
            ctc_forward_kernel<T><<<(unsigned)cnt, p.threads, p.smem ? p.bytes : 0, cu->stream>>>(
                (const T *)a->log_probs.data, (const int32_t *)a->targets.data, (const int32_t *)a->input_lengths.data,
                (const int32_t *)a->target_lengths.data, g, (double *)a->alpha.data, (int32_t *)a->alpha_exp.data, nll,
                p.smem ? NULL : (char *)cu->scratch + reserved, p.stride, n0);
            DS_CUDA_CHECK_LAUNCH(&ctx->err);
        }
    }
    ctc_finish_kernel<T><<<1, 1, 0, cu->stream>>>(nll, (const int32_t *)a->target_lengths.data, g.N,
                                                   a->reduction == DS_CTC_MEAN, a->zero_infinity,
                                                   (T *)a->losses.data, (T *)a->loss.data);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

extern "C" ds_status ds_cuda_ctc_loss_forward(ds_context *ctx, const void *args) {
    const ds_ctc_loss_fwd_args *a = (const ds_ctc_loss_fwd_args *)args;
    const char *op = "ctc_loss_forward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_REQUIRE(&ctx->err, a->reduction == DS_CTC_MEAN || a->reduction == DS_CTC_SUM, DS_ERR_INVALID_ARG,
               "%s: reduction %d is neither mean nor sum", op, (int)a->reduction);
    ctc_geom g;
    // Shapes first (no device work), then the value checks.
    DS_TRY(check_common(ctx, cu, op, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, &a->alpha,
                        &a->alpha_exp, a->blank, &g));
    const int64_t ns[1] = {g.N};
    DS_TRY(ds_cuda_check(ctx, op, "losses", &a->losses, a->log_probs.dtype, 1, ns));
    DS_TRY(ds_cuda_check_numel(ctx, DS_CUDA_CTX_DEVICE, op, "loss", &a->loss, a->log_probs.dtype, 1));
    if (a->log_probs.dtype == DS_F32) return launch_forward<float>(ctx, cu, a, g);
    return launch_forward<double>(ctx, cu, a, g);
}

template <typename T>
static ds_status launch_backward(ds_context *ctx, ds_cuda_state *cu, const ds_ctc_loss_bwd_args *a, const ctc_geom &g) {
    ctc_plan p;
    DS_TRY(plan_work(ctx, cu, "ctc_loss_backward", (const void *)ctc_backward_kernel<T>, bwd_work_bytes(g.S), 0, g,
                     &p));
    for (int64_t n0 = 0; n0 < g.N; n0 += p.chunk) {
        const int64_t cnt = g.N - n0 < p.chunk ? g.N - n0 : p.chunk;
        ctc_backward_kernel<T><<<(unsigned)cnt, p.threads, p.smem ? p.bytes : 0, cu->stream>>>(
            (const T *)a->log_probs.data, (const int32_t *)a->targets.data, (const int32_t *)a->input_lengths.data,
            (const int32_t *)a->target_lengths.data, g, (const double *)a->alpha.data,
            (const int32_t *)a->alpha_exp.data, a->dloss, a->reduction == DS_CTC_MEAN, a->zero_infinity,
            a->wrt == DS_CTC_GRAD_LOGITS, (T *)a->grad.data, p.smem ? NULL : (char *)cu->scratch, p.stride, n0);
        DS_CUDA_CHECK_LAUNCH(&ctx->err);
    }
    return DS_OK;
}

extern "C" ds_status ds_cuda_ctc_loss_backward(ds_context *ctx, const void *args) {
    const ds_ctc_loss_bwd_args *a = (const ds_ctc_loss_bwd_args *)args;
    const char *op = "ctc_loss_backward";
    ds_cuda_state *cu = NULL;
    DS_TRY(ds_cuda_state_of(ctx, op, &cu));
    DS_REQUIRE(&ctx->err, a->reduction == DS_CTC_MEAN || a->reduction == DS_CTC_SUM, DS_ERR_INVALID_ARG,
               "%s: reduction %d is neither mean nor sum", op, (int)a->reduction);
    DS_REQUIRE(&ctx->err, a->wrt == DS_CTC_GRAD_LOG_PROBS || a->wrt == DS_CTC_GRAD_LOGITS, DS_ERR_INVALID_ARG,
               "%s: wrt %d is neither log_probs nor logits", op, (int)a->wrt);
    ctc_geom g;
    DS_TRY(check_common(ctx, cu, op, &a->log_probs, &a->targets, &a->input_lengths, &a->target_lengths, &a->alpha,
                        &a->alpha_exp, a->blank, &g));
    DS_TRY(ds_cuda_check(ctx, op, "grad", &a->grad, a->log_probs.dtype, 3, a->log_probs.shape));
    if (g.N == 0) return DS_OK;
    if (ds_ctc_cudnn_takes(cu, g, a->log_probs.dtype)) return ds_ctc_cudnn_backward(ctx, cu, a, g);
    if (a->log_probs.dtype == DS_F32) return launch_backward<float>(ctx, cu, a, g);
    return launch_backward<double>(ctx, cu, a, g);
}
