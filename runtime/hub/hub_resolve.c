// model.path -> a local path: what kind of name it is, and the cache that serves it.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../data/common/file_read.h"
#include "../base/check.h"
#include "hub_internal.h"

typedef enum path_kind { KIND_LOCAL, KIND_HUB, KIND_TORCHVISION, KIND_URL, KIND_OTHER } path_kind;

// A Hub repository id as huggingface_hub validates it: "org/name", letters, digits, '-', '_', '.',
// no "--" or "..", not starting or ending with '-' or '.'; optionally "@revision".
static bool hub_id(const char *s, char *repo, size_t repo_cap, char *revision, size_t rev_cap) {
    const char *at = strchr(s, '@');
    const size_t n = at ? (size_t)(at - s) : strlen(s);
    if (n == 0 || n >= repo_cap || n > 96 * 2 + 1) return false;
    const char *slash = memchr(s, '/', n);
    if (!slash || memchr(slash + 1, '/', n - (size_t)(slash - s) - 1) || slash == s || slash == s + n - 1) return false;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/')) return false;
        if (i + 1 < n && ((c == '-' && s[i + 1] == '-') || (c == '.' && s[i + 1] == '.'))) return false;
        const bool edge = i == 0 || i + 1 == n || s[i - 1] == '/' || s[i + 1] == '/';
        if (edge && (c == '-' || c == '.')) return false;
    }
    snprintf(repo, repo_cap, "%.*s", (int)n, s);
    snprintf(revision, rev_cap, "%s", at && at[1] ? at + 1 : "main");
    return true;
}

static path_kind kind_of(const char *path, char *repo, size_t repo_cap, char *revision, size_t rev_cap) {
    if (hub_exists(path)) return KIND_LOCAL;
    if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0) return KIND_URL;
    if (hub_torchvision_url(path)) return KIND_TORCHVISION;
    if (hub_id(path, repo, repo_cap, revision, rev_cap)) return KIND_HUB;
    return KIND_OTHER;
}

int ds_hub_is_remote(const char *model_path) {
    char repo[256], revision[256];
    const path_kind k = kind_of(model_path, repo, sizeof repo, revision, sizeof revision);
    return k == KIND_HUB || k == KIND_TORCHVISION || k == KIND_URL;
}

// The family of a Hub model by its config.json.
static ds_status family_of_repo(const hub_env *env, const ds_log *log, const char *repo, const char *revision,
                                const char **family, ds_err *err) {
    char path[4096];
    DS_TRY(hub_hf_fetch_one(env, log, repo, revision, "config.json", path, sizeof path, err));
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &text, &size, err));
    cJSON *root = cJSON_ParseWithLength(text, size);
    free(text);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_type"));
    *family = hub_family_of_model_type(type);
    char type_copy[64];
    snprintf(type_copy, sizeof type_copy, "%s", type ? type : "(none)");
    cJSON_Delete(root);
    DS_REQUIRE(err, *family != NULL, DS_ERR_UNSUPPORTED,
               "%s: config.json's model_type is %s: downstream runs bert (text_classification) and wav2vec2 "
               "(speech_ctc) models from the Hub",
               repo, type_copy);
    return DS_OK;
}

ds_status ds_hub_resolve(const ds_log *log, const char *model_path, const char *family, char *local, size_t cap,
                         ds_err *err) {
    DS_REQUIRE(err, model_path != NULL && model_path[0], DS_ERR_CONFIG, "model.path is empty");
    char repo[256], revision[256];
    const path_kind kind = kind_of(model_path, repo, sizeof repo, revision, sizeof revision);
    if (kind == KIND_LOCAL || kind == KIND_OTHER) {  // KIND_OTHER: the family reports the missing path
        DS_REQUIRE(err, strlen(model_path) < cap, DS_ERR_INVALID_ARG, "model.path is too long: %s", model_path);
        snprintf(local, cap, "%s", model_path);
        return DS_OK;
    }
    hub_env env;
    hub_env_read(&env);
    if (kind == KIND_TORCHVISION || kind == KIND_URL) {
        char url[4096];
        if (kind == KIND_URL) {
            const size_t n = strlen(model_path);
            DS_REQUIRE(err, n > 4 && strcmp(model_path + n - 4, ".pth") == 0, DS_ERR_CONFIG,
                       "model.path %s: a URL must be a torchvision checkpoint (.pth); give a Hub model as org/name",
                       model_path);
            snprintf(url, sizeof url, "%s", model_path);
        } else {
            const char *base = getenv("DS_TORCHVISION_BASE_URL");
            snprintf(url, sizeof url, "%.2000s/%.1000s", base && base[0] ? base : "https://download.pytorch.org/models",
                     hub_torchvision_url(model_path));
        }
        return hub_torchvision_fetch(&env, log, url, local, cap, err);
    }
    if (family == NULL || family[0] == 0 || strcmp(family, "auto") == 0)
        DS_TRY(family_of_repo(&env, log, repo, revision, &family, err));
    hub_file_list files;
    DS_REQUIRE(err, hub_family_files(family, &files), DS_ERR_CONFIG,
               "model.path %s is a Hub id, but task.type %s takes its weights from torchvision (e.g. "
               "deeplabv3_resnet50.COCO_WITH_VOC_LABELS_V1) or a local path",
               model_path, family);
    const ds_status st = hub_hf_fetch(&env, log, repo, revision, &files, local, cap, err);
    if (st == DS_OK && log) DS_LOG_INFO(log, "model.path %s: %s", model_path, local);
    if (st != DS_OK && strstr(err->msg, "no such repository")) {
        char why[1600];
        snprintf(why, sizeof why, "%s", err->msg);
        return ds_err_set(err, DS_ERR_IO, "model.path %s is not a local path, and %s", model_path, why);
    }
    return st;
}
