// The full Wav2Vec2Config() (wav2vec2-base: 7 convs of 512 channels, 12 post-LN layers of 768,
// positional conv of kernel 128 in 16 groups, vocab 32) against transformers in eval mode on 1 s of
// audio (tests/fixtures/wav2vec2/base, scripts/fixtures/wav2vec2.py). The 94M weights are not
// committed: both sides compute them from the same integer-hash formula (tests/w2v_fixture.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../runtime/io/safetensors.h"
#include "../w2v_fixture.h"

// float32 through 7 convs (reductions over up to 1536 products), 12 transformer layers and the
// positional conv (6144 products per output): measured ~1e-6 of the largest logit; 1e-4 relative
// is the brief's bound and leaves two orders of magnitude while a wrong layer misses by far.
#define TOL 1e-4

int main(void) {
    ds_test t = ds_test_begin("w2v_base");
    ds_context ctx = ds_context_cpu();
    ds_w2v_config cfg = ds_w2v_config_default();
    ds_w2v_model m;
    if (!ds_test_check(&t, ds_w2v_create(&ctx, &cfg, &m) == DS_OK, "create: %s", ctx.err.msg)) return ds_test_finish(&t);
    printf("wav2vec2-base: %zu parameters\n", ds_param_block_numel(&m.params));
    ds_test_check(&t, ds_param_block_numel(&m.params) == 94396320u,
                  "wav2vec2-base with a 32-token head has 94,396,320 parameters (torch counts them so), got %zu",
                  ds_param_block_numel(&m.params));
    ds_w2v_test_formula_fill(&m);
    char path[1024];
    ds_st_file io;
    ds_err err;
    ds_err_clear(&err);
    if (ds_test_check(&t, ds_st_open(ds_test_fixture("wav2vec2/base/io.safetensors", path, sizeof path), &io, &err) == DS_OK,
                      "%s", err.msg)) {
        ds_tensor audio, want;
        if (ds_test_check(&t, ds_st_view(&io, "input_values", DS_F32, &audio, &err) == DS_OK &&
                                  ds_st_view(&io, "logits", DS_F32, &want, &err) == DS_OK,
                          "%s", err.msg)) {
            const ds_w2v_batch batch = {.B = 1, .S = audio.shape[1], .audio = audio.data};
            size_t bytes = 0;
            ds_arena arena = {0};
            ds_w2v_output out;
            if (ds_test_check(&t, ds_w2v_arena_bytes(&ctx, &m, 1, batch.S, 0, false, &bytes) == DS_OK &&
                                      ds_arena_init_cpu(&arena, bytes, &ctx.err) == DS_OK &&
                                      ds_w2v_forward(&ctx, &m, &batch, false, 0, &arena, &out) == DS_OK,
                              "forward: %s", ctx.err.msg)) {
                ds_test_check(&t, out.T == 49 && !out.has_loss, "1 s of audio gives 49 frames, got %lld",
                              (long long)out.T);
                ds_test_close(&t, "wav2vec2-base logits on 1 s of audio", &out.logits, &want, TOL);
            }
            printf("eval arena for (1, %lld): %.1f MB\n", (long long)batch.S, (double)bytes / 1e6);
            ds_arena_free(&arena);
        }
        ds_st_close(&io);
    }
    ds_w2v_free(&m);
    return ds_test_finish(&t);
}
