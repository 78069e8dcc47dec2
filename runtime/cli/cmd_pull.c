// `downstream pull ID`: downloads a model into the cache the Python libraries share (Hugging Face
// Hub repositories into $HF_HUB_CACHE, torchvision weights into $TORCH_HOME/hub/checkpoints) and
// prints its local path, so that a machine without network can be filled beforehand and
// `model.path: ID` then works offline (HF_HUB_OFFLINE=1). runtime/hub/hub.h has the details.
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../base/log.h"
#include "../hub/hub.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: downstream pull ID [--task TYPE] [--quiet]\n\n"
            "Downloads the files a model family needs into the shared caches and prints the local\n"
            "path (the snapshot directory, or the checkpoint file). ID is what model.path takes:\n"
            "  org/name[@revision]      a Hugging Face Hub repository (branch, tag or commit; default main)\n"
            "  arch.WEIGHTS             a torchvision weight, e.g. deeplabv3_resnet50.COCO_WITH_VOC_LABELS_V1\n"
            "  https://.../file.pth     a torchvision checkpoint URL\n\n"
            "  --task TYPE   the files of this task.type (text_classification: BERT's config.json,\n"
            "                model.safetensors, tokenizer.json and/or vocab.txt, tokenizer_config.json,\n"
            "                special_tokens_map.json; speech_ctc: Wav2Vec2's); default: by config.json's\n"
            "                model_type\n"
            "  --quiet       no progress\n\n"
            "Environment: HF_HUB_CACHE / HF_HOME, TORCH_HOME, HF_ENDPOINT, HF_TOKEN (gated or private\n"
            "repositories), HF_HUB_OFFLINE=1 (the cache only). A second pull downloads nothing; an\n"
            "interrupted one resumes.\n");
}

int ds_cmd_pull(int argc, char **argv) {
    const char *id = NULL, *task = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--task") == 0 && i + 1 < argc) {
            task = argv[++i];
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (argv[i][0] != '-' && !id) {
            id = argv[i];
        } else {
            fprintf(stderr, "downstream pull: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!id) {
        fprintf(stderr, "downstream pull: the model ID is required\n");
        usage(stderr);
        return 2;
    }
    if (!ds_hub_is_remote(id)) {
        fprintf(stderr,
                "downstream pull: '%s' is neither a Hub id (org/name[@revision]), a torchvision weight name nor a "
                "URL%s\n",
                id, strchr(id, '/') && strchr(strchr(id, '/') + 1, '/') ? " (a local path?)" : "");
        return 2;
    }
    ds_log log = ds_log_default();
    if (quiet) log.level = DS_LOG_WARN;
    ds_err err;
    ds_err_clear(&err);
    char local[4096];
    if (ds_hub_resolve(&log, id, task, local, sizeof local, &err) != DS_OK) {
        fprintf(stderr, "downstream pull: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", local);
    return 0;
}
