// Fuzz target: model config.json readers. The first input byte picks the reader, the rest is the
// file: 0 BERT's config.json (runtime/tasks/text/hf_bert.h: BertConfig's fields, id2label,
// problem_type), 1 the config.json of a DeepLabV3 directory downstream exported (class names,
// base size, mean and std; runtime/tasks/segmentation). (Wav2Vec2's preprocessor_config.json is
// in fuzz_speech_tokenizer.c.) Seeds: tests/fixtures/bert/*/config.json and an exported DeepLab.
#include <stdio.h>

#include "../../runtime/tasks/segmentation/seg_internal.h"
#include "../../runtime/tasks/text/hf_bert.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char dir[512], path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "hf_config") != 0) return 0;
    FILE *quiet = fopen("/dev/null", "w");
    ds_context ctx = ds_context_cpu();
    ctx.log.level = DS_LOG_ERROR;
    ctx.log.out = quiet;
    if (fuzz_write(dir, "config.json", data + 1, size - 1, path, sizeof path) == 0) {
        if (data[0] % 2 == 0) {
            ds_bert_config cfg;
            ds_hf_bert_info info = {0};
            ds_hf_bert_read_config(&ctx, path, &cfg, &info);
            ds_hf_bert_info_free(&info);
        } else {
            // No model.safetensors next to it: the reader checks config.json, then fails on the weights.
            seg_model_request req = {.cfg = ds_deeplab_config_default(), .for_eval = true};
            ds_deeplab_model m;
            seg_model_info info;
            if (ds_seg_model_open(&ctx, dir, &req, &m, &info) == DS_OK) ds_deeplab_free(&m);
            ds_seg_model_info_free(&info);
        }
    }
    if (quiet) fclose(quiet);
    fuzz_dir_remove(dir);
    return 0;
}
