// HTTP for the hub (libcurl's easy interface, one handle per request): HEAD with huggingface_hub's
// redirect rule, and resumable GETs into a file with a progress display.
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../base/check.h"
#include "hub_internal.h"

#define USER_AGENT "downstream/0.1 (libcurl)"

// ---- headers --------------------------------------------------------------------------------

static void copy_value(char *dst, size_t cap, const char *v, size_t n) {
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    while (n > 0 && *v == ' ') v++, n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

// huggingface_hub's _normalize_etag: W/ prefix and quotes removed.
static void normalise_etag(char *etag) {
    char *p = etag;
    if (strncmp(p, "W/", 2) == 0) p += 2;
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '"') p[--n] = 0;
    while (*p == '"') p++, n--;
    memmove(etag, p, n + 1);
}

typedef struct head_state {
    hub_head *h;
    char etag[256], linked_etag[256];
    int64_t linked_size, content_length;
} head_state;

static size_t on_header(char *line, size_t size, size_t count, void *user) {
    head_state *s = user;
    const size_t n = size * count;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {  // a new response (after a redirect): start over
        hub_head *h = s->h;
        h->location[0] = h->commit[0] = h->error_code[0] = h->error_message[0] = 0;
        s->etag[0] = s->linked_etag[0] = 0;
        s->linked_size = s->content_length = -1;
        return n;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon) return n;
    const size_t klen = (size_t)(colon - line);
    const char *v = colon + 1;
    const size_t vlen = n - klen - 1;
    char num[64];
#define IS(name) (klen == strlen(name) && strncasecmp(line, name, klen) == 0)
    if (IS("Location")) copy_value(s->h->location, sizeof s->h->location, v, vlen);
    else if (IS("X-Repo-Commit")) copy_value(s->h->commit, sizeof s->h->commit, v, vlen);
    else if (IS("ETag")) copy_value(s->etag, sizeof s->etag, v, vlen);
    else if (IS("X-Linked-Etag")) copy_value(s->linked_etag, sizeof s->linked_etag, v, vlen);
    else if (IS("X-Error-Code")) copy_value(s->h->error_code, sizeof s->h->error_code, v, vlen);
    else if (IS("X-Error-Message")) copy_value(s->h->error_message, sizeof s->h->error_message, v, vlen);
    else if (IS("X-Linked-Size")) copy_value(num, sizeof num, v, vlen), s->linked_size = strtoll(num, NULL, 10);
    else if (IS("Content-Length")) copy_value(num, sizeof num, v, vlen), s->content_length = strtoll(num, NULL, 10);
#undef IS
    return n;
}

// "scheme://host[:port]" of url into out.
static void origin_of(const char *url, char *out, size_t cap) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const size_t n = strcspn(p, "/?#");
    snprintf(out, cap, "%.*s", (int)((size_t)(p - url) + n), url);
}

static struct curl_slist *request_headers(const char *bearer) {
    struct curl_slist *list = curl_slist_append(NULL, "Accept-Encoding: identity");
    if (bearer && bearer[0]) {
        char auth[1200];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        list = curl_slist_append(list, auth);
    }
    return list;
}

ds_status hub_http_head(const char *url, const char *bearer, hub_head *h, ds_err *err) {
    memset(h, 0, sizeof *h);
    h->size = -1;
    CURL *c = curl_easy_init();
    DS_REQUIRE(err, c != NULL, DS_ERR_INTERNAL, "libcurl: cannot create a handle");
    struct curl_slist *headers = request_headers(bearer);
    snprintf(h->url, sizeof h->url, "%s", url);
    ds_status st = DS_OK;
    for (int hop = 0; hop < 10; hop++) {
        head_state s = {.h = h, .linked_size = -1, .content_length = -1};
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, h->url);
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        const CURLcode rc = curl_easy_perform(c);
        if (rc != CURLE_OK) {
            st = ds_err_set(err, DS_ERR_IO, "cannot reach %s: %s", h->url, curl_easy_strerror(rc));
            break;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
        snprintf(h->etag, sizeof h->etag, "%s", s.linked_etag[0] ? s.linked_etag : s.etag);
        normalise_etag(h->etag);
        const bool redirect = h->status >= 300 && h->status < 400 && h->location[0];
        h->size = s.linked_size >= 0 ? s.linked_size : redirect ? -1 : s.content_length;
        if (!redirect) break;
        // Relative redirects (a renamed repository) are followed; a redirect to another host is the
        // file's CDN location, where the caller downloads from.
        char here[1024], there[1024];
        origin_of(h->url, here, sizeof here);
        if (h->location[0] == '/') {
            char next[4096];
            snprintf(next, sizeof next, "%.1000s%.3000s", here, h->location);
            snprintf(h->url, sizeof h->url, "%s", next);
            continue;
        }
        origin_of(h->location, there, sizeof there);
        if (strcmp(here, there) != 0) break;
        snprintf(h->url, sizeof h->url, "%s", h->location);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return st;
}

// ---- downloads ------------------------------------------------------------------------------

typedef struct get_state {
    CURL *c;
    FILE *f;
    int64_t have;          // bytes in the file before this request
    int64_t expected;      // the whole file's size, or -1
    bool checked, discard; // the status seen; an error body is not written
    bool write_failed;
    const ds_log *log;
    const char *name;
    bool bar;
    double t0, last_line;
    int quarter;           // plain lines: the last 25% step printed
} get_state;

static size_t on_data(char *data, size_t size, size_t count, void *user) {
    get_state *s = user;
    const size_t n = size * count;
    if (!s->checked) {
        long status = 0;
        curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
        s->checked = true;
        s->discard = status >= 300;
        if (status == 200 && s->have > 0) {  // the server ignored the Range: start over
            if (ftruncate(fileno(s->f), 0) != 0 || fseek(s->f, 0, SEEK_SET) != 0) {
                s->write_failed = true;
                return 0;
            }
            s->have = 0;
        }
    }
    if (s->discard) return n;
    if (fwrite(data, 1, n, s->f) != n) {
        s->write_failed = true;
        return 0;
    }
    return n;
}

static void human(double bytes, char *out, size_t cap) {
    if (bytes >= 1e9) snprintf(out, cap, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1e6) snprintf(out, cap, "%.1f MB", bytes / 1e6);
    else snprintf(out, cap, "%.0f kB", bytes / 1e3);
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)ultotal, (void)ulnow;
    get_state *s = user;
    if (!s->log || s->log->level < DS_LOG_INFO || s->discard) return 0;
    const double now = ds_now_seconds();
    const double total = s->expected > 0 ? (double)s->expected : dltotal > 0 ? (double)(s->have + dltotal) : 0;
    const double done = (double)(s->have + dlnow);
    const double rate = now > s->t0 ? (double)dlnow / (now - s->t0) : 0;
    char d[32], t[32], r[32];
    human(done, d, sizeof d);
    human(total, t, sizeof t);
    human(rate, r, sizeof r);
    if (s->bar) {
        if (now - s->last_line < 0.1 && done < total) return 0;
        s->last_line = now;
        const int width = 30, fill = total > 0 ? (int)(width * done / total) : 0;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r  %-28.28s [%s] %3.0f%%  %s / %s  %s/s ", s->name, bar, total > 0 ? 100 * done / total : 0, d,
                t, r);
        fflush(stderr);
    } else if (total > 0) {
        const int q = (int)(4 * done / total);
        if (q > s->quarter) {
            s->quarter = q;
            DS_LOG_INFO(s->log, "download %s: %d%% (%s of %s, %s/s)", s->name, 25 * q, d, t, r);
        }
    }
    return 0;
}

ds_status hub_http_get(const char *url, const char *bearer, const char *path, int64_t expected_size,
                       const ds_log *log, const char *name, bool bar, ds_err *err) {
    FILE *f = fopen(path, "ab");
    DS_REQUIRE(err, f != NULL, DS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    CURL *c = curl_easy_init();
    if (!c) {
        fclose(f);
        return ds_err_set(err, DS_ERR_INTERNAL, "libcurl: cannot create a handle");
    }
    struct curl_slist *headers = request_headers(bearer);
    ds_status st = DS_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        const int64_t have = hub_file_size(path) > 0 ? hub_file_size(path) : 0;
        if (expected_size >= 0 && have == expected_size) break;  // complete already
        get_state s = {.c = c, .f = f, .have = have, .expected = expected_size, .log = log, .name = name,
                       .bar = bar, .t0 = ds_now_seconds()};
        if (log && !bar && log->level >= DS_LOG_INFO)
            DS_LOG_INFO(log, "download %s from %s%s", name, url, have > 0 ? " (resuming)" : "");
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);  // curl sends Authorization to url's host only
        curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer fails after a minute
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (have > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
        const CURLcode rc = curl_easy_perform(c);
        if (bar && log && log->level >= DS_LOG_INFO) fputc('\n', stderr);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (fflush(f) != 0 || s.write_failed) {
            st = ds_err_set(err, DS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
            break;
        }
        if (status == 416 && attempt == 0) {  // the range starts past the file: it changed, start over
            if (ftruncate(fileno(f), 0) != 0) {
                st = ds_err_set(err, DS_ERR_IO, "%s: cannot truncate: %s", path, strerror(errno));
                break;
            }
            continue;
        }
        if (rc != CURLE_OK) {
            st = ds_err_set(err, DS_ERR_IO, "download of %s failed: %s (%lld bytes kept in %s; the next try resumes)",
                            url, curl_easy_strerror(rc), (long long)hub_file_size(path), path);
            break;
        }
        if (status >= 300) {
            st = ds_err_set(err, DS_ERR_IO, "download of %s failed: HTTP %ld", url, status);
            break;
        }
        break;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    fclose(f);
    return st;
}
