// Test helper: compares the tensors of two checkpoints (safetensors files) whose names start with
// a prefix ("param/" by default: the parameters), and says how far apart they are.
//
//   compare_checkpoints A B [--prefix P] [--rtol R] [--floor F]
//
// The distance of one tensor is max|a - b| / max(max|a|, F): relative to the tensor's largest
// value, so that one element near zero (a bias after a few steps) does not blow the ratio up, and
// to at least F (default 0), for tensors that stay at ~0 as a whole (BERT's attention key bias
// gets a gradient that is mathematically zero and moves by float noise only). The files'
// distance is the largest over tensors. Prints it with the worst tensor; exits 0 when
// it is <= R (default 0: bit-identical values); I64 tensors (BatchNorm's num_batches_tracked) count as
// 0 when equal and infinitely far otherwise. Exits 1 when above or when the two files do not hold
// the same tensors with the same shapes, 2 on a usage or read error.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/io/safetensors.h"

static double tensor_distance(const float *a, const float *b, int64_t n, double floor_) {  // (n) host each
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (d > diff || isnan(d)) diff = isnan(d) ? INFINITY : d;
        if (fabs((double)a[i]) > scale) scale = fabs((double)a[i]);
    }
    if (diff == 0) return 0;
    if (scale < floor_) scale = floor_;
    return scale > 0 ? diff / scale : INFINITY;
}

int main(int argc, char **argv) {
    const char *prefix = "param/";
    double rtol = 0, floor_ = 0;
    const char *paths[2] = {NULL, NULL};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) prefix = argv[++i];
        else if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) rtol = atof(argv[++i]);
        else if (strcmp(argv[i], "--floor") == 0 && i + 1 < argc) floor_ = atof(argv[++i]);
        else if (np < 2) paths[np++] = argv[i];
        else np = 3;
    }
    if (np != 2) {
        fprintf(stderr, "usage: compare_checkpoints A B [--prefix P] [--rtol R] [--floor F]\n");
        return 2;
    }
    ds_st_file f[2];
    ds_err err = {0};
    memset(f, 0, sizeof f);
    for (int k = 0; k < 2; k++)
        if (ds_st_open(paths[k], &f[k], &err) != DS_OK) {
            fprintf(stderr, "compare_checkpoints: %s\n", err.msg);
            ds_st_close(&f[0]);
            return 2;
        }
    int compared = 0, bad = 0;
    double worst = 0;
    const char *worst_name = "-";
    for (int k = 0; k < 2; k++)  // same tensor set: every prefixed tensor of each file is in the other
        for (int i = 0; i < f[k].count; i++)
            if (strncmp(f[k].tensors[i].name, prefix, strlen(prefix)) == 0 && !ds_st_find(&f[1 - k], f[k].tensors[i].name)) {
                printf("%s is only in %s\n", f[k].tensors[i].name, paths[k]);
                bad = 1;
            }
    for (int i = 0; i < f[0].count; i++) {
        const ds_st_tensor *a = &f[0].tensors[i];
        if (strncmp(a->name, prefix, strlen(prefix)) != 0) continue;
        const ds_st_tensor *b = ds_st_find(&f[1], a->name);
        if (!b) continue;
        if (a->dtype == DS_I64 && b->dtype == DS_I64 && a->end - a->begin == b->end - b->begin) {
            // Integer buffers (BatchNorm's num_batches_tracked) must be equal.
            const double d = memcmp(a->data, b->data, a->end - a->begin) == 0 ? 0 : INFINITY;
            if (compared == 0 || d > worst) {
                worst = d;
                worst_name = a->name;
            }
            compared++;
            continue;
        }
        if (a->dtype != DS_F32 || b->dtype != DS_F32 || a->end - a->begin != b->end - b->begin) {
            printf("%s: dtype or size differs\n", a->name);
            bad = 1;
            continue;
        }
        const double d = tensor_distance(a->data, b->data, (int64_t)((a->end - a->begin) / sizeof(float)), floor_);
        if (compared == 0 || d > worst) {
            worst = d;
            worst_name = a->name;
        }
        compared++;
    }
    printf("compared %d tensors with prefix '%s': max relative difference %.3e (%s)\n", compared, prefix, worst,
           worst_name);
    if (compared == 0) {
        printf("no tensor has the prefix\n");
        bad = 1;
    }
    if (worst > rtol) {
        printf("above the tolerance %.3e\n", rtol);
        bad = 1;
    }
    ds_st_close(&f[0]);
    ds_st_close(&f[1]);
    return bad;
}
