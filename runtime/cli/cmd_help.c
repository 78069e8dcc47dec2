// `downstream help config [--markdown]`: every config key with its type, default, allowed
// values and doc, straight from the key tables: the drivers' (runtime/config/config_keys.c), then
// each model family's own (runtime/tasks/registry.h). The Markdown form is the README's reference
// (scripts/update_config_doc.sh writes it there; tests/cli/test_config_doc.sh checks it).
#include <stdio.h>
#include <string.h>

#include "../config/config.h"
#include "../tasks/registry.h"
#include "commands.h"

static const char *default_text(const ds_config_key *k) { return k->def[0] ? k->def : "\"\""; }

static void print_plain(const ds_config_key *keys, int n, const char *family) {
    int wk = 3, wt = 4, wd = 7, wa = 7;  // widths of the headers KEY, TYPE, DEFAULT, ALLOWED
    char allowed[256];
    for (int i = 0; i < n; i++) {
        ds_config_allowed_text(&keys[i], allowed, sizeof allowed);
        if ((int)strlen(keys[i].path) > wk) wk = (int)strlen(keys[i].path);
        if ((int)strlen(ds_config_type_name(keys[i].type)) > wt) wt = (int)strlen(ds_config_type_name(keys[i].type));
        if ((int)strlen(default_text(&keys[i])) > wd) wd = (int)strlen(default_text(&keys[i]));
        if ((int)strlen(allowed) > wa) wa = (int)strlen(allowed);
    }
    if (family[0])
        printf("\nKeys of the %s family (task.type = %s):\n", family, family);
    else
        printf("Config keys: set them in the JSON file given with --config (nested objects map to\n"
               "dotted paths) or with --set KEY=VALUE, which wins over the file.\n\n");
    printf("%-*s  %-*s  %-*s  %-*s  %s\n", wk, "KEY", wt, "TYPE", wd, "DEFAULT", wa, "ALLOWED", "DESCRIPTION");
    for (int i = 0; i < n; i++) {
        ds_config_allowed_text(&keys[i], allowed, sizeof allowed);
        printf("%-*s  %-*s  %-*s  %-*s  %s\n", wk, keys[i].path, wt, ds_config_type_name(keys[i].type), wd,
               default_text(&keys[i]), wa, allowed[0] ? allowed : "-", keys[i].doc);
    }
}

// Text in a Markdown table cell: '|' would end the cell.
static void print_cell(const char *s) {
    for (; *s; s++) {
        if (*s == '|') putchar('\\');
        putchar(*s);
    }
}

static void print_markdown(const ds_config_key *keys, int n, const char *family) {
    if (family[0]) {
        printf("Keys of the `%s` family (`task.type` = `%s`):\n\n", family, family);
    } else {
    printf("Every key can be set in the JSON file given with `--config` (nested objects map to dotted\n"
           "paths: `{\"bench\": {\"batch\": 32}}` sets `bench.batch`) or on the command line with\n"
           "`--set KEY=VALUE`; `--set` wins over the file, and a later `--set` over an earlier one.\n"
           "Unknown keys are rejected. This table is generated from runtime/config/config_keys.c by\n"
           "`scripts/update_config_doc.sh`; edit the table, not this text. The keys of each model\n"
           "family (runtime/tasks/<family>/) follow the drivers' keys.\n\n");
    }
    printf("| Key | Type | Default | Allowed | Description |\n|---|---|---|---|---|\n");
    char allowed[256];
    for (int i = 0; i < n; i++) {
        ds_config_allowed_text(&keys[i], allowed, sizeof allowed);
        printf("| `%s` | %s | `", keys[i].path, ds_config_type_name(keys[i].type));
        print_cell(default_text(&keys[i]));
        printf("` | ");
        print_cell(allowed);
        printf(" | ");
        print_cell(keys[i].doc);
        printf(" |\n");
    }
    printf("\n");  // a blank line ends the table before whatever follows it
}

static void usage(FILE *f) {
    fprintf(f, "usage: downstream help <topic> [options]\n\ntopics:\n"
               "  config [--markdown]   every config key: type, default, allowed values, description\n");
}

int ds_cmd_help(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "config") != 0) {
        fprintf(stderr, "downstream help: unknown topic '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    bool markdown = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0) {
            markdown = true;
        } else {
            fprintf(stderr, "downstream help config: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    ds_config_key_table tables[16];
    const int n = ds_task_config_tables(tables, 16);
    for (int i = 0; i < n; i++) {
        if (markdown)
            print_markdown(tables[i].keys, tables[i].count, tables[i].title);
        else
            print_plain(tables[i].keys, tables[i].count, tables[i].title);
    }
    return 0;
}
