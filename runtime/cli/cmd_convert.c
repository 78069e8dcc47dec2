// `downstream convert IN OUT.safetensors`: a PyTorch checkpoint (or a safetensors file) to
// safetensors, through the same restricted reader training uses (runtime/io/pth.h): nothing in
// the checkpoint is executed, and its state dict's tensors are written contiguous with the
// safetensors writer, laid out as safetensors.torch.save_file lays them out.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/safetensors.h"
#include "../io/tensor_source.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: downstream convert IN OUT.safetensors\n\n"
            "Writes the tensors of IN, a PyTorch checkpoint (.pth/.pt written by torch.save, in its zip\n"
            "format or the legacy one) or a safetensors file, to OUT as safetensors (metadata\n"
            "{\"format\": \"pt\"}), byte for byte as safetensors.torch.save_file writes them.\n\n"
            "The checkpoint is read by a restricted unpickler that never executes anything: it gives\n"
            "meaning only to the globals torch.save uses for tensors and state dicts,\n"
            "  %s\n"
            "(docs/pth_format.md says what is accepted and why).\n"
            "The tensors are the state dict's: the top-level dict, or the dict under \"model\",\n"
            "\"state_dict\" or \"model_state_dict\" of a training checkpoint; nested dicts are flattened\n"
            "with '.'. Python objects outside the state dict (argparse args, ...) are skipped, never\n"
            "executed, and listed; inside it they are refused. Strided and shared tensors are written\n"
            "contiguous, each on its own.\n"
            "Exit status: 0 when OUT was written, 1 on failure (OUT is left untouched), 2 on a usage error.\n",
            ds_pth_allowed_globals());
}

static int convert(const char *in, const char *out) {
    ds_tensor_source src;
    ds_err err = {0};
    if (ds_tensor_source_open(in, &src, &err) != DS_OK) {
        fprintf(stderr, "downstream convert: %s\n", err.msg);
        return 1;
    }
    const int n = ds_tensor_source_count(&src);
    ds_st_entry *entries = calloc(n > 0 ? (size_t)n : 1, sizeof *entries);
    if (entries == NULL) {
        fprintf(stderr, "downstream convert: out of memory\n");
        ds_tensor_source_close(&src);
        return 1;
    }
    long long params = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        const ds_named_tensor t = ds_tensor_source_at(&src, i);
        entries[i].name = t.name;
        entries[i].tensor = t.tensor;
        params += ds_tensor_numel(&t.tensor);
        bytes += (long long)ds_tensor_nbytes(&t.tensor);
    }
    const ds_st_meta format = {"format", "pt"};
    int status = 0;
    if (ds_st_write(out, entries, n, &format, 1, &err) != DS_OK) {
        fprintf(stderr, "downstream convert: %s\n", err.msg);
        status = 1;
    } else {
        printf("%s: %s", in, ds_tensor_source_format(&src));
        if (src.kind == DS_SOURCE_PTH && src.pth.state_dict_key[0] != '\0')
            printf(", state dict under '%s'", src.pth.state_dict_key);
        printf(": %d %s, %lld parameters, %lld bytes\n", n, n == 1 ? "tensor" : "tensors", params, bytes);
        if (src.kind == DS_SOURCE_PTH && src.pth.ignored_count > 0) {
            printf("skipped objects outside the state dict (never executed):");
            for (int i = 0; i < src.pth.ignored_count; i++) printf(" %s", src.pth.ignored_globals[i]);
            printf("\n");
        }
        printf("wrote %s\n", out);
    }
    free(entries);
    ds_tensor_source_close(&src);
    return status;
}

int ds_cmd_convert(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    const char *paths[2];
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0) {
            fprintf(stderr, "downstream convert: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (npaths == 2) {
            fprintf(stderr, "downstream convert: expected IN and OUT, got a third argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        paths[npaths++] = argv[i];
    }
    if (npaths != 2) {
        fprintf(stderr, "downstream convert: expected IN and OUT.safetensors\n");
        usage(stderr);
        return 2;
    }
    return convert(paths[0], paths[1]);
}
