// Shared by runtime/hub/*.c only.
#ifndef DS_HUB_INTERNAL_H
#define DS_HUB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hub.h"

// ---- environment (hub_env.c) ------------------------------------------------------------------
typedef struct hub_env {
    char hf_cache[4096];    // $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub
    char torch_dir[4096];   // $TORCH_HOME/hub/checkpoints or ~/.cache/torch/hub/checkpoints
    char endpoint[1024];    // $HF_ENDPOINT without a trailing '/', or https://huggingface.co
    char token[1024];       // $HF_TOKEN or the token file's first line; "" when none
    bool offline;           // HF_HUB_OFFLINE set to 1/true/yes/on
    bool progress_bar;      // stderr is a terminal
} hub_env;

void hub_env_read(hub_env *e);

// ---- HTTP (hub_http.c, libcurl) -----------------------------------------------------------------
typedef struct hub_head {
    long status;              // the last response's HTTP status (after relative redirects)
    char location[4096];      // Location of a redirect to another host ("" when none)
    char url[4096];           // the URL that answered
    char commit[128];         // X-Repo-Commit
    char etag[256];           // X-Linked-Etag, else ETag, normalised (no W/ and quotes)
    int64_t size;             // X-Linked-Size, else Content-Length of a non-redirect; -1 unknown
    char error_code[128];     // X-Error-Code (GatedRepo, RepoNotFound, EntryNotFound, ...)
    char error_message[512];  // X-Error-Message
} hub_head;

// HEAD of url, following redirects to the same host only (as huggingface_hub does: a redirect
// to another host is the CDN location of an LFS file, returned in `location`). bearer: a token or
// NULL. DS_ERR_IO (naming url) when the server cannot be reached; any HTTP status is DS_OK.
ds_status hub_http_head(const char *url, const char *bearer, hub_head *h, ds_err *err);

// GET url into `path`, resuming a partial file with an HTTP Range request; follows redirects.
// bearer is sent only while the host is url's own. expected_size < 0: unknown. `name` labels the
// progress (a bar when bar, else a line at the start, every 25% and at the end). DS_ERR_IO on a
// network failure or an HTTP error status (named), the partial file kept for the next try.
ds_status hub_http_get(const char *url, const char *bearer, const char *path, int64_t expected_size,
                       const ds_log *log, const char *name, bool bar, ds_err *err);

// ---- caches (hub_hf.c, hub_torchvision.c) -------------------------------------------------------
// One Hub repository's files into the HF cache; snapshot (cap bytes) gets snapshots/<commit>.
typedef struct hub_file_list {
    const char *const *required;  // each must exist
    int nrequired;
    const char *const *one_of;    // at least one of these must exist (e.g. vocab.txt / tokenizer.json)
    int none_of;
    const char *const *optional;  // fetched when present
    int noptional;
    bool one_of_first;            // only the first of one_of that exists (alternative formats of one file)
} hub_file_list;

ds_status hub_hf_fetch(const hub_env *env, const ds_log *log, const char *repo, const char *revision,
                       const hub_file_list *files, char *snapshot, size_t cap, ds_err *err);
// Just one file (config.json, to choose the family): its local path.
ds_status hub_hf_fetch_one(const hub_env *env, const ds_log *log, const char *repo, const char *revision,
                           const char *file, char *local, size_t cap, ds_err *err);

// The file of a torchvision weight name ("resnet50.IMAGENET1K_V1" -> "resnet50-0676ba61.pth",
// under https://download.pytorch.org/models/), or NULL.
const char *hub_torchvision_url(const char *name);
ds_status hub_torchvision_fetch(const hub_env *env, const ds_log *log, const char *url, char *local, size_t cap,
                                ds_err *err);

// ---- files per family (hub_files.c) -------------------------------------------------------------
// The files of family ("text_classification", "speech_ctc"); false when the family takes none
// from the Hub.
bool hub_family_files(const char *family, hub_file_list *out);
// The family of a Hub model by its config.json's model_type ("bert", "wav2vec2"), or NULL.
const char *hub_family_of_model_type(const char *model_type);

// ---- helpers (hub_env.c) -----------------------------------------------------------------------
ds_status hub_mkdirs(const char *path, ds_err *err);
bool hub_exists(const char *path);
int64_t hub_file_size(const char *path);  // -1 when absent

#endif
