// The F32 CPU attention, tiled (attention_tiled.c): the fast path of ds_cpu_attention_forward /
// _backward for F32 (F64, for the finite-difference checks, keeps attention_real.inc).
//
// Per (b, h) slice, one thread: the unmasked keys are gathered into contiguous K, V (padded keys
// then cost nothing and contribute nothing, even when k or v hold NaN there; a slice with no
// padded key is used in place); queries go in tiles
// of DS_ATT_TQ = 64 rows, keys in blocks of DS_ATT_TK = 256, each block's scores S = scale Q K^T and
// products with V by OpenBLAS GEMMs; the softmax is online (running max and sum per row, earlier
// partial outputs rescaled when the max grows), so nothing of size T x T is ever held. Dropout
// factors come from dropout_mask.c, index (bh T + i) T + j for query i and original key j:
// the same masks as before. Row maxima and sums use a fixed order (16 lanes, then a fixed tree),
// and each slice is computed by one thread in a fixed order, so the result depends neither on the
// thread count nor on the instruction set (cpu_isa.h); it depends on OpenBLAS's GEMM kernel, as
// every linear layer does.
#ifndef DS_ATTENTION_TILED_H
#define DS_ATTENTION_TILED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu_isa.h"

#define DS_ATT_TQ 64
#define DS_ATT_TK 256

typedef struct ds_att_problem {
    int64_t B, H, T, D;
    const float *q, *k, *v;  // (B, H, T, D) host, or (B, T, H, D) when token_major
    const int32_t *mask;     // (B, T) host, 1 attend / 0 padding, or NULL
    float scale;
    float dropout_p;  // 0: none
    uint64_t seed, offset;
    bool token_major;  // q, k, v, out, dout, dq, dk, dv are (B, T, H, D): slice (b, h) is T rows H*D apart
} ds_att_problem;

// Where slice bh (= b H + h) of a q-shaped tensor starts, and the distance between its rows.
static inline int64_t ds_att_slice(const ds_att_problem *pb, int64_t bh) {
    return pb->token_major ? ((bh / pb->H) * pb->T * pb->H + bh % pb->H) * pb->D : bh * pb->T * pb->D;
}
static inline int64_t ds_att_ld(const ds_att_problem *pb) { return pb->token_major ? pb->H * pb->D : pb->D; }

// Bytes of scratch per thread for forward (backward = 0) or backward (1).
size_t ds_att_scratch_bytes(const ds_att_problem *pb, int backward);

// out (as q) and lse (B, H, T): host, written. scratch: threads x per_thread bytes, where
// threads >= omp_get_max_threads() and per_thread = ds_att_scratch_bytes(pb, 0).
void ds_att_forward_f32(ds_cpu_isa isa, const ds_att_problem *pb, float *out, float *lse, unsigned char *scratch,
                        size_t per_thread);

// out, lse: the forward's; dout (as q); dq, dk, dv (as q) written (not accumulated).
void ds_att_backward_f32(ds_cpu_isa isa, const ds_att_problem *pb, const float *out, const float *lse,
                         const float *dout, float *dq, float *dk, float *dv, unsigned char *scratch,
                         size_t per_thread);

#endif
