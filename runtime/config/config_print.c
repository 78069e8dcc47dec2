// The resolved config as JSON: nested sections in table order, each value as its type prints,
// then which keys came from the file and which from --set (the rest hold their defaults).
#include <inttypes.h>
#include <string.h>

#include "../io/json_write.h"
#include "config_internal.h"

static void print_value(FILE *f, const ds_config_key *k, const ds_config_value *v) {
    char num[64];
    switch (k->type) {
        case DS_CFG_INT: fprintf(f, "%" PRId64, v->i); break;
        case DS_CFG_FLOAT:
            ds_cfg_format_double(v->f, num, sizeof num);
            // "1.0", not "1": the printed config shows the key's type.
            fprintf(f, "%s%s", num, strpbrk(num, ".e") ? "" : ".0");
            break;
        case DS_CFG_BOOL: fputs(v->b ? "true" : "false", f); break;
        default: ds_json_write_string(f, v->s ? v->s : ""); break;
    }
}

// True when a key before index i inside `prefix` has the same next component (name[0..len)).
static bool seen_before(const ds_config *c, int i, const char *prefix, size_t plen, const char *name,
                        size_t len) {
    for (int j = 0; j < i; j++) {
        const char *p = c->keys[j].path;
        if (strncmp(p, prefix, plen) == 0 && strncmp(p + plen, name, len) == 0 &&
            (p[plen + len] == '.' || p[plen + len] == '\0'))
            return true;
    }
    return false;
}

// Members of the section whose paths start with prefix[0..plen) ("" at the root, "bench." ...).
static void print_section(const ds_config *c, FILE *f, const char *prefix, size_t plen, int indent) {
    bool first = true;
    for (int i = 0; i < c->nkeys; i++) {
        const char *path = c->keys[i].path;
        if (strncmp(path, prefix, plen) != 0) continue;
        const char *name = path + plen;
        const char *dot = strchr(name, '.');
        const size_t len = dot ? (size_t)(dot - name) : strlen(name);
        if (seen_before(c, i, prefix, plen, name, len)) continue;
        fprintf(f, "%s\n%*s\"%.*s\": ", first ? "" : ",", indent, "", (int)len, name);
        first = false;
        if (dot) {
            fputc('{', f);
            print_section(c, f, path, plen + len + 1, indent + 2);
            fprintf(f, "\n%*s}", indent, "");
        } else {
            print_value(f, &c->keys[i], &c->values[i]);
        }
    }
}

static void print_sources(const ds_config *c, FILE *f, ds_config_source source) {
    fputc('[', f);
    bool first = true;
    for (int i = 0; i < c->nkeys; i++) {
        if (c->values[i].source != source) continue;
        fputs(first ? "" : ", ", f);
        ds_json_write_string(f, c->keys[i].path);
        first = false;
    }
    fputc(']', f);
}

void ds_config_print(const ds_config *c, FILE *f) {
    if (!c || !f) return;
    fputs("{\n  \"config\": {", f);
    print_section(c, f, "", 0, 4);
    fputs(c->nkeys ? "\n  },\n  \"file\": " : "},\n  \"file\": ", f);
    if (c->file)
        ds_json_write_string(f, c->file);
    else
        fputs("null", f);
    fputs(",\n  \"from_file\": ", f);
    print_sources(c, f, DS_CFG_FROM_FILE);
    fputs(",\n  \"from_set\": ", f);
    print_sources(c, f, DS_CFG_FROM_SET);
    fputs("\n}\n", f);
}
