// Test program: `downstream train` for the toy family (tests/toy_family.h), which is in no
// registry: toy_train [--config FILE] [--set KEY=VALUE ...]. The world and communicator come from
// the environment and the dist.* keys, as the real command's (runtime/cli/cmd_train.c).
#include <stdio.h>

#include "../../runtime/dist/dist_setup.h"
#include "../../runtime/train/trainer.h"
#include "../toy_family.h"

int main(int argc, char **argv) {
    ds_context ctx = ds_context_cpu();
    const char *config = NULL;
    const char *sets[64];
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] == 'c') config = argv[++i];
        else if (i + 1 < argc && nsets < 64) sets[nsets++] = argv[++i];  // --set KEY=VALUE
    }
    ds_config *cfg = NULL;
    if (ds_config_load(&cfg, config, sets, nsets, &ctx.err) != DS_OK) {
        fprintf(stderr, "toy_train: %s\n", ctx.err.msg);
        return 2;
    }
    ctx.log.level = DS_LOG_WARN;
    ctx.seed = (uint64_t)ds_config_int(cfg, "run.seed");
    ds_world world;
    ds_comm *comm = NULL;
    ds_status st = ds_dist_start(cfg, &ctx.log, &world, &comm, &ctx.err);
    ctx.log.rank = world.rank;
    ds_train_summary s;
    if (st == DS_OK) {
        st = ds_train_family(&ctx, cfg, &ds_toy_family, comm, NULL, &s);
        ds_train_summary_free(&s);
    }
    if (st != DS_OK) fprintf(stderr, "toy_train: rank %d: %s\n", world.rank, ctx.err.msg);
    if (st != DS_OK) ds_comm_abort(comm);
    else ds_comm_close(comm);
    ds_config_free(cfg);
    return st == DS_OK ? 0 : 1;
}
