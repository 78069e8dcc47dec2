// CUDA embedding forward/backward against the CPU op on the same inputs: the forward with PLAIN
// and FAST kernels and F32/BF16 outputs; the backward with F32/BF16 dout, the deterministic
// (sorted segments) and the atomic path, accumulate off (poisoned dtable: every row must be
// written) and on, repeated ids (including segments long enough to span several blocks of the
// deterministic path), padding_idx, bit-identical repeat runs in deterministic mode, and
// out-of-range ids reported as errors with nothing written. Skipped (exit 77) without a GPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

// The forward copies rows: F32 is exact, and a BF16 output is the F32 value rounded once, which is
// what rounding the CPU's output gives: exact too.
#define TOL_OUT 0.0
// dtable sums the rows of repeated ids (up to ~2000 terms of |d| < 1 in the long-segment cases) in
// another association than the CPU's sequential order: the rounding error of such a sum is
// ~sqrt(k) * 6e-8 * |partial sums| in practice, ~1e-6 of max|dtable| here; 1e-5 keeps a margin
// while a lost, doubled or misplaced term is off by ~1e-2 or more.
#define TOL_GRAD 1e-5

typedef struct emb_case {
    int64_t v, c, n;
    int distinct;  // ids are drawn from [0, distinct) for every other position (repeats), else [0, v)
} emb_case;

static const emb_case k_cases[] = {
    {13, 7, 1, 13},        // a single position
    {13, 7, 7, 3},         // small, repeats
    {2, 64, 13, 2},        // token types: two ids
    {2, 64, 1000, 2},      // two segments of ~500 positions: they span several 256-slot blocks
    {512, 96, 4096, 3},    // three ids take half the positions: ~700-long segments
    {30522, 768, 300, 5},  // BERT's vocabulary and width
    {30522, 13, 13, 30522},
};

static uint64_t next_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

// ids (n) host I32: every other position from [0, distinct), the rest from [0, v); with a padding
// id, every fifth position is the padding id.
static ds_tensor make_ids(const emb_case *k, uint64_t seed, int32_t pad) {
    int32_t *ids = calloc((size_t)k->n, sizeof(int32_t));
    uint64_t s = seed;
    for (int64_t i = 0; i < k->n; i++) {
        const int64_t range = i % 2 ? k->distinct : k->v;
        ids[i] = (int32_t)(next_rand(&s) % (uint64_t)range);
        if (pad >= 0 && i % 5 == 0) ids[i] = pad;
    }
    return ds_tensor_make(ids, DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 1, &k->n);
}

static void run_forward(ds_test *t, ds_context *gpu, ds_context *cpu, const char *variant, const emb_case *k,
                        ds_dtype dt) {
    char what[160];
    snprintf(what, sizeof what, "%s forward out %s V=%lld C=%lld N=%lld", variant, dt == DS_F32 ? "F32" : "BF16",
             (long long)k->v, (long long)k->c, (long long)k->n);
    const int64_t tshape[2] = {k->v, k->c}, oshape[2] = {k->n, k->c};
    ds_tensor table = ds_gpu_test_random(2, tshape, (uint64_t)k->v * 7 + (uint64_t)k->c, -1.0f, 1.0f);
    ds_tensor ids = make_ids(k, (uint64_t)k->n, -1), want = ds_gpu_test_host_zeros(2, oshape);
    ds_embedding_fwd_args ca = {.ids = ids, .table = table, .out = want};
    ds_test_check(t, ds_embedding_forward(cpu, &ca) == DS_OK, "cpu embedding_forward: %s", cpu->err.msg);
    if (dt == DS_BF16) ds_gpu_test_round_bf16(&want);
    ds_tensor tabled = ds_gpu_test_upload(gpu, &table, DS_F32), idsd = ds_gpu_test_upload(gpu, &ids, DS_I32);
    ds_tensor outd = ds_gpu_test_poisoned(gpu, &want, dt);
    ds_embedding_fwd_args ga = {.ids = idsd, .table = tabled, .out = outd};
    if (ds_test_check(t, ds_embedding_forward(gpu, &ga) == DS_OK, "%s: %s", what, gpu->err.msg)) {
        ds_tensor got = ds_gpu_test_download(gpu, &outd);
        ds_test_close(t, what, &got, &want, TOL_OUT);
        free(got.data);
    }
    ds_gpu_test_free(gpu, &tabled), ds_gpu_test_free(gpu, &idsd), ds_gpu_test_free(gpu, &outd);
    free(table.data), free(ids.data), free(want.data);
}

static void run_backward(ds_test *t, ds_context *gpu, ds_context *cpu, const emb_case *k, ds_dtype dt,
                         bool deterministic, bool accumulate, int32_t pad) {
    char what[200];
    snprintf(what, sizeof what, "backward dtable %s %s acc=%d pad=%d V=%lld C=%lld N=%lld",
             dt == DS_F32 ? "F32" : "BF16", deterministic ? "deterministic" : "atomic", (int)accumulate, (int)pad,
             (long long)k->v, (long long)k->c, (long long)k->n);
    gpu->deterministic = deterministic;
    const int64_t tshape[2] = {k->v, k->c}, oshape[2] = {k->n, k->c};
    ds_tensor ids = make_ids(k, (uint64_t)k->n + 1, pad);
    ds_tensor dout = ds_gpu_test_random_rounded(2, oshape, (uint64_t)k->n * 3 + 1, -1.0f, 1.0f, dt == DS_BF16);
    ds_tensor start = ds_gpu_test_random(2, tshape, 17, -1.0f, 1.0f);  // dtable before an accumulating call
    ds_tensor want = ds_gpu_test_host_zeros(2, tshape);
    if (accumulate) memcpy(want.data, start.data, sizeof(float) * (size_t)(k->v * k->c));
    ds_embedding_bwd_args ca = {.ids = ids, .dout = dout, .dtable = want, .accumulate = accumulate,
                                .has_padding_idx = pad >= 0, .padding_idx = pad};
    ds_test_check(t, ds_embedding_backward(cpu, &ca) == DS_OK, "cpu embedding_backward: %s", cpu->err.msg);

    ds_tensor idsd = ds_gpu_test_upload(gpu, &ids, DS_I32), doutd = ds_gpu_test_upload(gpu, &dout, dt);
    ds_tensor dtd = accumulate ? ds_gpu_test_upload(gpu, &start, DS_F32) : ds_gpu_test_poisoned(gpu, &want, DS_F32);
    ds_embedding_bwd_args ga = ca;
    ga.ids = idsd, ga.dout = doutd, ga.dtable = dtd;
    if (ds_test_check(t, ds_embedding_backward(gpu, &ga) == DS_OK, "%s: %s", what, gpu->err.msg)) {
        ds_tensor got = ds_gpu_test_download(gpu, &dtd);
        ds_test_close(t, what, &got, &want, TOL_GRAD);
        if (deterministic && !accumulate) {  // the same bits on a second run
            ds_tensor dtd2 = ds_gpu_test_poisoned(gpu, &want, DS_F32);
            ga.dtable = dtd2;
            ds_test_check(t, ds_embedding_backward(gpu, &ga) == DS_OK, "%s (second run): %s", what, gpu->err.msg);
            ds_tensor got2 = ds_gpu_test_download(gpu, &dtd2);
            ds_test_check(t, ds_gpu_test_same_bits(&got, &got2), "%s: two deterministic runs differ", what);
            ds_gpu_test_free(gpu, &dtd2);
            free(got2.data);
        }
        if (pad >= 0) {  // the padding row is exactly its starting value (0, or `start` when accumulating)
            const float *g = (const float *)got.data + (int64_t)pad * k->c;
            const float *s0 = (const float *)start.data + (int64_t)pad * k->c;
            bool untouched = true;
            for (int64_t j = 0; j < k->c; j++) untouched &= g[j] == (accumulate ? s0[j] : 0.0f);
            ds_test_check(t, untouched, "%s: the padding row received gradient", what);
        }
        free(got.data);
    }
    ds_gpu_test_free(gpu, &idsd), ds_gpu_test_free(gpu, &doutd), ds_gpu_test_free(gpu, &dtd);
    free(ids.data), free(dout.data), free(start.data), free(want.data);
    gpu->deterministic = true;
}

static bool all_nan(const ds_tensor *h) {
    for (int64_t i = 0; i < ds_tensor_numel(h); i++)
        if (!isnan(((const float *)h->data)[i])) return false;
    return true;
}

// Out-of-range ids (above and below) and padding_idx are errors that name the position, and the
// outputs keep their previous contents.
static void check_errors(ds_test *t, ds_context *gpu) {
    const emb_case k = {13, 5, 9, 13};
    const int64_t tshape[2] = {k.v, k.c}, oshape[2] = {k.n, k.c};
    const int32_t bad_values[2] = {13, -1};
    for (int b = 0; b < 2; b++) {
        ds_tensor ids = make_ids(&k, 5, -1);
        ((int32_t *)ids.data)[6] = bad_values[b];
        ds_tensor table = ds_gpu_test_random(2, tshape, 1, -1.0f, 1.0f);
        ds_tensor dout = ds_gpu_test_random(2, oshape, 2, -1.0f, 1.0f);
        ds_tensor idsd = ds_gpu_test_upload(gpu, &ids, DS_I32), tabled = ds_gpu_test_upload(gpu, &table, DS_F32);
        ds_tensor outd = ds_gpu_test_poisoned(gpu, &dout, DS_F32), doutd = ds_gpu_test_upload(gpu, &dout, DS_F32);
        ds_tensor dtd = ds_gpu_test_poisoned(gpu, &table, DS_F32);
        char expect[64];
        snprintf(expect, sizeof expect, "ids[6] = %d is out of range [0, 13)", (int)bad_values[b]);

        ds_err_clear(&gpu->err);
        ds_embedding_fwd_args fa = {.ids = idsd, .table = tabled, .out = outd};
        ds_test_check(t, ds_embedding_forward(gpu, &fa) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, expect) &&
                             strstr(gpu->err.msg, "embedding_forward"),
                      "forward with id %d: expected an error naming '%s', got '%s'", (int)bad_values[b], expect,
                      gpu->err.msg);
        ds_err_clear(&gpu->err);
        ds_tensor out = ds_gpu_test_download(gpu, &outd);
        ds_test_check(t, all_nan(&out), "forward with a bad id wrote its output");

        for (int det = 0; det < 2; det++) {
            gpu->deterministic = det;
            ds_embedding_bwd_args ba = {.ids = idsd, .dout = doutd, .dtable = dtd, .accumulate = false};
            ds_test_check(t, ds_embedding_backward(gpu, &ba) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, expect) &&
                                 strstr(gpu->err.msg, "embedding_backward"),
                          "backward with id %d: expected an error naming '%s', got '%s'", (int)bad_values[b], expect,
                          gpu->err.msg);
            ds_err_clear(&gpu->err);
            ds_tensor dt = ds_gpu_test_download(gpu, &dtd);
            ds_test_check(t, all_nan(&dt), "backward with a bad id wrote dtable");
            free(dt.data);
        }
        gpu->deterministic = true;
        ds_gpu_test_free(gpu, &idsd), ds_gpu_test_free(gpu, &tabled), ds_gpu_test_free(gpu, &outd);
        ds_gpu_test_free(gpu, &doutd), ds_gpu_test_free(gpu, &dtd);
        free(ids.data), free(table.data), free(dout.data), free(out.data);
    }
    // padding_idx outside the table.
    ds_tensor ids = make_ids(&k, 5, -1), dout = ds_gpu_test_random(2, oshape, 2, -1.0f, 1.0f);
    ds_tensor table = ds_gpu_test_random(2, tshape, 1, -1.0f, 1.0f);
    ds_tensor idsd = ds_gpu_test_upload(gpu, &ids, DS_I32), doutd = ds_gpu_test_upload(gpu, &dout, DS_F32);
    ds_tensor dtd = ds_gpu_test_poisoned(gpu, &table, DS_F32);
    ds_embedding_bwd_args ba = {.ids = idsd, .dout = doutd, .dtable = dtd, .has_padding_idx = true, .padding_idx = 13};
    ds_err_clear(&gpu->err);
    ds_test_check(t, ds_embedding_backward(gpu, &ba) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, "padding_idx 13"),
                  "padding_idx 13 of 13 rows: got '%s'", gpu->err.msg);
    ds_err_clear(&gpu->err);
    ds_gpu_test_free(gpu, &idsd), ds_gpu_test_free(gpu, &doutd), ds_gpu_test_free(gpu, &dtd);
    free(ids.data), free(dout.data), free(table.data);
}

// A BF16 activation used as the table (the pooler's [CLS] row gather in bf16 mode): forward copies
// bf16 rows exactly; backward sums the rows of repeated ids in fp32 and rounds once, so it is
// within bf16's half-ulp (2^-9 relative) of the CPU's fp32 sum of the same (pre-rounded) values.
#define TOL_BF16_ROWS 4e-3
static void run_bf16_table(ds_test *t, ds_context *gpu, ds_context *cpu, int64_t v, int64_t c, int64_t n) {
    char what[160];
    snprintf(what, sizeof what, "BF16 table (row gather) V=%lld C=%lld N=%lld", (long long)v, (long long)c, (long long)n);
    const emb_case k = {v, c, n, 3};
    const int64_t tshape[2] = {v, c}, oshape[2] = {n, c};
    ds_tensor table = ds_gpu_test_random(2, tshape, 91, -1.0f, 1.0f);
    ds_gpu_test_round_bf16(&table);
    ds_tensor ids = make_ids(&k, 5, -1), want = ds_gpu_test_host_zeros(2, oshape);
    ds_embedding_fwd_args ca = {.ids = ids, .table = table, .out = want};
    ds_test_check(t, ds_embedding_forward(cpu, &ca) == DS_OK, "cpu embedding_forward: %s", cpu->err.msg);
    ds_tensor tabled = ds_gpu_test_upload(gpu, &table, DS_BF16), idsd = ds_gpu_test_upload(gpu, &ids, DS_I32);
    ds_tensor outd = ds_gpu_test_poisoned(gpu, &want, DS_BF16);
    ds_embedding_fwd_args ga = {.ids = idsd, .table = tabled, .out = outd};
    if (ds_test_check(t, ds_embedding_forward(gpu, &ga) == DS_OK, "%s forward: %s", what, gpu->err.msg)) {
        ds_tensor got = ds_gpu_test_download(gpu, &outd);
        ds_test_check(t, ds_gpu_test_same_bits(&got, &want), "%s forward: rows are not copied exactly", what);
        free(got.data);
    }
    ds_tensor dout = ds_gpu_test_random(2, oshape, 92, -1.0f, 1.0f), dwant = ds_gpu_test_host_zeros(2, tshape);
    ds_gpu_test_round_bf16(&dout);
    ds_embedding_bwd_args cb = {.ids = ids, .dout = dout, .dtable = dwant, .accumulate = false};
    ds_test_check(t, ds_embedding_backward(cpu, &cb) == DS_OK, "cpu embedding_backward: %s", cpu->err.msg);
    ds_tensor doutd = ds_gpu_test_upload(gpu, &dout, DS_BF16), dtd = ds_gpu_test_poisoned(gpu, &dwant, DS_BF16);
    ds_embedding_bwd_args gb = {.ids = idsd, .dout = doutd, .dtable = dtd, .accumulate = false};
    if (ds_test_check(t, ds_embedding_backward(gpu, &gb) == DS_OK, "%s backward: %s", what, gpu->err.msg)) {
        ds_tensor got = ds_gpu_test_download(gpu, &dtd);
        ds_test_close(t, what, &got, &dwant, TOL_BF16_ROWS);
        free(got.data);
    }
    ds_gpu_test_free(gpu, &tabled), ds_gpu_test_free(gpu, &idsd), ds_gpu_test_free(gpu, &outd);
    ds_gpu_test_free(gpu, &doutd), ds_gpu_test_free(gpu, &dtd);
    free(table.data), free(ids.data), free(want.data), free(dout.data), free(dwant.data);
}

int main(void) {
    ds_context gpu = ds_context_cpu();
    if (!ds_gpu_test_open(&gpu, "cuda_embedding")) return DS_TEST_SKIP;
    ds_context cpu = ds_context_cpu();
    ds_test t = ds_test_begin("cuda_embedding");
    const ds_kernel_variant variants[2] = {DS_KERNELS_PLAIN, DS_KERNELS_FAST};
    const size_t ncases = sizeof k_cases / sizeof k_cases[0];
    for (int v = 0; v < 2; v++) {
        ds_gpu_set_kernels(&gpu, variants[v]);
        const char *vn = v == 0 ? "PLAIN" : "FAST";
        for (size_t i = 0; i < ncases; i++) {
            run_forward(&t, &gpu, &cpu, vn, &k_cases[i], DS_F32);
            run_forward(&t, &gpu, &cpu, vn, &k_cases[i], DS_BF16);
        }
    }
    // The backward has one implementation per mode (the kernel variant does not apply).
    for (size_t i = 0; i < ncases; i++)
        for (int dt = 0; dt < 2; dt++)
            for (int det = 0; det < 2; det++)
                for (int acc = 0; acc < 2; acc++)
                    for (int pad = 0; pad < 2; pad++)
                        run_backward(&t, &gpu, &cpu, &k_cases[i], dt ? DS_BF16 : DS_F32, det, acc,
                                     pad ? (int32_t)(k_cases[i].v > 1 ? 1 : 0) : -1);
    run_bf16_table(&t, &gpu, &cpu, 32 * 128, 768, 32);  // the pooler's gather: B*T rows, B of them taken
    run_bf16_table(&t, &gpu, &cpu, 13, 7, 9);           // repeated ids sum
    check_errors(&t, &gpu);
    ds_gpu_close(&gpu);
    return ds_test_finish(&t);
}
