// The nccl communicator on one GPU: a world of one with dist.backend forced to nccl and the unique
// id shared through a file (no MPI, no launcher). With one rank every sum is the identity, so
// this checks the whole path rather than the arithmetic: communicator creation (non-blocking,
// polled), a device all-reduce waiting on an event of the caller's stream, host buffers staged
// through the device (piece by piece beyond the 16 MiB staging buffer), broadcast, barrier, and an
// orderly close. Skipped (77) without a GPU or NCCL.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "../../runtime/dist/comm.h"
#include "../test_util.h"
}

int main(void) {
    int devices = 0;
    if (!ds_comm_backend_built(DS_COMM_NCCL) || cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("comm_nccl: skipped: %s\n", ds_comm_backend_built(DS_COMM_NCCL) ? "no CUDA device" : "built without NCCL");
        return DS_TEST_SKIP;
    }
    ds_test t = ds_test_begin("comm_nccl");
    char path[512];
    ds_test_tmpfile("nccl_id", path, sizeof path);
    ds_world w = ds_world_single();
    ds_comm_options o = ds_comm_options_default();
    o.backend = DS_COMM_NCCL;
    o.bootstrap = DS_BOOTSTRAP_FILE;
    o.bootstrap_file = path;
    o.timeout_s = 60;
    o.cuda = true;
    o.cuda_device = 0;
    ds_comm *c = NULL;
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(&t, ds_comm_open(&w, &o, NULL, &c, &err) == DS_OK, "open: %s", err.msg))
        return ds_test_finish(&t);

    const int n = 1000;
    float host[1000], back[1000];
    for (int i = 0; i < n; i++) host[i] = 0.5f * (float)i - 3.0f;
    float *dev = NULL;  // (n) device
    cudaMalloc(&dev, n * sizeof(float));
    cudaMemcpy(dev, host, n * sizeof(float), cudaMemcpyHostToDevice);
    ds_comm_ticket tk = 0;
    ds_test_check(&t, ds_comm_iallreduce_sum(c, dev, n, &tk, &err) == DS_OK && ds_comm_wait(c, tk, &err) == DS_OK,
                  "device all-reduce: %s", err.msg);
    cudaMemcpy(back, dev, n * sizeof(float), cudaMemcpyDeviceToHost);
    ds_test_check(&t, memcmp(host, back, sizeof host) == 0, "one rank: the device sum is the identity");

    // A blocking device all-reduce (SyncBatchNorm's F64 sums): ordered after a kernel-free copy on
    // the caller's stream (the legacy default here), complete on return.
    double *ddev = NULL, dback[2] = {0, 0};
    const double dsrc[2] = {0.25, -1e-300};
    cudaMalloc(&ddev, sizeof dsrc);
    cudaMemcpy(ddev, dsrc, sizeof dsrc, cudaMemcpyHostToDevice);
    ds_test_check(&t, ds_comm_allreduce_sum_device(c, ddev, 2, DS_F64, &err) == DS_OK, "device F64 all-reduce: %s",
                  err.msg);
    cudaMemcpy(dback, ddev, sizeof dback, cudaMemcpyDeviceToHost);
    ds_test_check(&t, memcmp(dsrc, dback, sizeof dback) == 0, "one rank: the device F64 sum is the identity");
    cudaFree(ddev);

    double d[3] = {1.5, -2.0, 1e300};
    int64_t counts[2] = {7, -9};
    char text[16] = "rank zero";
    ds_test_check(&t, ds_comm_allreduce_sum(c, d, 3, DS_F64, &err) == DS_OK && d[0] == 1.5 && d[2] == 1e300,
                  "host F64 all-reduce through the device: %s", err.msg);
    ds_test_check(&t, ds_comm_allreduce_sum(c, counts, 2, DS_I64, &err) == DS_OK && counts[1] == -9,
                  "host I64 all-reduce: %s", err.msg);
    ds_test_check(&t, ds_comm_broadcast(c, text, sizeof text, 0, &err) == DS_OK && strcmp(text, "rank zero") == 0,
                  "broadcast: %s", err.msg);
    // A host buffer larger than the 16 MiB staging buffer goes piece by piece (a parameter
    // broadcast); 40 MiB of floats: three pieces, the last one partial.
    const size_t big_n = (size_t)10 << 20;
    float *big = (float *)malloc(big_n * sizeof(float));
    for (size_t i = 0; i < big_n; i++) big[i] = (float)(i % 4099) - 7.0f;
    bool same = ds_comm_allreduce_sum(c, big, (int64_t)big_n, DS_F32, &err) == DS_OK;
    for (size_t i = 0; same && i < big_n; i++) same = big[i] == (float)(i % 4099) - 7.0f;
    ds_test_check(&t, same, "host all-reduce of 40 MiB in pieces: %s", err.msg);
    same = ds_comm_broadcast(c, big, big_n * sizeof(float), 0, &err) == DS_OK;
    for (size_t i = 0; same && i < big_n; i++) same = big[i] == (float)(i % 4099) - 7.0f;
    ds_test_check(&t, same, "host broadcast of 40 MiB in pieces: %s", err.msg);
    free(big);
    ds_test_check(&t, ds_comm_barrier(c, &err) == DS_OK, "barrier: %s", err.msg);
    ds_test_check(&t, !ds_comm_failed(c), "no failure");
    ds_comm_close(c);
    cudaFree(dev);
    FILE *f = fopen(path, "r");
    ds_test_check(&t, f == NULL, "rank 0 removed the bootstrap file at the end");
    if (f) fclose(f);
    return ds_test_finish(&t);
}
