// The opcode loop of the restricted unpickler (pickle.h). The accepted opcodes are exactly those
// torch.load(weights_only=True) accepts (torch/_weights_only_unpickler.py), which are those
// torch.save writes with its default protocol 2; any other opcode is refused by name.
// The stack is one array with the heights of open MARKs beside it: an opcode may only pop
// what was pushed since the innermost MARK, as in CPython, where MARK starts a fresh stack.
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "safetensors_internal.h"

enum {
    OP_MARK = '(', OP_STOP = '.', OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N',
    OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_SHORT_BINSTRING = 'U', OP_BINUNICODE = 'X', OP_APPEND = 'a',
    OP_BUILD = 'b', OP_GLOBAL = 'c', OP_EMPTY_DICT = '}', OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j',
    OP_EMPTY_LIST = ']', OP_BINPUT = 'q', OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't',
    OP_EMPTY_TUPLE = ')', OP_SETITEMS = 'u', OP_BINFLOAT = 'G', OP_PROTO = 0x80, OP_NEWOBJ = 0x81,
    OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87, OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a,
    OP_EMPTY_SET = 0x8f,
};

// Names of the pickle opcodes this reader refuses, so that the message says which one it met.
static const char *refused_opcode_name(int op) {
    switch (op) {
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'P': return "PERSID";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'V': return "UNICODE";
    case 'd': return "DICT";
    case 'g': return "GET";
    case 'i': return "INST";
    case 'l': return "LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return NULL;
    }
}

ds_status ds_pk_fail(ds_pickle *pk, ds_err *err, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ds_err_set(err, DS_ERR_FORMAT, "%s: %s, byte %zu: %s", pk->path, pk->what, pk->op_at - pk->base, msg);
}

static ds_status oom(ds_pickle *pk, ds_err *err) {
    return ds_err_set(err, DS_ERR_OOM, "%s: %s: out of memory", pk->path, pk->what);
}

static int grow(void **p, int32_t need, int32_t *cap, size_t size) {
    if (need <= *cap) return 0;
    int32_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > INT32_MAX / 2) return -1;
        c *= 2;
    }
    void *q = realloc(*p, (size_t)c * size);
    if (q == NULL) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static ds_status push(ds_pickle *pk, int32_t v, ds_err *err) {
    if (v < 0) return oom(pk, err);  // a failed ds_pk_new
    if (grow((void **)&pk->stack, pk->nstack + 1, &pk->cap_stack, sizeof *pk->stack) != 0) return oom(pk, err);
    pk->stack[pk->nstack++] = v;
    return DS_OK;
}

static int32_t floor_of(const ds_pickle *pk) { return pk->nmarks ? pk->marks[pk->nmarks - 1] : 0; }

static ds_status pop(ds_pickle *pk, const char *op, int32_t *v, ds_err *err) {
    if (pk->nstack <= floor_of(pk))
        return ds_pk_fail(pk, err, "%s finds the stack empty%s (corrupt pickle)", op, pk->nmarks ? " above its MARK" : "");
    *v = pk->stack[--pk->nstack];
    return DS_OK;
}

static ds_status top(ds_pickle *pk, const char *op, int32_t *v, ds_err *err) {
    DS_TRY(pop(pk, op, v, err));
    pk->nstack++;
    return DS_OK;
}

// Closes the innermost MARK: the items pushed since are stack[*from .. nstack).
static ds_status pop_mark(ds_pickle *pk, const char *op, int32_t *from, ds_err *err) {
    if (pk->nmarks == 0) return ds_pk_fail(pk, err, "%s without a MARK (corrupt pickle)", op);
    *from = pk->marks[--pk->nmarks];
    return DS_OK;
}

// The object below the items of a closed MARK, which APPENDS and SETITEMS extend.
static ds_status mark_target(ds_pickle *pk, const char *op, int32_t from, int32_t *target, ds_err *err) {
    if (from <= floor_of(pk)) return ds_pk_fail(pk, err, "%s has no object to extend (corrupt pickle)", op);
    *target = pk->stack[from - 1];
    return DS_OK;
}

static ds_status need(ds_pickle *pk, size_t n, const char *op, ds_err *err) {
    if (pk->end - pk->pos < n)
        return ds_pk_fail(pk, err, "%s needs %zu bytes but the pickle ends %zu bytes further (truncated file)", op, n,
                          pk->end - pk->pos);
    return DS_OK;
}

static uint32_t read_le(ds_pickle *pk, int n) {
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | pk->buf[pk->pos + (size_t)i];
    pk->pos += (size_t)n;
    return v;
}

static ds_status push_int(ds_pickle *pk, int64_t i, ds_err *err) {
    const int32_t v = ds_pk_new(pk, DS_PK_INT);
    if (v >= 0) pk->vals[v].u.i = i;
    return push(pk, v, err);
}

// A string of n bytes at pos (BINUNICODE, SHORT_BINSTRING): UTF-8, as Python decodes them.
static ds_status push_str(ds_pickle *pk, size_t n, const char *op, ds_err *err) {
    DS_TRY(need(pk, n, op, err));
    const long bad = ds_st_utf8_invalid_at((const char *)pk->buf + pk->pos, n);
    if (bad >= 0) return ds_pk_fail(pk, err, "%s string is not valid UTF-8 (at its byte %ld)", op, bad);
    const int32_t v = ds_pk_new(pk, DS_PK_STR);
    if (v >= 0) {
        pk->vals[v].u.span.off = (uint32_t)pk->pos;
        pk->vals[v].u.span.len = (uint32_t)n;
    }
    pk->pos += n;
    return push(pk, v, err);
}

static ds_status op_long1(ds_pickle *pk, ds_err *err) {
    DS_TRY(need(pk, 1, "LONG1", err));
    const size_t n = pk->buf[pk->pos++];
    DS_TRY(need(pk, n, "LONG1", err));
    if (n > 8) {  // beyond int64: kept as bytes (the legacy format's magic number is one)
        const int32_t v = ds_pk_new(pk, DS_PK_BIGINT);
        if (v >= 0) {
            pk->vals[v].u.span.off = (uint32_t)pk->pos;
            pk->vals[v].u.span.len = (uint32_t)n;
        }
        pk->pos += n;
        return push(pk, v, err);
    }
    uint64_t u = 0;
    for (size_t i = n; i-- > 0;) u = u << 8 | pk->buf[pk->pos + i];
    if (n > 0 && n < 8 && (pk->buf[pk->pos + n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);  // sign-extend
    pk->pos += n;
    int64_t i;
    memcpy(&i, &u, sizeof i);
    return push_int(pk, i, err);
}

static ds_status op_binfloat(ds_pickle *pk, ds_err *err) {
    DS_TRY(need(pk, 8, "BINFLOAT", err));
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | pk->buf[pk->pos++];  // big-endian
    const int32_t v = ds_pk_new(pk, DS_PK_FLOAT);
    if (v >= 0) memcpy(&pk->vals[v].u.f, &u, sizeof u);
    return push(pk, v, err);
}

// GLOBAL "module\nname\n": two lines of printable ASCII.
static ds_status op_global(ds_pickle *pk, ds_err *err) {
    const size_t start = pk->pos;
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *nl = memchr(pk->buf + pk->pos, '\n', pk->end - pk->pos);
        if (nl == NULL) return ds_pk_fail(pk, err, "GLOBAL's %s is not ended by a newline (truncated file)", k ? "name" : "module");
        len[k] = (size_t)(nl - (pk->buf + pk->pos));
        for (size_t i = 0; i < len[k]; i++)
            if (pk->buf[pk->pos + i] < 0x21 || pk->buf[pk->pos + i] > 0x7e)
                return ds_pk_fail(pk, err, "GLOBAL's %s holds byte 0x%02x, not a printable character (corrupt pickle)",
                                  k ? "name" : "module", pk->buf[pk->pos + i]);
        if (len[k] == 0) return ds_pk_fail(pk, err, "GLOBAL's %s is empty (corrupt pickle)", k ? "name" : "module");
        pk->pos += len[k] + 1;
    }
    int32_t v = 0;
    DS_TRY(ds_pk_lookup_global(pk, (uint32_t)start, (uint32_t)len[0], (uint32_t)len[1], &v, err));
    return push(pk, v, err);
}

static ds_status op_put(ds_pickle *pk, size_t idx, ds_err *err) {
    // A pickler numbers memo entries 0, 1, 2, ... as it meets new objects, each of which made at
    // least one value here; a larger index is corruption, and refusing it keeps the memo no
    // larger than the values.
    if (idx > (size_t)pk->nvals)
        return ds_pk_fail(pk, err, "memo index %zu is beyond the %d objects made so far (corrupt pickle)", idx,
                          pk->nvals);
    int32_t v = 0;
    DS_TRY(top(pk, "BINPUT", &v, err));
    const int32_t old = pk->cap_memo;
    if (grow((void **)&pk->memo, (int32_t)idx + 1, &pk->cap_memo, sizeof *pk->memo) != 0) return oom(pk, err);
    for (int32_t i = old; i < pk->cap_memo; i++) pk->memo[i] = -1;
    pk->memo[idx] = v;
    return DS_OK;
}

static ds_status op_get(ds_pickle *pk, size_t idx, ds_err *err) {
    if (idx >= (size_t)pk->cap_memo || pk->memo[idx] < 0)
        return ds_pk_fail(pk, err, "BINGET of memo index %zu, which was never set (corrupt pickle)", idx);
    return push(pk, pk->memo[idx], err);
}

// TUPLE, TUPLE1..3: the top n items (n < 0: those since the innermost MARK) into a tuple.
static ds_status op_tuple(ds_pickle *pk, int n, const char *op, ds_err *err) {
    int32_t from = 0;
    if (n < 0) {
        DS_TRY(pop_mark(pk, op, &from, err));
    } else {
        if (pk->nstack - floor_of(pk) < n)
            return ds_pk_fail(pk, err, "%s needs %d items on the stack (corrupt pickle)", op, n);
        from = pk->nstack - n;
    }
    const int32_t t = ds_pk_new(pk, DS_PK_TUPLE);
    if (t < 0) return oom(pk, err);
    for (int32_t i = from; i < pk->nstack; i++)
        if (ds_pk_append(pk, t, pk->stack[i]) != 0) return oom(pk, err);
    pk->nstack = from;
    return push(pk, t, err);
}

// Extends `target` with items stack[from..nstack): pairs for SETITEM(S), single items for
// APPEND(S). A foreign object swallows them (Python would call its own methods: nothing to mirror).
static ds_status extend(ds_pickle *pk, int32_t target, int32_t from, bool pairs, const char *op, ds_err *err) {
    const ds_pk_value *t = &pk->vals[target];
    if (pairs && (pk->nstack - from) % 2 != 0)
        return ds_pk_fail(pk, err, "%s has an odd number of items (corrupt pickle)", op);
    if (t->kind == DS_PK_FOREIGN) {
        pk->nstack = from;
        return DS_OK;
    }
    if (t->kind != (pairs ? DS_PK_DICT : DS_PK_LIST)) {
        char what[200];
        return ds_pk_fail(pk, err, "%s on %s; it extends only a %s", op, ds_pk_describe(pk, target, what, sizeof what),
                          pairs ? "dict" : "list");
    }
    for (int32_t i = from; i < pk->nstack; i++)
        if (ds_pk_append(pk, target, pk->stack[i]) != 0) return oom(pk, err);
    pk->nstack = from;
    return DS_OK;
}

static ds_status op_extend(ds_pickle *pk, int op, ds_err *err) {
    const bool pairs = op == OP_SETITEM || op == OP_SETITEMS;
    const char *name = op == OP_SETITEM ? "SETITEM" : op == OP_SETITEMS ? "SETITEMS" : op == OP_APPEND ? "APPEND" : "APPENDS";
    int32_t from = 0, target = 0;
    if (op == OP_SETITEMS || op == OP_APPENDS) {
        DS_TRY(pop_mark(pk, name, &from, err));
        DS_TRY(mark_target(pk, name, from, &target, err));
    } else {
        const int n = pairs ? 2 : 1;
        if (pk->nstack - floor_of(pk) < n + 1)
            return ds_pk_fail(pk, err, "%s needs %d items on the stack (corrupt pickle)", name, n + 1);
        from = pk->nstack - n;
        target = pk->stack[from - 1];
    }
    return extend(pk, target, from, pairs, name, err);
}

static ds_status op_call(ds_pickle *pk, int op, ds_err *err) {
    int32_t a = 0, b = 0, v = -1;
    switch (op) {
    case OP_REDUCE:
        DS_TRY(pop(pk, "REDUCE", &a, err));
        DS_TRY(pop(pk, "REDUCE", &b, err));
        DS_TRY(ds_pk_reduce(pk, b, a, &v, err));
        return push(pk, v, err);
    case OP_NEWOBJ:
        DS_TRY(pop(pk, "NEWOBJ", &a, err));
        DS_TRY(pop(pk, "NEWOBJ", &b, err));
        DS_TRY(ds_pk_newobj(pk, b, a, &v, err));
        return push(pk, v, err);
    case OP_BUILD:
        DS_TRY(pop(pk, "BUILD", &a, err));
        DS_TRY(top(pk, "BUILD", &b, err));
        return ds_pk_build(pk, b, a, err);
    default:  // OP_BINPERSID
        DS_TRY(pop(pk, "BINPERSID", &a, err));
        DS_TRY(ds_pk_persistent_load(pk, a, &v, err));
        return push(pk, v, err);
    }
}

static ds_status op_simple(ds_pickle *pk, int op, ds_err *err) {
    int32_t v = 0;
    switch (op) {
    case OP_NONE: return push(pk, ds_pk_new(pk, DS_PK_NONE), err);
    case OP_NEWTRUE:
    case OP_NEWFALSE:
        v = ds_pk_new(pk, DS_PK_BOOL);
        if (v >= 0) pk->vals[v].u.b = op == OP_NEWTRUE;
        return push(pk, v, err);
    case OP_EMPTY_TUPLE: return push(pk, ds_pk_new(pk, DS_PK_TUPLE), err);
    case OP_EMPTY_LIST: return push(pk, ds_pk_new(pk, DS_PK_LIST), err);
    case OP_EMPTY_DICT: return push(pk, ds_pk_new(pk, DS_PK_DICT), err);
    case OP_EMPTY_SET: return push(pk, ds_pk_new(pk, DS_PK_SET), err);
    case OP_MARK:
        if (grow((void **)&pk->marks, pk->nmarks + 1, &pk->cap_marks, sizeof *pk->marks) != 0) return oom(pk, err);
        pk->marks[pk->nmarks++] = pk->nstack;
        return DS_OK;
    case OP_TUPLE: return op_tuple(pk, -1, "TUPLE", err);
    case OP_TUPLE1: return op_tuple(pk, 1, "TUPLE1", err);
    case OP_TUPLE2: return op_tuple(pk, 2, "TUPLE2", err);
    default: return op_tuple(pk, 3, "TUPLE3", err);  // OP_TUPLE3
    }
}

// Opcodes with an argument in the bytes that follow.
static ds_status op_with_arg(ds_pickle *pk, int op, ds_err *err) {
    switch (op) {
    case OP_PROTO: {
        DS_TRY(need(pk, 1, "PROTO", err));
        const int proto = pk->buf[pk->pos++];
        if (proto > 5) return ds_pk_fail(pk, err, "pickle protocol %d is unknown (Python knows 0 to 5)", proto);
        return DS_OK;
    }
    case OP_BININT:
        DS_TRY(need(pk, 4, "BININT", err));
        return push_int(pk, (int32_t)read_le(pk, 4), err);
    case OP_BININT1:
        DS_TRY(need(pk, 1, "BININT1", err));
        return push_int(pk, read_le(pk, 1), err);
    case OP_BININT2:
        DS_TRY(need(pk, 2, "BININT2", err));
        return push_int(pk, read_le(pk, 2), err);
    case OP_LONG1: return op_long1(pk, err);
    case OP_BINFLOAT: return op_binfloat(pk, err);
    case OP_BINUNICODE:
        DS_TRY(need(pk, 4, "BINUNICODE", err));
        return push_str(pk, read_le(pk, 4), "BINUNICODE", err);
    case OP_SHORT_BINSTRING:
        DS_TRY(need(pk, 1, "SHORT_BINSTRING", err));
        return push_str(pk, read_le(pk, 1), "SHORT_BINSTRING", err);
    case OP_GLOBAL: return op_global(pk, err);
    case OP_BINPUT:
        DS_TRY(need(pk, 1, "BINPUT", err));
        return op_put(pk, read_le(pk, 1), err);
    case OP_LONG_BINPUT:
        DS_TRY(need(pk, 4, "LONG_BINPUT", err));
        return op_put(pk, read_le(pk, 4), err);
    case OP_BINGET:
        DS_TRY(need(pk, 1, "BINGET", err));
        return op_get(pk, read_le(pk, 1), err);
    default:  // OP_LONG_BINGET
        DS_TRY(need(pk, 4, "LONG_BINGET", err));
        return op_get(pk, read_le(pk, 4), err);
    }
}

static ds_status step(ds_pickle *pk, int op, ds_err *err) {
    switch (op) {
    case OP_PROTO: case OP_BININT: case OP_BININT1: case OP_BININT2: case OP_LONG1: case OP_BINFLOAT:
    case OP_BINUNICODE: case OP_SHORT_BINSTRING: case OP_GLOBAL: case OP_BINPUT: case OP_LONG_BINPUT:
    case OP_BINGET: case OP_LONG_BINGET:
        return op_with_arg(pk, op, err);
    case OP_NONE: case OP_NEWTRUE: case OP_NEWFALSE: case OP_EMPTY_TUPLE: case OP_EMPTY_LIST: case OP_EMPTY_DICT:
    case OP_EMPTY_SET: case OP_MARK: case OP_TUPLE: case OP_TUPLE1: case OP_TUPLE2: case OP_TUPLE3:
        return op_simple(pk, op, err);
    case OP_SETITEM: case OP_SETITEMS: case OP_APPEND: case OP_APPENDS:
        return op_extend(pk, op, err);
    case OP_REDUCE: case OP_NEWOBJ: case OP_BUILD: case OP_BINPERSID:
        return op_call(pk, op, err);
    default: {
        const char *name = refused_opcode_name(op);
        if (name != NULL)
            return ds_pk_fail(pk, err,
                              "opcode %s (0x%02x) is refused: downstream accepts only the opcodes torch.save writes "
                              "(those torch.load(weights_only=True) accepts)",
                              name, op);
        return ds_pk_fail(pk, err, "byte 0x%02x is not a pickle opcode (corrupt file)", op);
    }
    }
}

void ds_pickle_init(ds_pickle *pk, const uint8_t *buf, size_t len, const char *path, bool legacy) {
    memset(pk, 0, sizeof *pk);
    pk->buf = buf;
    pk->len = len < DS_PICKLE_MAX_BYTES ? len : DS_PICKLE_MAX_BYTES;
    pk->path = path;
    pk->legacy = legacy;
}

void ds_pickle_free(ds_pickle *pk) {
    free(pk->vals);
    free(pk->cells);
    free(pk->storages);
    ds_str_index_free(&pk->storage_keys);
    free(pk->refs);
    free(pk->tensors);
    ds_str_index_free(&pk->foreign_names);
    free(pk->foreign_list);
    free(pk->stack);
    free(pk->marks);
    free(pk->memo);
    memset(pk, 0, sizeof *pk);
}

ds_status ds_pickle_run(ds_pickle *pk, size_t start, size_t end, const char *what, size_t base, int32_t *root,
                        size_t *stop, ds_err *err) {
    pk->what = what;
    pk->base = base;
    pk->pos = pk->op_at = start;
    pk->end = end < pk->len ? end : pk->len;
    pk->nstack = pk->nmarks = 0;
    for (int32_t i = 0; i < pk->cap_memo; i++) pk->memo[i] = -1;  // each pickle has its own memo
    if (start > pk->end)
        return ds_pk_fail(pk, err, "the pickle starts past the end of the file (truncated file)");
    for (;;) {
        pk->op_at = pk->pos;
        if (pk->pos >= pk->end)
            return ds_pk_fail(pk, err, "the pickle ends without a STOP opcode (truncated file)");
        const int op = pk->buf[pk->pos++];
        if (op == OP_STOP) {
            if (pk->nmarks != 0 || pk->nstack != 1)
                return ds_pk_fail(pk, err, "STOP with %d items and %d open MARKs on the stack; a pickle ends with one "
                                  "item (corrupt pickle)", pk->nstack, pk->nmarks);
            *root = pk->stack[0];
            *stop = pk->pos;
            return DS_OK;
        }
        DS_TRY(step(pk, op, err));
    }
}
