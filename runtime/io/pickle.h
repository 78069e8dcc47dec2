// A restricted unpickler for PyTorch checkpoints. It interprets the pickle opcodes that
// torch.load(weights_only=True) accepts, builds inert values (numbers, strings, containers) and
// never calls anything: globals are names compared against a short allow-list (pickle_globals.c),
// and applying an allowed one only records what torch would rebuild (a tensor descriptor, an
// OrderedDict). Any other global becomes an opaque "foreign" value that remembers its name, so
// that the caller decides whether it may be ignored (outside the model's state dict) or must be
// refused (docs/pth_format.md says why this is safe: no global is ever resolved or invoked).
// Every length, index and count read from the pickle is checked against the bytes present; the
// machine is iterative (no recursion) and its memory is linear in the pickle's length.
// Internal to runtime/io (the .pth reader).
#ifndef DS_PICKLE_H
#define DS_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/status.h"
#include "../base/tensor.h"
#include "str_index.h"

// Only the first this many bytes of a buffer hold pickles (a legacy file's pickles come before its
// data; a zip's data.pkl is checked against it): a state dict's pickle is a few hundred KB even
// for billion-parameter models, and the limit keeps every span, count and index inside int32.
#define DS_PICKLE_MAX_BYTES ((size_t)1 << 30)

typedef enum ds_pk_kind {
    DS_PK_NONE,
    DS_PK_BOOL,
    DS_PK_INT,      // fits int64
    DS_PK_BIGINT,   // LONG1 of more than 8 bytes: span holds its little-endian two's complement bytes
    DS_PK_FLOAT,
    DS_PK_STR,      // valid UTF-8 span of the pickle (not NUL-terminated)
    DS_PK_TUPLE,    // containers: a list of cells
    DS_PK_LIST,
    DS_PK_DICT,     // cells alternate key, value; also what collections.OrderedDict() rebuilds
    DS_PK_SET,
    DS_PK_GLOBAL,   // a name from GLOBAL: allowed (global id) or foreign (id DS_PG_FOREIGN)
    DS_PK_FOREIGN,  // what calling/instantiating a foreign global would have made; never made
    DS_PK_STORAGE,  // a persistent id resolved to a storage reference (see ds_pk_storage_ref)
    DS_PK_TENSOR,   // what _rebuild_tensor(_v2)/_rebuild_parameter describe (see ds_pk_tensor)
} ds_pk_kind;

// The globals the unpickler knows by name (pickle_globals.c has the table).
typedef enum ds_pk_global {
    DS_PG_FOREIGN = 0,  // not on the allow-list: never resolved, never called
    DS_PG_ORDERED_DICT,
    DS_PG_REBUILD_TENSOR_V2,
    DS_PG_REBUILD_TENSOR,  // torch < 0.4
    DS_PG_REBUILD_PARAMETER,
    DS_PG_REBUILD_PARAMETER_WITH_STATE,
    DS_PG_STORAGE_TYPE,  // torch.<Dtype>Storage, torch.storage.UntypedStorage: only inside persistent ids
} ds_pk_global;

typedef struct ds_pk_value {
    uint8_t kind;  // ds_pk_kind
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            uint32_t off, len;  // STR, BIGINT: bytes [off, off + len) of the pickle buffer
        } span;
        struct {
            int32_t first, last, count;  // containers: cells, in order
        } list;
        struct {
            uint8_t id;         // ds_pk_global
            uint8_t dtype;      // DS_PG_STORAGE_TYPE: its element type
            uint32_t off, len;  // the name as written, "module\nname", in the pickle buffer
        } global;
        int32_t foreign;  // FOREIGN: the value index of the foreign global it came from
        int32_t ref;      // STORAGE: index into refs
        int32_t tensor;   // TENSOR: index into tensors
    } u;
} ds_pk_value;

typedef struct ds_pk_cell {
    int32_t value, next;  // next: -1 at the end
} ds_pk_cell;

// One storage of the checkpoint, named by its key (unique): the zip entry data/<key> or a block
// of the legacy file's data section. The format layer fills data/data_size.
typedef struct ds_pk_storage {
    uint32_t key_off, key_len;  // the key, a span of the pickle buffer
    ds_dtype dtype;             // as first referenced (the legacy data section counts in its elements)
    uint64_t nbytes;            // numel * element size, as first referenced
    const uint8_t *data;        // (data_size) host, read-only; NULL until the format layer finds it
    uint64_t data_size;
} ds_pk_storage;

// A reference to (a window of) a storage, as one persistent id describes it.
typedef struct ds_pk_storage_ref {
    int32_t storage;
    ds_dtype dtype;               // elements are of this type (the same storage may be viewed as several)
    uint64_t elem_offset, numel;  // window, in elements of dtype (legacy view_metadata; else 0, all)
} ds_pk_storage_ref;

// A tensor as torch would rebuild it: storage window, offset, size and stride, all in elements.
// Checked against the storage only when the tensor is one the caller keeps (ds_pth's state dict).
typedef struct ds_pk_tensor {
    int32_t ref;  // index into refs
    int64_t offset;
    int ndim;  // as in the pickle; only the first DS_MAX_DIMS sizes/strides are kept
    int64_t shape[DS_MAX_DIMS], stride[DS_MAX_DIMS];
    bool has_metadata;  // _rebuild_tensor_v2's 7th argument was a non-empty dict (e.g. {"neg": True})
    uint32_t at;        // byte offset of its REDUCE in the pickle, for messages
} ds_pk_tensor;

typedef struct ds_pickle {
    const uint8_t *buf;  // (len) host, read-only: the bytes the spans point into; not owned
    size_t len;
    const char *path;  // names the file in messages; not owned
    bool legacy;       // persistent ids of the legacy format: 6 fields (view_metadata); zip: 5

    ds_pk_value *vals;  // every value made, across runs (a root stays valid after its run)
    int32_t nvals, cap_vals;
    ds_pk_cell *cells;
    int32_t ncells, cap_cells;
    ds_pk_storage *storages;
    int32_t nstorages, cap_storages;
    ds_str_index storage_keys;  // key -> storage index
    ds_pk_storage_ref *refs;
    int32_t nrefs, cap_refs;
    ds_pk_tensor *tensors;
    int32_t ntensors, cap_tensors;
    ds_str_index foreign_names;  // distinct foreign globals ("module\nname") -> their first value
    int32_t *foreign_list;       // the same, in order of first appearance
    int32_t nforeign, cap_foreign;

    // State of the current run (reset by each ds_pickle_run).
    int32_t *stack;
    int32_t nstack, cap_stack;
    int32_t *marks;  // stack heights at each open MARK
    int32_t nmarks, cap_marks;
    int32_t *memo;  // memo index -> value, -1 when unset
    int32_t cap_memo;
    const char *what;  // names the pickle in messages ("archive/data.pkl", "the main pickle")
    size_t base;       // reported byte offsets are pos - base
    size_t pos, end;   // next byte to read; the run may not read at or past `end`
    size_t op_at;      // offset of the opcode being run
} ds_pickle;

void ds_pickle_init(ds_pickle *pk, const uint8_t *buf, size_t len, const char *path, bool legacy);
void ds_pickle_free(ds_pickle *pk);

// Runs the pickle that starts at buf[start] up to its STOP, which must lie before `end` (and
// inside the first DS_PICKLE_MAX_BYTES of the buffer);
// *root receives its value and *stop the offset just past the STOP. `what` and `base` name the
// pickle and the origin of the byte offsets that messages report.
ds_status ds_pickle_run(ds_pickle *pk, size_t start, size_t end, const char *what, size_t base, int32_t *root,
                        size_t *stop, ds_err *err);

// ---- values (pickle_values.c) ----
// A new value of `kind` (an empty container for container kinds); -1 when out of memory.
int32_t ds_pk_new(ds_pickle *pk, ds_pk_kind kind);
// Appends value v to container c; -1 when out of memory.
int ds_pk_append(ds_pickle *pk, int32_t c, int32_t v);
// Item i of container c (i < count), walking its cells: for the few fixed-size tuples the
// machine inspects (persistent ids, rebuild arguments).
int32_t ds_pk_item(const ds_pickle *pk, int32_t c, int32_t i);
// True when value v is a string equal to the NUL-terminated s.
bool ds_pk_str_is(const ds_pickle *pk, int32_t v, const char *s);
// What value v is, for messages: "a string", "a tuple", "an object made by argparse.Namespace".
const char *ds_pk_describe(const ds_pickle *pk, int32_t v, char *buf, size_t cap);
// "module.name" of a GLOBAL value, printable, into buf; returns buf.
const char *ds_pk_global_name(const ds_pickle *pk, int32_t g, char *buf, size_t cap);

// ---- globals and calls (pickle_globals.c, pickle_calls.c) ----
// The value of GLOBAL "module\nname": mod_len bytes at buf[off], a newline, name_len bytes.
ds_status ds_pk_lookup_global(ds_pickle *pk, uint32_t off, uint32_t mod_len, uint32_t name_len, int32_t *out, ds_err *err);
ds_status ds_pk_reduce(ds_pickle *pk, int32_t callable, int32_t args, int32_t *out, ds_err *err);
ds_status ds_pk_newobj(ds_pickle *pk, int32_t cls, int32_t args, int32_t *out, ds_err *err);
ds_status ds_pk_build(ds_pickle *pk, int32_t inst, int32_t state, ds_err *err);
ds_status ds_pk_persistent_load(ds_pickle *pk, int32_t pid, int32_t *out, ds_err *err);

// Records a failure at the current opcode: "<path>: <what>, byte N: <message>".
ds_status ds_pk_fail(ds_pickle *pk, ds_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
