// Where the caches are and how to reach the Hub: the variables huggingface_hub and torch.hub read,
// with their defaults.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../io/fs.h"
#include "hub_internal.h"

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static bool truthy(const char *v) {
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
                 strcasecmp(v, "on") == 0);
}

void hub_env_read(hub_env *e) {
    memset(e, 0, sizeof *e);
    const char *home = env("HOME") ? env("HOME") : "/root";
    char cache_home[4096];
    if (env("XDG_CACHE_HOME"))
        snprintf(cache_home, sizeof cache_home, "%s", env("XDG_CACHE_HOME"));
    else
        snprintf(cache_home, sizeof cache_home, "%s/.cache", home);
    char hf_home[4096];
    if (env("HF_HOME"))
        snprintf(hf_home, sizeof hf_home, "%s", env("HF_HOME"));
    else
        snprintf(hf_home, sizeof hf_home, "%.4000s/huggingface", cache_home);
    if (env("HF_HUB_CACHE"))
        snprintf(e->hf_cache, sizeof e->hf_cache, "%s", env("HF_HUB_CACHE"));
    else if (env("HUGGINGFACE_HUB_CACHE"))  // huggingface_hub's older name, still read
        snprintf(e->hf_cache, sizeof e->hf_cache, "%s", env("HUGGINGFACE_HUB_CACHE"));
    else
        snprintf(e->hf_cache, sizeof e->hf_cache, "%.4000s/hub", hf_home);
    if (env("TORCH_HOME"))
        snprintf(e->torch_dir, sizeof e->torch_dir, "%.4000s/hub/checkpoints", env("TORCH_HOME"));
    else
        snprintf(e->torch_dir, sizeof e->torch_dir, "%.4000s/torch/hub/checkpoints", cache_home);
    snprintf(e->endpoint, sizeof e->endpoint, "%s", env("HF_ENDPOINT") ? env("HF_ENDPOINT") : "https://huggingface.co");
    for (size_t n = strlen(e->endpoint); n > 0 && e->endpoint[n - 1] == '/'; n--) e->endpoint[n - 1] = 0;
    if (env("HF_TOKEN")) {
        snprintf(e->token, sizeof e->token, "%s", env("HF_TOKEN"));
    } else {
        char path[4200];
        if (env("HF_TOKEN_PATH"))
            snprintf(path, sizeof path, "%s", env("HF_TOKEN_PATH"));
        else
            snprintf(path, sizeof path, "%s/token", hf_home);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(e->token, sizeof e->token, f)) e->token[0] = 0;
            e->token[strcspn(e->token, "\r\n")] = 0;
            fclose(f);
        }
    }
    e->offline = truthy(env("HF_HUB_OFFLINE"));
    e->progress_bar = isatty(STDERR_FILENO) != 0;
}

ds_status hub_mkdirs(const char *path, ds_err *err) { return ds_mkdirs(path, err); }

bool hub_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int64_t hub_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}
