// The Philox stream drawn on the GPU equals the CPU's, element for element (the contract that
// lets CUDA dropout reproduce the CPU's masks). Skipped (exit 77) where no GPU is visible.
#include <cuda_runtime.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
#include "../../kernels/cuda_info.h"
#include "../../runtime/base/philox.h"
}

// out[i] = draw i of stream (seed, offset), i < n. out: (n) device.
__global__ void draw(uint64_t seed, uint64_t offset, uint32_t *out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = ds_philox_u32(seed, offset, (uint64_t)i + 0x100000000ull);  // high index bits too
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
    printf("philox_cuda: %d of %d draws differ from the CPU's\n%s\n", bad, n, bad ? "philox_cuda: 1 checks, 1 failed" : "philox_cuda: 1 checks, 0 failed");
    cudaFree(dev);
    free(host);
    return bad != 0;
}
