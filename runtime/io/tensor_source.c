#include "tensor_source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

// Up to 512 bytes from the start of path (the tar magic sits at 257); *n how many were read.
static ds_status read_head(const char *path, uint8_t *head, size_t cap, size_t *n, ds_err *err) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ds_err_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    *n = 0;
    while (*n < cap) {
        const ssize_t r = read(fd, head + *n, cap - *n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            const int e = errno;
            close(fd);
            return ds_err_set(err, DS_ERR_IO, "%s: cannot read: %s", path, strerror(e));
        }
        if (r == 0) break;
        *n += (size_t)r;
    }
    close(fd);
    return DS_OK;
}

static bool looks_like_safetensors(const uint8_t *head, size_t n) {
    if (n < 9) return false;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | head[i];
    return len >= 2 && head[8] == '{';
}

ds_status ds_tensor_source_open(const char *path, ds_tensor_source *src, ds_err *err) {
    memset(src, 0, sizeof *src);
    uint8_t head[512];
    size_t n = 0;
    ds_status s = read_head(path, head, sizeof head, &n, err);
    if (s != DS_OK) return s;
    if (ds_pth_sniff(head, n) != DS_PTH_UNKNOWN) {
        src->kind = DS_SOURCE_PTH;
        return ds_pth_open(path, &src->pth, err);
    }
    if (looks_like_safetensors(head, n)) {
        src->kind = DS_SOURCE_SAFETENSORS;
        return ds_st_open(path, &src->st, err);
    }
    return ds_err_set(err, DS_ERR_FORMAT,
                      "%s: neither a safetensors file nor a PyTorch checkpoint (torch.save's zip or legacy format)",
                      path);
}

void ds_tensor_source_close(ds_tensor_source *src) {
    if (src == NULL) return;
    if (src->kind == DS_SOURCE_PTH)
        ds_pth_close(&src->pth);
    else
        ds_st_close(&src->st);
    memset(src, 0, sizeof *src);
}

const char *ds_tensor_source_format(const ds_tensor_source *src) {
    if (src->kind == DS_SOURCE_SAFETENSORS) return "safetensors";
    return src->pth.format == DS_PTH_LEGACY ? "pth (legacy)" : "pth (zip)";
}

const char *ds_tensor_source_path(const ds_tensor_source *src) {
    return src->kind == DS_SOURCE_PTH ? src->pth.path : src->st.path;
}

int ds_tensor_source_count(const ds_tensor_source *src) {
    return src->kind == DS_SOURCE_PTH ? src->pth.count : src->st.count;
}

ds_named_tensor ds_tensor_source_at(const ds_tensor_source *src, int i) {
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    ds_named_tensor out;
    if (src->kind == DS_SOURCE_PTH) {
        const ds_pth_tensor *t = &src->pth.tensors[i];
        out.name = t->name;
        out.tensor = ds_tensor_make((void *)t->data, t->dtype, cpu, t->ndim, t->shape);
    } else {
        const ds_st_tensor *t = &src->st.tensors[i];
        out.name = t->name;
        out.tensor = ds_tensor_make((void *)t->data, t->dtype, cpu, t->ndim, t->shape);
    }
    return out;
}

int ds_tensor_source_find(const ds_tensor_source *src, const char *name) {
    const int n = ds_tensor_source_count(src);
    for (int i = 0; i < n; i++)
        if (strcmp(ds_tensor_source_at(src, i).name, name) == 0) return i;
    return -1;
}

ds_status ds_tensor_source_view(const ds_tensor_source *src, const char *name, ds_dtype dtype, ds_tensor *out,
                                ds_err *err) {
    if (src->kind == DS_SOURCE_PTH) return ds_pth_view(&src->pth, name, dtype, out, err);
    return ds_st_view(&src->st, name, dtype, out, err);
}
