// The generic weight loader (runtime/io/weight_loader.h) on a torchvision-style state dict saved
// by torch (tests/fixtures/pth/model_{zip,legacy}.pth: conv, BatchNorm with running stats and a 0-d
// I64 num_batches_tracked, a fc head) into a block with every kind: trainable weights, buffers of
// F32 and I64, a frozen tensor; with a name mapping (a "backbone." prefix), a head the checkpoint
// lacks (initialised by the callback), a mismatched head (re-initialised or an error), an unused
// tensor (ignored), and a missing required tensor (an error naming it). Values are compared with
// the same tensors read back from the source (torch's values: test_pth_read holds the reader).
#include <stdio.h>
#include <string.h>

#include "../../runtime/io/tensor_source.h"
#include "../../runtime/io/weight_loader.h"
#include "../test_util.h"

static ds_param_spec spec(const char *name, int ndim, const int64_t *shape, ds_param_kind kind, ds_dtype dtype) {
    ds_param_spec s = {0};
    snprintf(s.name, sizeof s.name, "%s", name);
    s.ndim = ndim;
    for (int d = 0; d < ndim; d++) s.shape[d] = shape[d];
    s.kind = kind;
    s.dtype = dtype;
    return s;
}

typedef struct map_user {
    int inits;
    bool reinit_head;
} map_user;

static bool prefixed(void *user, const char *name, char *dst, size_t cap) {
    (void)user;
    if (strncmp(name, "fc.", 3) == 0) return (size_t)snprintf(dst, cap, "head.%s", name + 3) < cap;
    return (size_t)snprintf(dst, cap, "backbone.%s", name) < cap;
}
static ds_weight_mismatch head_mismatch(void *user, int i, const ds_tensor *found) {
    (void)i, (void)found;
    return ((map_user *)user)->reinit_head ? DS_WEIGHT_MISMATCH_REINIT : DS_WEIGHT_MISMATCH_ERROR;
}
static bool init_heads(void *user, int i) {
    (void)i;
    ((map_user *)user)->inits++;
    return i >= 9;  // the head (indices 9, 10) and the aux tensor may be new; the backbone may not
}

int main(void) {
    ds_test t = ds_test_begin("weight_loader");
    const int64_t c1[] = {8, 3, 3, 3}, c8[] = {8}, l1[] = {8, 8, 3, 3}, one[] = {1}, fc5[] = {5, 8}, b5[] = {5},
                  fc3[] = {3, 8}, b3[] = {3};
    for (int f = 0; f < 2; f++) {
        const char *file = f ? "pth/model_legacy.pth" : "pth/model_zip.pth";
        char path[1024];
        ds_test_fixture(file, path, sizeof path);
        ds_context ctx = ds_context_cpu();
        ctx.log.level = DS_LOG_ERROR;
        ds_tensor_source src = {0};
        if (!ds_test_check(&t, ds_tensor_source_open(path, &src, &ctx.err) == DS_OK, "%s: %s", file, ctx.err.msg)) continue;
        // Backbone tensors in torch's order; BN statistics as buffers; conv1 frozen; a 5-class head
        // against the checkpoint's 3 classes; an aux head the checkpoint lacks.
        const ds_param_spec specs[] = {
            spec("backbone.conv1.weight", 4, c1, DS_PARAM_FROZEN, DS_F32),
            spec("backbone.bn1.weight", 1, c8, DS_PARAM_TRAINABLE, DS_F32),
            spec("backbone.bn1.bias", 1, c8, DS_PARAM_TRAINABLE, DS_F32),
            spec("backbone.bn1.running_mean", 1, c8, DS_PARAM_BUFFER, DS_F32),
            spec("backbone.bn1.running_var", 1, c8, DS_PARAM_BUFFER, DS_F32),
            spec("backbone.bn1.num_batches_tracked", 1, one, DS_PARAM_BUFFER, DS_I64),
            spec("backbone.layer1.0.conv1.weight", 4, l1, DS_PARAM_TRAINABLE, DS_F32),
            spec("backbone.layer1.0.bn1.weight", 1, c8, DS_PARAM_TRAINABLE, DS_F32),
            spec("backbone.layer1.0.bn1.bias", 1, c8, DS_PARAM_TRAINABLE, DS_F32),
            spec("head.weight", 2, fc5, DS_PARAM_TRAINABLE, DS_F32),
            spec("head.bias", 1, b5, DS_PARAM_TRAINABLE, DS_F32),
            spec("aux.weight", 2, fc5, DS_PARAM_TRAINABLE, DS_F32),
        };
        const int n = (int)(sizeof specs / sizeof specs[0]);
        ds_param_block pb;
        ds_test_check(&t, ds_param_block_init(&pb, specs, n, &ctx.err) == DS_OK, "block: %s", ctx.err.msg);
        map_user u = {0, true};
        const ds_weight_map map = {.model_name = prefixed, .on_mismatch = head_mismatch, .init_missing = init_heads,
                                   .user = &u, .hint = "is it a ResNet?"};
        ds_weight_report r;
        const ds_status st = ds_weights_load(&ctx, &src, &pb, &map, &r);
        ds_test_check(&t, st == DS_OK, "%s: load: %s", file, ctx.err.msg);
        // 9 backbone tensors loaded; head (mismatched) and aux (absent) initialised; the rest ignored.
        ds_test_check(&t, r.loaded == 9 && r.initialised == 3 && u.inits == 3 && r.ignored == 20 - 9 - 2,
                      "%s: loaded %d, initialised %d (%s), ignored %d", file, r.loaded, r.initialised,
                      r.initialised_names, r.ignored);
        bool same = true;
        const char *names[] = {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight"};
        const char *ours[] = {"backbone.conv1.weight", "backbone.bn1.running_var", "backbone.layer1.0.conv1.weight"};
        for (int k = 0; k < 3; k++) {
            ds_tensor want;
            same &= ds_tensor_source_view(&src, names[k], DS_F32, &want, &ctx.err) == DS_OK;
            const ds_tensor got = ds_param_block_param(&pb, ds_param_block_find(&pb, ours[k]));
            same &= memcmp(got.data, want.data, ds_tensor_nbytes(&got)) == 0;
        }
        ds_test_check(&t, same, "%s: frozen, buffer and trainable tensors hold torch's bits", file);
        ds_tensor nbt;
        const bool has_nbt = ds_tensor_source_view(&src, "bn1.num_batches_tracked", DS_I64, &nbt, &ctx.err) == DS_OK;
        const ds_tensor got_nbt = ds_param_block_param(&pb, 5);
        ds_test_check(&t, has_nbt && got_nbt.dtype == DS_I64 &&
                              ((const int64_t *)got_nbt.data)[0] == ((const int64_t *)nbt.data)[0],
                      "%s: the 0-d I64 num_batches_tracked into a (1) I64 buffer", file);
        ds_param_block_free(&pb);

        // A head that may not be re-initialised: an error naming both shapes.
        const ds_param_spec strict[] = {spec("head.weight", 2, fc5, DS_PARAM_TRAINABLE, DS_F32)};
        ds_param_block_init(&pb, strict, 1, &ctx.err);
        u.reinit_head = false;
        ds_err_clear(&ctx.err);
        ds_test_check(&t, ds_weights_load(&ctx, &src, &pb, &map, NULL) == DS_ERR_FORMAT &&
                              strstr(ctx.err.msg, "'fc.weight' has shape (3, 8)") && strstr(ctx.err.msg, "(5, 8)") &&
                              strstr(ctx.err.msg, "is it a ResNet?"),
                      "%s: mismatch refused: %s", file, ctx.err.msg);
        ds_param_block_free(&pb);
        // A required tensor the checkpoint lacks: an error naming it.
        const ds_param_spec need[] = {spec("backbone.layer9.weight", 1, c8, DS_PARAM_TRAINABLE, DS_F32),
                                      spec("head.bias", 1, b3, DS_PARAM_TRAINABLE, DS_F32),
                                      spec("head.weight", 2, fc3, DS_PARAM_TRAINABLE, DS_F32)};
        ds_param_block_init(&pb, need, 3, &ctx.err);
        ds_err_clear(&ctx.err);
        ds_test_check(&t, ds_weights_load(&ctx, &src, &pb, &map, NULL) == DS_ERR_FORMAT &&
                              strstr(ctx.err.msg, "lacks 1 of the model's tensors: backbone.layer9.weight"),
                      "%s: a missing required tensor named: %s", file, ctx.err.msg);
        ds_param_block_free(&pb);
        ds_tensor_source_close(&src);
    }
    return ds_test_finish(&t);
}
