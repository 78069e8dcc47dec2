// The Philox stream drawn on the GPU equals the CPU's, element for element (the contract that
// lets CUDA dropout reproduce the CPU's masks): the shared header's function, and the device-side
// helpers of kernels/cuda/philox_dev.cuh (__umulhi rounds, select pick, four keep decisions per
// call) that attention's FAST kernels use. Skipped (exit 77) where no GPU is visible.
#include <cuda_runtime.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
#include "../../kernels/cuda_info.h"
#include "../../runtime/base/philox.h"
}
#include "../../kernels/cuda/philox_dev.cuh"

// out[i] = draw i of stream (seed, offset), i < n. out: (n) device.
__global__ void draw(uint64_t seed, uint64_t offset, uint32_t *out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = ds_philox_u32(seed, offset, (uint64_t)i + 0x100000000ull);  // high index bits too
}

// out[i] = the device helper's draw i; keep[i4] = the keep bits of block i4 for p = 0.3.
__global__ void draw_dev(uint64_t seed, uint64_t offset, uint32_t *out, uint32_t *keep, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = ds_philox_u32_dev(seed, offset, (uint64_t)i + 0x100000000ull);
    if (i < n / 4) keep[i] = ds_philox_keep4_dev(seed, offset, (uint64_t)i + 0x40000000ull, 0.3f);
}

// Compares the device helpers with the CPU's ds_philox_u32 / ds_philox_keep; returns mismatches.
static int check_dev_helpers(int n) {
    uint32_t *dev = NULL, *dkeep = NULL;
    uint32_t *host = (uint32_t *)malloc(sizeof(uint32_t) * n), *hkeep = (uint32_t *)malloc(sizeof(uint32_t) * n / 4);
    if (cudaMalloc(&dev, sizeof(uint32_t) * n) != cudaSuccess || cudaMalloc(&dkeep, sizeof(uint32_t) * n / 4) != cudaSuccess ||
        !host || !hkeep)
        return n;
    cudaMemset(dev, 0xff, sizeof(uint32_t) * n);
    cudaMemset(dkeep, 0xff, sizeof(uint32_t) * n / 4);
    draw_dev<<<(n + 255) / 256, 256>>>(0x0123456789abcdefull, 1ull << 40, dev, dkeep, n);
    if (cudaGetLastError() != cudaSuccess || cudaMemcpy(host, dev, sizeof(uint32_t) * n, cudaMemcpyDeviceToHost) != cudaSuccess ||
        cudaMemcpy(hkeep, dkeep, sizeof(uint32_t) * n / 4, cudaMemcpyDeviceToHost) != cudaSuccess)
        return n;
    int bad = 0;
    for (int i = 0; i < n; i++) bad += host[i] != ds_philox_u32(0x0123456789abcdefull, 1ull << 40, (uint64_t)i + 0x100000000ull);
    for (int i = 0; i < n / 4; i++) {
        uint32_t want = 0;
        for (int u = 0; u < 4; u++)
            want |= (uint32_t)ds_philox_keep(0x0123456789abcdefull, 1ull << 40, 4 * ((uint64_t)i + 0x40000000ull) + u, 0.3f) << u;
        bad += hkeep[i] != want;
    }
    cudaFree(dev), cudaFree(dkeep);
    free(host), free(hkeep);
    return bad;
}

int main(void) {
    char why[256] = "";
    if (ds_cuda_device_count(why, sizeof why) == 0) {
        printf("philox_cuda: skipped: %s\n", why);
        return 77;
    }
    const int n = 1 << 20;
    uint32_t *dev = NULL, *host = (uint32_t *)malloc(sizeof(uint32_t) * n);
    if (cudaMalloc(&dev, sizeof(uint32_t) * n) != cudaSuccess || !host) {
        printf("FAIL: allocation\n");
        return 1;
    }
    cudaMemset(dev, 0xff, sizeof(uint32_t) * n);  // poison: an unwritten element cannot match by chance
    draw<<<(n + 255) / 256, 256>>>(0x0123456789abcdefull, 77, dev, n);
    if (cudaGetLastError() != cudaSuccess || cudaMemcpy(host, dev, sizeof(uint32_t) * n, cudaMemcpyDeviceToHost) != cudaSuccess) {
        printf("FAIL: kernel or copy\n");
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) bad += host[i] != ds_philox_u32(0x0123456789abcdefull, 77, (uint64_t)i + 0x100000000ull);
    const int bad_dev = check_dev_helpers(n);
    printf("philox_cuda: %d of %d draws differ from the CPU's; device helpers: %d mismatches\n", bad, n, bad_dev);
    printf("philox_cuda: 2 checks, %d failed\n", (bad != 0) + (bad_dev != 0));
    bad += bad_dev;
    cudaFree(dev);
    free(host);
    return bad != 0;
}
