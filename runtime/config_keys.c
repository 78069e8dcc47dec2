// THE table of config keys: the one place a key is declared. Adding a key is adding one line;
// the parser, `downstream help config` and the README reference (scripts/update_config_doc.sh)
// follow. Keys of one section stay together (the printed config nests them in this order).
// Defaults and bounds are text, parsed like `--set` values; tests/cpu/test_config.c checks them.
#include "config.h"

static const ds_config_key k_keys[] = {
    // path                 type           default  bounds / choices                  doc
    {"run.seed",            DS_CFG_INT,    "0",     .min = "0",                        .doc = "base seed of every random stream"},
    {"run.device",          DS_CFG_STRING, "auto",                                     .doc = "auto, cpu, or cuda:N"},
    {"run.log_level",       DS_CFG_ENUM,   "info",  .choices = "error|warn|info|debug", .doc = "log verbosity (--quiet sets warn, --verbose debug)"},
    {"run.threads",         DS_CFG_INT,    "0",     .min = "0",                        .doc = "CPU threads; 0 = all cores"},

    {"bench.batch",         DS_CFG_INT,    "8",     .min = "1",                        .doc = "sequences per batch"},
    {"bench.seq_len",       DS_CFG_INT,    "128",   .min = "1",                        .doc = "tokens per sequence"},
    {"bench.hidden",        DS_CFG_INT,    "384",   .min = "1",                        .doc = "hidden size of the benchmarked encoder layer"},
    {"bench.heads",         DS_CFG_INT,    "12",    .min = "1",                        .doc = "attention heads (must divide bench.hidden)"},
    {"bench.intermediate",  DS_CFG_INT,    "1536",  .min = "1",                        .doc = "feed-forward inner size"},
    {"bench.layers",        DS_CFG_INT,    "1",     .min = "1",                        .doc = "encoder layers stacked"},
    {"bench.warmup",        DS_CFG_INT,    "2",     .min = "0",                        .doc = "untimed iterations before timing"},
    {"bench.repeats",       DS_CFG_INT,    "10",    .min = "1",                        .doc = "timed iterations"},
    {"bench.gemm_check",    DS_CFG_BOOL,   "true",                                     .doc = "time a (4096x384)x(384x1536) product and check it against a plain loop"},
};

const ds_config_key *ds_config_keys(int *count) {
    if (count) *count = (int)(sizeof k_keys / sizeof k_keys[0]);
    return k_keys;
}
