// `downstream report RUN_DIR [--output FILE]`: the run's HTML report (runtime/report/report.h).
#include <stdio.h>
#include <string.h>

#include "../report/report.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: downstream report RUN_DIR [--output FILE]\n\n"
            "Writes one self-contained HTML page about a training run (train.output_dir): final dev and\n"
            "test metrics, loss / learning-rate / metric curves, throughput and data wait, the per-class\n"
            "table and confusion matrix, sample predictions (mistakes first) and the resolved config.\n"
            "No network, no JavaScript: inline SVG and CSS, viewable anywhere.\n\n"
            "  --output FILE   where to write it (default: RUN_DIR/report.html)\n");
}

int ds_cmd_report(int argc, char **argv) {
    const char *dir = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if ((strcmp(argv[i], "--output") == 0 || strcmp(argv[i], "-o") == 0) && i + 1 < argc) {
            output = argv[++i];
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "downstream report: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "downstream report: RUN_DIR is required\n");
        usage(stderr);
        return 2;
    }
    char path[4200];
    if (!output) {
        snprintf(path, sizeof path, "%.4000s/report.html", dir);
        output = path;
    }
    ds_err err;
    ds_err_clear(&err);
    if (ds_report_write(dir, output, &err) != DS_OK) {
        fprintf(stderr, "downstream report: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", output);
    return 0;
}
