// Hugging Face Hub downloads into huggingface_hub's cache layout (file_download.py's
// hf_hub_download, step by step):
//   1. HEAD {endpoint}/{repo}/resolve/{revision}/{file}: X-Repo-Commit (the commit), X-Linked-Etag
//      or ETag (the blob's name: an LFS file's SHA-256, else the git blob id), X-Linked-Size or
//      Content-Length; an LFS file answers with a redirect to its CDN location;
//   2. snapshots/<commit>/<file> already there: nothing to download;
//   3. else blobs/<etag> (downloaded into blobs/<etag>.incomplete, resumed with Range, its SHA-256
//      checked against the ETag when the ETag is one, then renamed), and the snapshot entry made a
//      relative symlink ../../blobs/<etag>;
//   4. refs/<revision> holds the commit when the revision is a branch or tag; a file the
//      repository lacks is recorded as .no_exist/<commit>/<file>.
// A revision that is a commit hash with every file in its snapshot is served without a request.
// Offline (HF_HUB_OFFLINE) or when the Hub cannot be reached, the snapshot of refs/<revision> is
// used if it holds the files, as huggingface_hub falls back to its cache.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/check.h"
#include "../io/fs.h"
#include "../io/sha256.h"
#include "hub_internal.h"

typedef struct repo_paths {
    char root[4096];  // <cache>/models--org--name
} repo_paths;

static void repo_root(const hub_env *env, const char *repo, repo_paths *p) {
    char folder[512] = "models--";
    size_t n = strlen(folder);
    for (const char *c = repo; *c && n + 3 < sizeof folder; c++) {
        if (*c == '/') folder[n++] = '-', folder[n++] = '-';
        else folder[n++] = *c;
    }
    folder[n] = 0;
    snprintf(p->root, sizeof p->root, "%.3500s/%s", env->hf_cache, folder);
}

static bool is_commit_hash(const char *s) {
    if (strlen(s) != 40) return false;
    for (const char *c = s; *c; c++)
        if (!isxdigit((unsigned char)*c) || isupper((unsigned char)*c)) return false;
    return true;
}

static bool is_sha256(const char *s) {
    if (strlen(s) != 64) return false;
    for (const char *c = s; *c; c++)
        if (!isxdigit((unsigned char)*c)) return false;
    return true;
}

// Writes `text` to path atomically (temporary file + rename), as huggingface_hub writes refs.
static ds_status write_small(const char *path, const char *text, ds_err *err) {
    return ds_write_file_atomic(path, text, strlen(text), err);
}

// The commit refs/<revision> names, from the cache.
static bool cached_commit(const repo_paths *p, const char *revision, char *commit, size_t cap) {
    if (is_commit_hash(revision)) {
        snprintf(commit, cap, "%s", revision);
        return true;
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/refs/%s", p->root, revision);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    const bool ok = fgets(commit, (int)cap, f) != NULL;
    fclose(f);
    if (ok) commit[strcspn(commit, "\r\n")] = 0;
    return ok && commit[0];
}

static void snapshot_file(const repo_paths *p, const char *commit, const char *file, char *out, size_t cap) {
    snprintf(out, cap, "%.3800s/snapshots/%.100s/%.180s", p->root, commit, file);
}

// Every file the list needs is in the snapshot (or known absent, for optional ones).
static bool snapshot_complete(const repo_paths *p, const char *commit, const hub_file_list *files, char *missing,
                              size_t cap) {
    char path[4400];
    missing[0] = 0;
    bool ok = true;
    for (int i = 0; i < files->nrequired; i++) {
        snapshot_file(p, commit, files->required[i], path, sizeof path);
        if (!hub_exists(path)) {
            ok = false;
            snprintf(missing + strlen(missing), cap - strlen(missing), "%s%s", missing[0] ? ", " : "",
                     files->required[i]);
        }
    }
    bool any = files->none_of == 0;
    for (int i = 0; i < files->none_of; i++) {
        snapshot_file(p, commit, files->one_of[i], path, sizeof path);
        any |= hub_exists(path);
    }
    if (!any) {
        ok = false;
        snprintf(missing + strlen(missing), cap - strlen(missing), "%sone of", missing[0] ? ", " : "");
        for (int i = 0; i < files->none_of; i++)
            snprintf(missing + strlen(missing), cap - strlen(missing), "%s %s", i ? " or" : "", files->one_of[i]);
    }
    return ok;
}

// The message when the files are not to be had: what to put where.
static ds_status cache_miss(const hub_env *env, const repo_paths *p, const char *repo, const char *revision,
                            const hub_file_list *files, const char *why, ds_err *err) {
    char need[1024] = "";
    for (int i = 0; i < files->nrequired; i++)
        snprintf(need + strlen(need), sizeof need - strlen(need), "%s%s", i ? ", " : "", files->required[i]);
    for (int i = 0; i < files->none_of; i++)
        snprintf(need + strlen(need), sizeof need - strlen(need), "%s%s", i ? " or " : ", ", files->one_of[i]);
    (void)env;
    return ds_err_set(err, DS_ERR_IO,
                      "%s@%s: %s, and the cache does not hold it: fill %s (huggingface_hub's layout: "
                      "snapshots/<commit>/ with the files, refs/%s holding the commit), e.g. with `downstream pull "
                      "%s` or huggingface_hub on a machine with network; files needed: %s",
                      repo, revision, why, p->root, revision, repo, need);
}

// Offline: the snapshot refs/<revision> names, when it holds the files.
static ds_status from_cache(const hub_env *env, const repo_paths *p, const char *repo, const char *revision,
                            const hub_file_list *files, const char *why, char *snapshot, size_t cap, ds_err *err) {
    char commit[128], missing[1024];
    if (!cached_commit(p, revision, commit, sizeof commit))
        return cache_miss(env, p, repo, revision, files, why, err);
    if (!snapshot_complete(p, commit, files, missing, sizeof missing)) {
        char reason[1400];
        snprintf(reason, sizeof reason, "%s; snapshot %s lacks %s", why, commit, missing);
        return cache_miss(env, p, repo, revision, files, reason, err);
    }
    snprintf(snapshot, cap, "%.3800s/snapshots/%s", p->root, commit);
    return DS_OK;
}

// "hf.co/..." -> "hf.co": whether two URLs share their host (the token goes only to the Hub).
static bool same_host(const char *a, const char *b) {
    const char *pa = strstr(a, "://"), *pb = strstr(b, "://");
    pa = pa ? pa + 3 : a;
    pb = pb ? pb + 3 : b;
    const size_t na = strcspn(pa, "/?#"), nb = strcspn(pb, "/?#");
    return na == nb && strncmp(pa, pb, na) == 0;
}

// A message for an HTTP status of the resolve endpoint.
static ds_status status_error(const hub_env *env, const char *repo, const char *revision, const char *file,
                              const hub_head *h, ds_err *err) {
    const char *detail = h->error_message[0] ? h->error_message : "";
    if (h->status == 401 || h->status == 403) {
        if (strcmp(h->error_code, "GatedRepo") == 0 || env->token[0])
            return ds_err_set(err, DS_ERR_IO,
                              "%s: access denied (HTTP %ld%s%s). The repository is gated or private: accept its terms "
                              "on the Hub's page of %s with your account and give a token with read access in HF_TOKEN "
                              "(or $HF_HOME/token)%s",
                              repo, h->status, detail[0] ? ": " : "", detail, repo,
                              env->token[0] ? "; the token given was refused" : "");
        return ds_err_set(err, DS_ERR_IO,
                          "%s: HTTP %ld (%s%s%s): the repository does not exist, or it is private or gated: then set "
                          "HF_TOKEN to a token of an account that may read it",
                          repo, h->status, h->error_code[0] ? h->error_code : "unauthorized", detail[0] ? ": " : "",
                          detail);
    }
    if (h->status == 404 && strcmp(h->error_code, "RevisionNotFound") == 0)
        return ds_err_set(err, DS_ERR_IO, "%s: no revision '%s' (HTTP 404)", repo, revision);
    if (h->status == 404 && strcmp(h->error_code, "EntryNotFound") != 0)
        return ds_err_set(err, DS_ERR_IO, "%s: no such repository on %s (HTTP 404%s%s)", repo, env->endpoint,
                          detail[0] ? ": " : "", detail);
    return ds_err_set(err, DS_ERR_IO, "%s: %s@%s: HTTP %ld from %s", repo, file, revision, h->status, h->url);
}

typedef enum fetch_result { FETCHED, ABSENT } fetch_result;

// Makes snapshots/<commit>/<file> a relative link to ../../blobs/<etag> (one more ../ per folder
// in file).
static ds_status link_pointer(const repo_paths *p, const char *commit, const char *file, const char *etag,
                              ds_err *err) {
    char pointer[4400], dir[4400], target[600] = "";
    snapshot_file(p, commit, file, pointer, sizeof pointer);
    snprintf(dir, sizeof dir, "%s", pointer);
    *strrchr(dir, '/') = 0;
    DS_TRY(hub_mkdirs(dir, err));
    for (const char *c = file; *c; c++)
        if (*c == '/') strcat(target, "../");
    snprintf(target + strlen(target), sizeof target - strlen(target), "../../blobs/%.300s", etag);
    unlink(pointer);
    DS_REQUIRE(err, symlink(target, pointer) == 0, DS_ERR_IO, "%s: cannot link it to %s: %s", pointer, target,
               strerror(errno));
    return DS_OK;
}

// One file: metadata, blob, pointer. *commit receives the commit the Hub answered with.
static ds_status fetch_file(const hub_env *env, const ds_log *log, const repo_paths *p, const char *repo,
                            const char *revision, const char *file, bool optional, char *commit, size_t commit_cap,
                            fetch_result *result, ds_err *err) {
    char url[4096];
    snprintf(url, sizeof url, "%.1000s/%.400s/resolve/%.200s/%.400s", env->endpoint, repo, revision, file);
    hub_head h;
    DS_TRY(hub_http_head(url, env->token, &h, err));
    if (h.status == 404 && optional && strcmp(h.error_code, "EntryNotFound") == 0) {
        if (h.commit[0]) {  // remembered as huggingface_hub does
            char path[4400], dir[4400];
            snprintf(path, sizeof path, "%.3800s/.no_exist/%.100s/%.180s", p->root, h.commit, file);
            snprintf(dir, sizeof dir, "%s", path);
            *strrchr(dir, '/') = 0;
            if (hub_mkdirs(dir, err) == DS_OK) {
                FILE *f = fopen(path, "ab");
                if (f) fclose(f);
            }
            ds_err_clear(err);
            snprintf(commit, commit_cap, "%s", h.commit);
        }
        *result = ABSENT;
        return DS_OK;
    }
    if (h.status >= 400 || h.status < 200) return status_error(env, repo, revision, file, &h, err);
    DS_REQUIRE(err, h.commit[0], DS_ERR_FORMAT,
               "%s: the answer has no X-Repo-Commit header: %s does not look like a Hugging Face Hub (check "
               "HF_ENDPOINT, proxies)",
               url, env->endpoint);
    DS_REQUIRE(err, h.etag[0] && !strchr(h.etag, '/'), DS_ERR_FORMAT,
               "%s: the answer has no usable ETag, so the file cannot be stored and checked", url);
    snprintf(commit, commit_cap, "%s", h.commit);
    *result = FETCHED;

    char pointer[4400], blob[4400], incomplete[4500];
    snapshot_file(p, h.commit, file, pointer, sizeof pointer);
    snprintf(blob, sizeof blob, "%.3800s/blobs/%.300s", p->root, h.etag);
    if (hub_exists(pointer) && hub_exists(blob)) return DS_OK;  // already cached
    if (!hub_exists(blob)) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%.3800s/blobs", p->root);
        DS_TRY(hub_mkdirs(dir, err));
        snprintf(incomplete, sizeof incomplete, "%s.incomplete", blob);
        const char *from = h.location[0] ? h.location : h.url;
        // The token goes to the Hub, never to the CDN a redirect names.
        const char *bearer = same_host(from, env->endpoint) ? env->token : NULL;
        char name[512];
        snprintf(name, sizeof name, "%.200s/%.200s", repo, file);
        DS_TRY(hub_http_get(from, bearer, incomplete, h.size, log, name, env->progress_bar, err));
        const int64_t got = hub_file_size(incomplete);
        if (h.size >= 0 && got != h.size)
            return ds_err_set(err, DS_ERR_IO, "%s: %lld bytes downloaded, the Hub announced %lld (kept in %s; the next "
                              "try resumes)", name, (long long)got, (long long)h.size, incomplete);
        if (is_sha256(h.etag)) {  // an LFS file: its ETag is its SHA-256
            char sum[65];
            DS_TRY(ds_sha256_file(incomplete, sum, err));
            if (strcmp(sum, h.etag) != 0) {
                unlink(incomplete);
                return ds_err_set(err, DS_ERR_FORMAT,
                                  "%s: the download's SHA-256 is %s, the Hub's ETag %s: corrupted, not kept (try again)",
                                  name, sum, h.etag);
            }
        }
        DS_REQUIRE(err, rename(incomplete, blob) == 0, DS_ERR_IO, "%s: cannot rename it to %s: %s", incomplete, blob,
                   strerror(errno));
    }
    return link_pointer(p, h.commit, file, h.etag, err);
}

static ds_status record_ref(const repo_paths *p, const char *revision, const char *commit, ds_err *err) {
    if (strcmp(revision, commit) == 0 || !commit[0]) return DS_OK;
    char path[4400], dir[4400], have[128];
    snprintf(path, sizeof path, "%.3800s/refs/%.300s", p->root, revision);
    if (cached_commit(p, revision, have, sizeof have) && strcmp(have, commit) == 0) return DS_OK;
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    DS_TRY(hub_mkdirs(dir, err));
    return write_small(path, commit, err);
}

ds_status hub_hf_fetch(const hub_env *env, const ds_log *log, const char *repo, const char *revision,
                       const hub_file_list *files, char *snapshot, size_t cap, ds_err *err) {
    repo_paths p;
    repo_root(env, repo, &p);
    if (env->offline) return from_cache(env, &p, repo, revision, files, "HF_HUB_OFFLINE is set", snapshot, cap, err);
    char missing[1024];
    if (is_commit_hash(revision) && snapshot_complete(&p, revision, files, missing, sizeof missing))
        return from_cache(env, &p, repo, revision, files, "", snapshot, cap, err);

    char commit[128] = "";
    int any_of = 0;
    ds_status st = DS_OK;
    for (int k = 0; k < 3 && st == DS_OK; k++) {
        const char *const *list = k == 0 ? files->required : k == 1 ? files->one_of : files->optional;
        const int n = k == 0 ? files->nrequired : k == 1 ? files->none_of : files->noptional;
        for (int i = 0; i < n && st == DS_OK; i++) {
            if (k == 1 && files->one_of_first && any_of > 0) break;  // one format of the weights is enough
            fetch_result r;
            char c[128] = "";
            st = fetch_file(env, log, &p, repo, revision, list[i], k > 0, c, sizeof c, &r, err);
            if (st != DS_OK) break;
            if (k == 1 && r == FETCHED) any_of++;
            if (c[0] && commit[0] && strcmp(c, commit) != 0)
                st = ds_err_set(err, DS_ERR_IO, "%s@%s moved from commit %s to %s during the download: try again",
                                repo, revision, commit, c);
            if (c[0]) snprintf(commit, sizeof commit, "%s", c);
        }
        if (st == DS_OK && k == 1 && files->none_of > 0 && any_of == 0) {
            char names[256] = "";
            for (int i = 0; i < files->none_of; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? " or " : "", files->one_of[i]);
            st = ds_err_set(err, DS_ERR_FORMAT, "%s@%s has no %s", repo, revision, names);
        }
    }
    if (st != DS_OK && strstr(err->msg, "cannot reach ") == err->msg) {
        // No network: what the cache holds will do (as huggingface_hub falls back).
        char why[1200];
        snprintf(why, sizeof why, "%s", err->msg);
        ds_err_clear(err);
        st = from_cache(env, &p, repo, revision, files, why, snapshot, cap, err);
        if (st == DS_OK && log) DS_LOG_WARN(log, "%s; using the cached snapshot %s", why, snapshot);
        return st;
    }
    DS_TRY(st);
    DS_TRY(record_ref(&p, revision, commit, err));
    snprintf(snapshot, cap, "%.3800s/snapshots/%s", p.root, commit);
    return DS_OK;
}

ds_status hub_hf_fetch_one(const hub_env *env, const ds_log *log, const char *repo, const char *revision,
                           const char *file, char *local, size_t cap, ds_err *err) {
    const char *const required[1] = {file};
    const hub_file_list one = {required, 1, NULL, 0, NULL, 0, false};
    char snapshot[4096];
    DS_TRY(hub_hf_fetch(env, log, repo, revision, &one, snapshot, sizeof snapshot, err));
    snprintf(local, cap, "%.3900s/%s", snapshot, file);
    return DS_OK;
}
