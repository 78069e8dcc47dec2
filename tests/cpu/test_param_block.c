// The parameter block's kinds and lr groups (runtime/base/param_block.h): frozen tensors first,
// trainable ones in spec order, buffers (any dtype) last; spec indices unchanged; lr groups as
// contiguous ranges; grad views absent for frozen tensors and buffers; and the errors.
#include <stdio.h>
#include <string.h>

#include "../../runtime/base/param_block.h"
#include "../test_util.h"

static ds_param_spec spec(const char *name, int64_t n, ds_param_kind kind, ds_dtype dtype, float lr_mult) {
    ds_param_spec s = {0};
    snprintf(s.name, sizeof s.name, "%s", name);
    s.ndim = 1;
    s.shape[0] = n;
    s.kind = kind;
    s.dtype = dtype;
    s.lr_mult = lr_mult;
    return s;
}

int main(void) {
    ds_test t = ds_test_begin("param_block");
    ds_err err;
    ds_err_clear(&err);
    // As a BatchNorm network declares them: weight, bias, running stats interleaved.
    const ds_param_spec specs[] = {
        spec("conv.weight", 100, DS_PARAM_FROZEN, DS_F32, 0),
        spec("bn.weight", 10, DS_PARAM_TRAINABLE, DS_F32, 0),
        spec("bn.running_mean", 10, DS_PARAM_BUFFER, DS_F32, 0),
        spec("bn.num_batches_tracked", 1, DS_PARAM_BUFFER, DS_I64, 0),
        spec("head.weight", 70, DS_PARAM_TRAINABLE, DS_F32, 1),
        spec("aux.weight", 5, DS_PARAM_TRAINABLE, DS_F32, 10),
        spec("aux.bias", 3, DS_PARAM_TRAINABLE, DS_F32, 10),
    };
    ds_param_block pb;
    ds_test_check(&t, ds_param_block_init(&pb, specs, 7, &err) == DS_OK, "init: %s", err.msg);
    // Frozen [0, 128), trainable bn.weight 64, head 128, aux 64 + 64 -> [128, 448), buffers after.
    ds_test_check(&t, pb.offset[0] == 0 && pb.train_begin == 128, "frozen first: offset %zu, train_begin %zu",
                  pb.offset[0], pb.train_begin);
    ds_test_check(&t, pb.offset[1] == 128 && pb.offset[4] == 192 && pb.offset[5] == 320 && pb.offset[6] == 384,
                  "trainable in spec order: %zu %zu %zu %zu", pb.offset[1], pb.offset[4], pb.offset[5], pb.offset[6]);
    ds_test_check(&t, pb.train_end == 448 && pb.buffer_begin == 448 && pb.offset[2] == 448 && pb.offset[3] == 512 &&
                          pb.total == 576,
                  "buffers last: %zu %zu %zu %zu total %zu", pb.train_end, pb.buffer_begin, pb.offset[2], pb.offset[3],
                  pb.total);
    ds_test_check(&t, pb.group_count == 2 && pb.groups[0].begin == 128 && pb.groups[0].end == 320 &&
                          pb.groups[0].lr_mult == 1 && pb.groups[1].begin == 320 && pb.groups[1].end == 448 &&
                          pb.groups[1].lr_mult == 10 && pb.groups[1].first == 5 && pb.groups[1].last == 6,
                  "two lr groups (mult 0 read as 1)");
    ds_test_check(&t, ds_param_block_find(&pb, "aux.bias") == 6, "indices are the specs'");
    const ds_tensor nbt = ds_param_block_param(&pb, 3);
    ds_test_check(&t, nbt.dtype == DS_I64 && nbt.data == (void *)(pb.params + 512), "I64 buffer view");
    ((int64_t *)nbt.data)[0] = 1234567890123ll;
    ds_test_check(&t, ((const int64_t *)ds_param_block_param(&pb, 3).data)[0] == 1234567890123ll, "I64 round trip");
    ds_test_check(&t, ds_param_block_grad(&pb, 0).data == NULL && ds_param_block_grad(&pb, 2).data == NULL &&
                          ds_param_block_op_grad(&pb, 3).data == NULL,
                  "no gradient view for frozen tensors and buffers");
    ds_test_check(&t, ds_param_block_grad(&pb, 4).data == (void *)(pb.grads + 192), "gradient view of a trainable one");
    ds_test_check(&t, ds_param_block_numel(&pb) == 188 && ds_param_block_trainable_numel(&pb) == 88,
                  "numel %zu (params) / %zu (trainable)", ds_param_block_numel(&pb), ds_param_block_trainable_numel(&pb));
    ds_param_block_free(&pb);

    // A multiplier whose tensors are not consecutive: refused, naming the tensor.
    const ds_param_spec split[] = {spec("a", 4, DS_PARAM_TRAINABLE, DS_F32, 10), spec("b", 4, DS_PARAM_TRAINABLE, DS_F32, 1),
                                   spec("c", 4, DS_PARAM_TRAINABLE, DS_F32, 10)};
    ds_test_check(&t, ds_param_block_init(&pb, split, 3, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "'c'"),
                  "split lr group refused: %s", err.msg);
    ds_err_clear(&err);
    // A frozen tensor between groups does not split them (frozen ones lie elsewhere).
    const ds_param_spec gap[] = {spec("a", 4, DS_PARAM_TRAINABLE, DS_F32, 10), spec("f", 4, DS_PARAM_FROZEN, DS_F32, 1),
                                 spec("c", 4, DS_PARAM_TRAINABLE, DS_F32, 10)};
    ds_test_check(&t, ds_param_block_init(&pb, gap, 3, &err) == DS_OK && pb.group_count == 1, "frozen gap: one group");
    ds_param_block_free(&pb);
    ds_err_clear(&err);
    // A parameter that is not F32 is refused.
    const ds_param_spec bad[] = {spec("w", 4, DS_PARAM_TRAINABLE, DS_I64, 1)};
    ds_test_check(&t, ds_param_block_init(&pb, bad, 1, &err) == DS_ERR_INVALID_ARG && strstr(err.msg, "'w'"),
                  "non-F32 parameter refused: %s", err.msg);
    ds_err_clear(&err);
    // Every tensor trainable: the layout of the plain block (the BERT case).
    const ds_param_spec plain[] = {spec("x", 3, DS_PARAM_TRAINABLE, DS_F32, 0), spec("y", 65, DS_PARAM_TRAINABLE, DS_F32, 0)};
    ds_test_check(&t, ds_param_block_init(&pb, plain, 2, &err) == DS_OK && pb.train_begin == 0 && pb.offset[1] == 64 &&
                          pb.train_end == 192 && pb.total == 192 && pb.buffer_begin == 192 && pb.group_count == 1,
                  "all-trainable layout unchanged");
    ds_param_block_free(&pb);
    return ds_test_finish(&t);
}
