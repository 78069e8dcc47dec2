// The convolution shapes the conv benchmarks time (bench/conv_bench.c on the CPU,
// bench/conv_bench_gpu.c on CUDA): every distinct convolution of DeepLabV3 (taken from the model
// itself, ds_deeplab_conv_shapes, so the list cannot drift from it) or wav2vec2-base's conv1d
// layers as conv2d with H = 1, and their FLOPs.
#ifndef DS_BENCH_CONV_SHAPES_H
#define DS_BENCH_CONV_SHAPES_H

#include "../models/deeplab/deeplab.h"

// wav2vec2-base on N clips of `samples` samples: the feature encoder (512 channels, kernels
// 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2; the first on 1 channel) and the positional conv (768
// channels, kernel 128, padding 64, 16 groups), as Wav2Vec2FeatureEncoder and
// Wav2Vec2PositionalConvEmbedding. Returns the count (at most cap written).
int ds_bench_wav2vec2_shapes(int64_t N, int64_t samples, ds_deeplab_conv_shape *out, int cap);

// DeepLabV3-ResNet{depth} (21 classes, aux head, full width) on an (N, 3, H, W) batch; the count in
// *count (at most cap written). The model is created and freed here (its 168 MB block on the host).
ds_status ds_bench_deeplab_shapes(ds_context *ctx, int depth, int64_t N, int64_t H, int64_t W,
                                  ds_deeplab_conv_shape *out, int cap, int *count);

// The output size of shape s, and its forward FLOPs 2 N K P Q (C / groups) R S (backward: twice).
void ds_bench_conv_out(const ds_deeplab_conv_shape *s, int64_t *P, int64_t *Q);
double ds_bench_conv_gflop(const ds_deeplab_conv_shape *s);

#endif
