// `downstream predict` for a segmentation model: --input is an image (PNG/JPEG, by content), a
// directory (its *.png, *.jpg, *.jpeg files, sorted by name) or a list file (one image path a line,
// relative paths from the list's folder). Each image is normalised as evaluation normalises it,
// at its own size (or with --resize N its shorter side to N, PIL bilinear as the transforms), run
// through the model alone (batch 1, eval mode), and when resized its logits are upsampled
// bilinearly (align_corners=False, as the model's own upsampling) back to the image's size before
// the argmax. Written into --output DIR (default ./predictions):
//   <stem>.png            the mask as a VOC-palette PNG at the input's size (index = class id)
//   <stem>_overlay.png    with --overlay: the mask's colours over the photo
//   <stem>.safetensors    with --save-logits [DIR]: "out" (1, K, h, w) F32 and "aux" when the model
//                         has the aux head, at the size the model saw (the --resize'd one)
//   predictions.jsonl     one line per image: {"image", "mask", "classes": {name: pixel fraction}}
//                         (classes with at least one pixel, in class order)
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../../data/common/file_read.h"
#include "../../../data/image/image_decode.h"
#include "../../../data/image/overlay.h"
#include "../../../data/image/png_write.h"
#include "../../../data/image/resize.h"
#include "../../../models/common/device_memory.h"
#include "../../base/check.h"
#include "../../base/log.h"
#include "../../io/fs.h"
#include "../../io/json_write.h"
#include "../../io/safetensors.h"
#include "seg_internal.h"

typedef struct input_list {
    char **paths;  // (count) owned
    size_t count, cap;
} input_list;

static void inputs_free(input_list *l) {
    for (size_t i = 0; i < l->count; i++) free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

static ds_status inputs_add(input_list *l, const char *dir, const char *name, ds_err *err) {
    if (l->count == l->cap) {
        const size_t cap = l->cap ? 2 * l->cap : 64;
        char **bigger = realloc(l->paths, cap * sizeof *bigger);
        DS_REQUIRE(err, bigger != NULL, DS_ERR_OOM, "predict: out of memory for %zu inputs", cap);
        l->paths = bigger;
        l->cap = cap;
    }
    const size_t n = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *p = malloc(n);
    DS_REQUIRE(err, p != NULL, DS_ERR_OOM, "predict: out of memory");
    if (dir) snprintf(p, n, "%s/%s", dir, name);
    else snprintf(p, n, "%s", name);
    l->paths[l->count++] = p;
    return DS_OK;
}

static bool image_extension(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    char ext[8] = "";
    for (int i = 0; i < 7 && dot[i + 1]; i++) ext[i] = (char)tolower((unsigned char)dot[i + 1]), ext[i + 1] = '\0';
    return strcmp(ext, "png") == 0 || strcmp(ext, "jpg") == 0 || strcmp(ext, "jpeg") == 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The images of `input`: an image file, a directory of them, or a list of paths.
static ds_status read_inputs(const char *input, input_list *l, ds_err *err) {
    struct stat st;
    DS_REQUIRE(err, stat(input, &st) == 0, DS_ERR_IO, "--input %s: %s", input, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(input);
        DS_REQUIRE(err, d != NULL, DS_ERR_IO, "--input %s: %s", input, strerror(errno));
        ds_status s = DS_OK;
        for (struct dirent *e; s == DS_OK && (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.' && image_extension(e->d_name)) s = inputs_add(l, input, e->d_name, err);
        closedir(d);
        DS_TRY(s);
        DS_REQUIRE(err, l->count > 0, DS_ERR_INVALID_ARG, "--input %s: a directory without .png, .jpg or .jpeg files",
                   input);
        qsort(l->paths, l->count, sizeof *l->paths, by_name);
        return DS_OK;
    }
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(input, &text, &size, err));
    if (ds_image_sniff((const uint8_t *)text, size) != DS_IMAGE_FORMAT_UNKNOWN) {
        free(text);
        return inputs_add(l, NULL, input, err);
    }
    // A list: one path a line, relative ones from the list's folder.
    char *dir = strdup(input);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) *slash = '\0';
    ds_status s = dir ? DS_OK : ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
    long line_no = 0;
    for (char *line = text; s == DS_OK && line < text + size;) {
        char *end = memchr(line, '\n', (size_t)(text + size - line));
        if (!end) end = text + size;
        char *next = end + 1;
        line_no++;
        while (line < end && isspace((unsigned char)*line)) line++;
        while (end > line && isspace((unsigned char)end[-1])) end--;
        if (end > line) {
            *end = '\0';
            if (memchr(line, '\0', (size_t)(end - line)) || strlen(line) != (size_t)(end - line))
                s = ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: not a text line (is the list a binary file?)", input, line_no);
            else s = inputs_add(l, line[0] == '/' || !slash ? NULL : dir, line, err);
        }
        line = next;
    }
    free(dir);
    free(text);
    DS_TRY(s);
    DS_REQUIRE(err, l->count > 0, DS_ERR_INVALID_ARG,
               "--input %s: neither a PNG/JPEG image nor a list of image paths (it has no lines)", input);
    return DS_OK;
}

// The file name without folder and extension.
static void stem_of(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

typedef struct predictor {
    ds_deeplab_model model;
    bool loaded;
    ds_label_map names;
    ds_seg_transform_options tf;
    ds_arena arena;
    int64_t max_h, max_w;  // the largest size the model sees
} predictor;

// The size the model sees for an image of h x w: its own, or the shorter side to `resize`.
static void model_size(int32_t h, int32_t w, long long resize, int32_t *mh, int32_t *mw) {
    if (resize > 0) ds_resize_shorter_side(h, w, (int32_t)resize, mh, mw);
    else *mh = h, *mw = w;
}

// One image: the logits at the model's size (views into the arena) and the mask at the image's.
static ds_status predict_one(ds_context *ctx, predictor *p, const ds_image *photo, long long resize, ds_image *mask,
                             ds_deeplab_output *out) {
    ds_err *err = &ctx->err;
    int32_t mh, mw;
    model_size(photo->height, photo->width, resize, &mh, &mw);
    // The evaluation transform with the shorter side at the model's size (no resize when equal).
    ds_seg_transform_options tf = p->tf;
    tf.base_size = mh < mw ? mh : mw;
    ds_image zeros = {0};
    DS_TRY(ds_image_alloc(&zeros, photo->height, photo->width, 1, "predict", err));
    memset(zeros.pixels, 0, (size_t)ds_image_bytes(&zeros));
    const size_t px = (size_t)mh * (size_t)mw;
    float *x = malloc(px * 3 * sizeof *x);      // (3, mh, mw) F32 host
    int32_t *ignored = malloc(px * sizeof *ignored);
    int64_t valid = 0;
    ds_status st = x && ignored ? DS_OK : ds_err_set(err, DS_ERR_OOM, "predict: out of memory for %d x %d", mw, mh);
    if (st == DS_OK) st = ds_seg_apply_eval(&tf, photo, &zeros, mh, mw, x, ignored, &valid, err);
    ds_image_free(&zeros);
    free(ignored);
    const ds_deeplab_batch b = {.N = 1, .H = mh, .W = mw, .images = x};
    if (st == DS_OK) st = ds_deeplab_forward(ctx, &p->model, &b, false, 0, NULL, &p->arena, out);
    free(x);
    DS_TRY(st);
    const int64_t K = p->model.cfg.num_classes, H = photo->height, W = photo->width;
    const float *logits = out->out.data;  // (1, K, mh, mw) host
    float *up = NULL;
    if (mh != H || mw != W) {  // back to the image's size, as the model upsamples its own logits
        up = malloc((size_t)(K * H * W) * sizeof *up);
        DS_REQUIRE(err, up != NULL, DS_ERR_OOM, "predict: out of memory for %lld x %lld logits", (long long)W,
                   (long long)H);
        const ds_interpolate_args ia = {.x = out->out, .y = ds_tensor_cpu4(up, DS_F32, 1, K, H, W),
                                        .mode = DS_INTERP_BILINEAR, .align_corners = false};
        st = ds_interpolate_forward(ctx, &ia);
        logits = up;
    }
    if (st == DS_OK) st = ds_image_alloc(mask, H, W, 1, "predict", err);
    if (st == DS_OK) {
        const int64_t plane = H * W;
        for (int64_t q = 0; q < plane; q++) {
            int64_t best = 0;
            float v = logits[q];
            for (int64_t k = 1; k < K; k++)
                if (logits[k * plane + q] > v) v = logits[k * plane + q], best = k;
            mask->pixels[q] = (uint8_t)best;
        }
    }
    free(up);
    return st;
}

static ds_status write_logits(const char *path, const ds_deeplab_output *out, ds_err *err) {
    ds_st_entry e[2] = {{"out", out->out}, {"aux", out->aux}};
    return ds_st_write(path, e, out->aux.data ? 2 : 1, NULL, 0, err);
}

// One predictions.jsonl line.
static void write_line(FILE *f, const char *image, const char *mask_path, const ds_image *mask,
                       const ds_label_map *names) {
    int64_t counts[256] = {0};
    const int64_t n = (int64_t)mask->height * mask->width;
    for (int64_t q = 0; q < n; q++) counts[mask->pixels[q]]++;
    fputs("{\"image\": ", f);
    ds_json_write_string(f, image);
    fputs(", \"mask\": ", f);
    ds_json_write_string(f, mask_path);
    fputs(", \"classes\": {", f);
    bool first = true;
    for (int k = 0; k < 256 && k < names->count; k++) {
        if (!counts[k]) continue;
        fputs(first ? "" : ", ", f);
        ds_json_write_string(f, names->names[k]);
        fputs(": ", f);
        ds_json_write_float(f, (double)counts[k] / (double)n);
        first = false;
    }
    fputs("}}\n", f);
}

static ds_status open_predictor(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a, predictor *p) {
    ds_err *err = &ctx->err;
    seg_model_request req;
    DS_TRY(ds_seg_model_request(cfg, 0, true, &req, err));
    seg_model_info info;
    DS_TRY(ds_seg_model_open(ctx, a->model, &req, &p->model, &info));
    p->loaded = true;
    ds_status st = ds_seg_transform_from_config(cfg, &p->tf, err);
    if (st == DS_OK && info.has_transform) {
        memcpy(p->tf.mean, info.tf.mean, sizeof p->tf.mean);
        memcpy(p->tf.std, info.tf.std, sizeof p->tf.std);
    }
    const int64_t K = p->model.cfg.num_classes;
    if (st == DS_OK && info.names.count == K) {
        st = ds_label_map_copy(&p->names, &info.names, err);
    } else if (st == DS_OK) {  // a bare checkpoint: class_0, class_1, ...
        char(*buf)[32] = calloc((size_t)K, sizeof *buf);
        const char **list = calloc((size_t)K, sizeof *list);
        st = buf && list ? DS_OK : ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
        for (int64_t k = 0; st == DS_OK && k < K; k++) {
            snprintf(buf[k], sizeof buf[k], "class_%lld", (long long)k);
            list[k] = buf[k];
        }
        if (st == DS_OK) st = ds_label_map_from_names(&p->names, list, (int32_t)K, "class names", err);
        free(list);
        free(buf);
    }
    ds_seg_model_info_free(&info);
    return st;
}

// The arena for the largest image of the inputs (headers only).
static ds_status plan(ds_context *ctx, predictor *p, const input_list *in, long long resize) {
    for (size_t i = 0; i < in->count; i++) {
        int32_t h, w, mh, mw;
        DS_TRY(ds_image_probe(in->paths[i], &h, &w, &ctx->err));
        model_size(h, w, resize, &mh, &mw);
        if (mh > p->max_h) p->max_h = mh;
        if (mw > p->max_w) p->max_w = mw;
    }
    size_t bytes = 0;
    // Predictions are computed in fp32 on either device (as the text family's).
    DS_TRY(ds_deeplab_to_device(ctx, &p->model, DS_F32));
    DS_TRY(ds_deeplab_arena_bytes(ctx, &p->model, 1, p->max_h, p->max_w, false, &bytes));
    return ds_arena_init_for(ctx, &p->arena, bytes);
}

ds_status ds_seg_predict(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, a->max_length == 0, DS_ERR_CONFIG, "predict: --max-length applies to text classifiers; %s is a "
               "segmentation model", a->model);
    const char *out_dir = a->output ? a->output : "predictions";
    const char *logit_dir = a->save_logits ? (a->save_logits[0] ? a->save_logits : out_dir) : NULL;
    input_list in = {0};
    predictor p;
    memset(&p, 0, sizeof p);
    ds_label_map_init(&p.names);
    char *lines = NULL;
    size_t lines_size = 0;
    FILE *jsonl = NULL;
    ds_status st = read_inputs(a->input, &in, err);
    if (st == DS_OK) st = open_predictor(ctx, cfg, a, &p);
    if (st == DS_OK) st = plan(ctx, &p, &in, a->resize);
    if (st == DS_OK) st = ds_mkdirs(out_dir, err);
    if (st == DS_OK && logit_dir) st = ds_mkdirs(logit_dir, err);
    // Two inputs of one name would overwrite each other's files.
    char(*stems)[256] = st == DS_OK ? calloc(in.count, sizeof *stems) : NULL;
    if (st == DS_OK && !stems) st = ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
    for (size_t i = 0; st == DS_OK && i < in.count; i++) {
        stem_of(in.paths[i], stems[i], sizeof stems[i]);
        for (size_t j = 0; j < i && st == DS_OK; j++)
            if (strcmp(stems[i], stems[j]) == 0)
                st = ds_err_set(err, DS_ERR_INVALID_ARG, "predict: %s and %s would both write %s/%s.png: rename one",
                                in.paths[j], in.paths[i], out_dir, stems[i]);
    }
    if (st == DS_OK && !(jsonl = open_memstream(&lines, &lines_size)))
        st = ds_err_set(err, DS_ERR_OOM, "predict: out of memory");
    if (st == DS_OK)
        DS_LOG_INFO(&ctx->log, "predicting %zu images with %s (%lld classes) at %s into %s", in.count, a->model,
                    (long long)p.model.cfg.num_classes, a->resize ? "the --resize'd size" : "their own size", out_dir);
    const double t0 = ds_now_seconds();
    for (size_t i = 0; st == DS_OK && i < in.count; i++) {
        ds_image photo = {0}, mask = {0}, overlay = {0};
        ds_deeplab_output out;
        char path[4600];
        st = ds_image_load_rgb(in.paths[i], &photo, err);
        if (st == DS_OK) st = predict_one(ctx, &p, &photo, a->resize, &mask, &out);
        if (st == DS_OK) {
            snprintf(path, sizeof path, "%s/%s.png", out_dir, stems[i]);
            st = ds_png_write_mask(path, &mask, err);
            if (st == DS_OK) write_line(jsonl, in.paths[i], path, &mask, &p.names);
        }
        if (st == DS_OK && a->overlay) {
            snprintf(path, sizeof path, "%s/%s_overlay.png", out_dir, stems[i]);
            st = ds_image_overlay_mask(&photo, &mask, 0.5f, &overlay, err);
            if (st == DS_OK) st = ds_png_write_rgb(path, &overlay, err);
        }
        if (st == DS_OK && logit_dir) {
            snprintf(path, sizeof path, "%s/%s.safetensors", logit_dir, stems[i]);
            st = write_logits(path, &out, err);
        }
        ds_image_free(&photo);
        ds_image_free(&mask);
        ds_image_free(&overlay);
    }
    if (jsonl) fclose(jsonl);
    if (st == DS_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/predictions.jsonl", out_dir);
        st = ds_write_file_atomic(path, lines, lines_size, err);
        if (st == DS_OK)
            DS_LOG_INFO(&ctx->log, "%zu masks in %.2f s: %s/<name>.png%s, %s%s%s", in.count, ds_now_seconds() - t0,
                        out_dir, a->overlay ? " and <name>_overlay.png" : "", path, logit_dir ? "; logits in " : "",
                        logit_dir ? logit_dir : "");
    }
    free(lines);
    free(stems);
    inputs_free(&in);
    ds_arena_free(&p.arena);
    if (p.loaded) ds_deeplab_free(&p.model);
    ds_label_map_free(&p.names);
    return st;
}
