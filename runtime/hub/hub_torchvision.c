// torchvision's weights: the names of its weight enums ("resnet50.IMAGENET1K_V2", ".DEFAULT") and
// the download.pytorch.org URLs they stand for (torchvision 0.29), downloaded as torch.hub does
// into $TORCH_HOME/hub/checkpoints/<file name of the URL>, with check_hash: the hex digits after
// the last '-' of the file name must begin the file's SHA-256.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/check.h"
#include "../io/sha256.h"
#include "hub_internal.h"

typedef struct tv_weight {
    const char *name;  // "arch.WEIGHTS"
    const char *file;  // under https://download.pytorch.org/models/
} tv_weight;

// From torchvision.models.get_model_weights(arch) (scripts/ can regenerate it: see docs/ecosystem.md).
static const tv_weight k_weights[] = {
    {"deeplabv3_resnet50.COCO_WITH_VOC_LABELS_V1", "deeplabv3_resnet50_coco-cd0a2569.pth"},
    {"deeplabv3_resnet50.DEFAULT", "deeplabv3_resnet50_coco-cd0a2569.pth"},
    {"deeplabv3_resnet101.COCO_WITH_VOC_LABELS_V1", "deeplabv3_resnet101_coco-586e9e4e.pth"},
    {"deeplabv3_resnet101.DEFAULT", "deeplabv3_resnet101_coco-586e9e4e.pth"},
    {"deeplabv3_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1", "deeplabv3_mobilenet_v3_large-fc3c493d.pth"},
    {"deeplabv3_mobilenet_v3_large.DEFAULT", "deeplabv3_mobilenet_v3_large-fc3c493d.pth"},
    {"fcn_resnet50.COCO_WITH_VOC_LABELS_V1", "fcn_resnet50_coco-1167a1af.pth"},
    {"fcn_resnet50.DEFAULT", "fcn_resnet50_coco-1167a1af.pth"},
    {"fcn_resnet101.COCO_WITH_VOC_LABELS_V1", "fcn_resnet101_coco-7ecb50ca.pth"},
    {"fcn_resnet101.DEFAULT", "fcn_resnet101_coco-7ecb50ca.pth"},
    {"lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1", "lraspp_mobilenet_v3_large-d234d4ea.pth"},
    {"lraspp_mobilenet_v3_large.DEFAULT", "lraspp_mobilenet_v3_large-d234d4ea.pth"},
    {"resnet18.IMAGENET1K_V1", "resnet18-f37072fd.pth"},
    {"resnet18.DEFAULT", "resnet18-f37072fd.pth"},
    {"resnet34.IMAGENET1K_V1", "resnet34-b627a593.pth"},
    {"resnet34.DEFAULT", "resnet34-b627a593.pth"},
    {"resnet50.IMAGENET1K_V1", "resnet50-0676ba61.pth"},
    {"resnet50.IMAGENET1K_V2", "resnet50-11ad3fa6.pth"},
    {"resnet50.DEFAULT", "resnet50-11ad3fa6.pth"},
    {"resnet101.IMAGENET1K_V1", "resnet101-63fe2227.pth"},
    {"resnet101.IMAGENET1K_V2", "resnet101-cd907fc2.pth"},
    {"resnet101.DEFAULT", "resnet101-cd907fc2.pth"},
    {"resnet152.IMAGENET1K_V1", "resnet152-394f9c45.pth"},
    {"resnet152.IMAGENET1K_V2", "resnet152-f82ba261.pth"},
    {"resnet152.DEFAULT", "resnet152-f82ba261.pth"},
    {"wide_resnet50_2.IMAGENET1K_V1", "wide_resnet50_2-95faca4d.pth"},
    {"wide_resnet50_2.IMAGENET1K_V2", "wide_resnet50_2-9ba9bcbe.pth"},
    {"wide_resnet50_2.DEFAULT", "wide_resnet50_2-9ba9bcbe.pth"},
    {"mobilenet_v3_large.IMAGENET1K_V1", "mobilenet_v3_large-8738ca79.pth"},
    {"mobilenet_v3_large.IMAGENET1K_V2", "mobilenet_v3_large-5c1a4163.pth"},
    {"mobilenet_v3_large.DEFAULT", "mobilenet_v3_large-5c1a4163.pth"},
};

const char *hub_torchvision_url(const char *name) {
    // The host can be replaced (a mirror, the tests' local server): DS_TORCHVISION_BASE_URL.
    for (size_t i = 0; i < sizeof k_weights / sizeof k_weights[0]; i++)
        if (strcmp(k_weights[i].name, name) == 0) return k_weights[i].file;
    return NULL;
}

// torch.hub's HASH_REGEX r'-([a-f0-9]*)\.' (re.search: the first match) on the file name.
static void hash_prefix(const char *file, char *out, size_t cap) {
    out[0] = 0;
    for (const char *dash = strchr(file, '-'); dash; dash = strchr(dash + 1, '-')) {
        size_t n = 0;
        while (dash[1 + n] && strchr("0123456789abcdef", dash[1 + n])) n++;
        if (dash[1 + n] == '.') {
            snprintf(out, cap, "%.*s", (int)n, dash + 1);
            return;
        }
    }
}

ds_status hub_torchvision_fetch(const hub_env *env, const ds_log *log, const char *url, char *local, size_t cap,
                                ds_err *err) {
    const char *slash = strrchr(url, '/');
    const char *file = slash ? slash + 1 : url;
    DS_REQUIRE(err, file[0] && strcspn(file, "?#") == strlen(file), DS_ERR_INVALID_ARG,
               "%s: no file name at the end of the URL", url);
    snprintf(local, cap, "%.3900s/%s", env->torch_dir, file);
    if (hub_exists(local)) return DS_OK;  // torch.hub does not check a cached file again either
    if (env->offline)
        return ds_err_set(err, DS_ERR_IO,
                          "%s is not in the torch cache and HF_HUB_OFFLINE is set: put the file %s (from %s) into %s",
                          file, file, url, env->torch_dir);
    DS_TRY(hub_mkdirs(env->torch_dir, err));
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", local);
    const ds_status st = hub_http_get(url, NULL, partial, -1, log, file, env->progress_bar, err);
    if (st != DS_OK) {
        if (strstr(err->msg, "failed: HTTP") == NULL) {  // the network, not the server
            char why[1200];
            snprintf(why, sizeof why, "%s", err->msg);
            return ds_err_set(err, DS_ERR_IO, "%s; without network, put the file %s into %s", why, file,
                              env->torch_dir);
        }
        unlink(partial);
        return st;
    }
    char prefix[65], sum[65];
    hash_prefix(file, prefix, sizeof prefix);
    if (prefix[0]) {
        DS_TRY(ds_sha256_file(partial, sum, err));
        if (strncmp(sum, prefix, strlen(prefix)) != 0) {
            unlink(partial);
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: invalid hash value (expected \"%s\", got \"%s\"): the download is corrupted and "
                              "was not kept (try again)",
                              url, prefix, sum);
        }
    }
    DS_REQUIRE(err, rename(partial, local) == 0, DS_ERR_IO, "%s: cannot rename it to %s: %s", partial, local,
               strerror(errno));
    if (log) DS_LOG_INFO(log, "%s: saved %s%s", url, local, prefix[0] ? " (SHA-256 prefix checked)" : "");
    return DS_OK;
}
