// `downstream train --config FILE [--set KEY=VALUE ...]`: fine-tunes the pretrained model of the
// config's model family (task.type) on its data (runtime/train/trainer.h) and prints the dev and
// test metrics at the end.
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "../../kernels/cpu/blas_info.h"
#include "../dist/dist_setup.h"
#include "../train/run_device.h"
#include "../../kernels/gpu.h"
#include "../train/trainer.h"
#include "blas_fastpath.h"
#include "cli_args.h"
#include "commands.h"

static void help(void) {
    printf("usage: downstream train --config FILE [--set KEY=VALUE ...]\n\n"
           "Fine-tunes the pretrained model of model.path for the model family of task.type (default\n"
           "text_classification: a Hugging Face BERT checkpoint on CSV/TSV/JSONL text) on data.train (and\n"
           "data.dev / data.test, or a split of data.train), with AdamW or SGD (train.optimizer), warm-up and\n"
           "decay, clipping, gradient accumulation, evaluation, checkpoints in train.output_dir (the best one\n"
           "kept), early stopping and exact resume; then evaluates the best model on dev and test and exports\n"
           "it to <train.output_dir>/model in its ecosystem's format. `downstream help config` lists the keys.\n\n"
           "Data parallel: start one process per rank with mpirun (-np N), srun (--mpi=pmix), or torchrun-style\n"
           "variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); train.batch_size is per rank (see dist.*).\n\n"
           "options:\n");
    ds_cli_print_common_options(stdout);
}

static void print_eval(const char *what, const ds_eval_result *r) {
    printf("%s (%lld examples):", what, (long long)r->examples);
    for (int i = 0; i < r->count; i++) printf(" %s %.4f", r->values[i].name, r->values[i].value);
    printf("\n");
}

int ds_cmd_train(int argc, char **argv) {
    ds_context ctx = ds_context_cpu();
    ds_config *cfg = NULL;
    // The rank is needed before the config is printed (rank 0 alone prints it); dist.launcher
    // is known only after, and ds_dist_world below reads the world for good.
    ds_world env_world;
    if (ds_world_from_environment(DS_LAUNCHER_AUTO, &env_world, &ctx.err) == DS_OK) ctx.log.rank = env_world.rank;
    ds_err_clear(&ctx.err);
    const int early = ds_cli_start("train", argc, argv, help, &ctx, &cfg);
    if (early >= 0) return early;
    ds_world world;
    if (ds_dist_world(cfg, &world, &ctx.err) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("train", &ctx.err, 2);
    }
    ctx.log.rank = world.rank;  // rank 0 alone logs below warnings
    ds_run_device dev;
    if (ds_run_device_open(&ctx, cfg, world.size > 1 ? &world : NULL, &dev) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("train", &ctx.err, 2);
    }
    if (!dev.cuda) {
        char blas[256];
        DS_LOG_INFO(&ctx.log, "cpu: %d threads; %s", omp_get_max_threads(), ds_blas_fast_path_report(blas, sizeof blas));
    }
    ds_comm_options co;
    ds_comm *comm = NULL;
    ds_status cs = ds_dist_comm_options(cfg, &co, &ctx.err);
    if (dev.cuda) {  // gradients live on the device: NCCL (auto) all-reduces them after this stream's writes
        co.cuda = true;
        co.cuda_device = dev.index;
        co.cuda_stream = ds_gpu_stream_handle(&ctx);
    }
    if (cs == DS_OK) cs = ds_comm_open(&world, &co, &ctx.log, &comm, &ctx.err);
    if (cs != DS_OK) {
        fprintf(stderr, "downstream train: rank %d of %d: %s: %s\n", world.rank, world.size,
                ds_status_name(ctx.err.status), ctx.err.msg);
        ds_run_device_close(&ctx);
        ds_config_free(cfg);
        return 1;
    }
    ds_train_summary s;
    ds_preempt preempt;
    if (ds_preempt_open(&preempt, &ctx.err) != DS_OK) {
        DS_LOG_WARN(&ctx.log, "preemption signals will end the run without a checkpoint: %s", ctx.err.msg);
        ds_err_clear(&ctx.err);
    }
    const ds_status st = ds_train(&ctx, cfg, comm, &preempt, &s);
    ds_preempt_close(&preempt);
    int rc = 0;
    if (st != DS_OK) {
        if (world.size > 1)
            fprintf(stderr, "downstream train: rank %d of %d: %s: %s\n", world.rank, world.size,
                    ds_status_name(ctx.err.status), ctx.err.msg);
        else
            ds_cli_fail("train", &ctx.err, 1);
        rc = 1;
        // Ends the other ranks too (MPI_Abort does not return): they must not wait for this one.
        ds_comm_abort(comm);
        comm = NULL;
    } else if (world.rank != 0) {
        // rank 0 reports for the job
    } else if (s.preempted) {
        printf("preempted (signal %d) after step %lld of %lld: checkpoint written%s\n", s.preempt_signal,
               (long long)s.steps, (long long)s.total_steps,
               ds_config_bool(cfg, "train.requeue") ? "; the job is requeued and resumes from it"
                                                    : "; resume with --set train.resume=true (auto under Slurm)");
    } else if (s.steps == s.total_steps || s.early_stopped) {
        printf("trained %lld steps in %.1f s%s\n", (long long)s.steps, s.seconds, s.early_stopped ? " (early stopping)" : "");
        if (s.skipped_steps > 0)
            printf("%lld steps were skipped for a non-finite loss or gradient (train.nonfinite=skip)\n",
                   (long long)s.skipped_steps);
        if (s.has_dev) print_eval("dev", &s.dev);
        if (s.has_test) {
            print_eval("test", &s.test);
            if (s.test.report) fputs(s.test.report, stdout);
        }
        printf("model: %s\n", s.export_dir);
    } else {
        printf("stopped at step %lld of %lld; resume with --set train.resume=true\n", (long long)s.steps,
               (long long)s.total_steps);
    }
    ds_comm_close(comm);
    ds_train_summary_free(&s);
    ds_run_device_close(&ctx);
    ds_config_free(cfg);
    return rc;
}
