// A family's forward_train (the loss left where the model computed it, staged by the trainer and
// read once per step: runtime/train/step_losses) trains exactly as its forward with the host loss:
// the text, segmentation and speech families, each run with its table as it is and with forward_train
// removed, give byte-identical checkpoints and the same logged losses, over steps of 2
// micro-batches and a last step of 1 (gradient accumulation 2).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/tasks/registry.h"
#include "../../runtime/train/trainer.h"
#include "../test_util.h"

#define MAX_SETS 24

static ds_status train(const ds_task_family *fam, const char *const *sets, int n, const char *dir, ds_err *err) {
    char out[1200];
    snprintf(out, sizeof out, "train.output_dir=%s", dir);
    const char *all[MAX_SETS];
    for (int i = 0; i < n; i++) all[i] = sets[i];
    all[n++] = out;
    ds_config *cfg = NULL;
    ds_context ctx = ds_context_cpu();
    ctx.log.level = DS_LOG_ERROR;
    ds_config_key_table tables[16];  // the drivers' keys and every family's, as the CLI loads them
    const int ntables = ds_task_config_tables(tables, 16);
    ds_status st = ds_config_load_tables(&cfg, tables, ntables, NULL, all, n, &ctx.err);
    ds_train_summary s;
    if (st == DS_OK) {
        ctx.seed = 7;
        st = ds_train_family(&ctx, cfg, fam, NULL, NULL, &s);
        ds_train_summary_free(&s);
    }
    ds_config_free(cfg);
    if (st != DS_OK) *err = ctx.err;
    return st;
}

// The "loss" values of metrics.jsonl, in order, as written (text: the same bits print the same).
static int losses(const char *dir, char vals[][40], int cap) {
    char path[1300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    size_t size = 0;
    char *text = ds_test_read_file(path, &size);
    int n = 0;
    for (const char *p = text; p && n < cap && (p = strstr(p, "\"loss\":")) != NULL; p += 7) {
        const char *v = p + 7;
        size_t len = strcspn(v, ",}");
        if (len >= sizeof vals[0]) len = sizeof vals[0] - 1;
        memcpy(vals[n], v, len);
        vals[n++][len] = '\0';
    }
    free(text);
    return n;
}

static void check_family(ds_test *t, const char *name, const char *const *sets, int n, int steps) {
    const ds_task_family *fam = ds_task_family_find(name);
    if (!ds_test_check(t, fam && fam->forward_train, "%s: no forward_train to compare", name)) return;
    ds_task_family host = *fam;
    host.forward_train = NULL;  // the trainer then calls forward and reads the loss on the host
    char a[1024], b[1024], tag[64];
    snprintf(tag, sizeof tag, "ftsame_%s_staged", name);
    ds_test_tmpfile(tag, a, sizeof a);
    snprintf(tag, sizeof tag, "ftsame_%s_host", name);
    ds_test_tmpfile(tag, b, sizeof b);
    ds_err err;
    ds_err_clear(&err);
    if (!ds_test_check(t, train(fam, sets, n, a, &err) == DS_OK, "%s staged: %s", name, err.msg)) return;
    if (!ds_test_check(t, train(&host, sets, n, b, &err) == DS_OK, "%s host: %s", name, err.msg)) return;
    char pa[1300], pb[1300];
    snprintf(pa, sizeof pa, "%s/checkpoint-%d.safetensors", a, steps);
    snprintf(pb, sizeof pb, "%s/checkpoint-%d.safetensors", b, steps);
    ds_test_check(t, ds_test_same_bytes(pa, pb), "%s: checkpoint-%d differs between forward_train and forward", name, steps);
    char la[16][40], lb[16][40];
    const int na = losses(a, la, 16), nb = losses(b, lb, 16);
    bool same = na == nb && na >= steps;
    for (int i = 0; same && i < na; i++) same = strcmp(la[i], lb[i]) == 0;
    ds_test_check(t, same, "%s: logged losses differ (%d and %d values; first %s / %s)", name, na, nb,
                  na ? la[0] : "-", nb ? lb[0] : "-");
    printf("%s: %d steps, %d logged losses equal (first %s), checkpoints byte-identical\n", name, steps, na,
           na ? la[0] : "-");
}

int main(void) {
    ds_test t = ds_test_begin("forward_train_same");
    char voc[1024], list[1024], names[1100], speech[1024], tiny[1200], train_csv[1200], dev_csv[1200];
    ds_test_fixture("images/voc", voc, sizeof voc);
    ds_test_fixture("speech", speech, sizeof speech);
    // 6 image/mask rows (the 3 good fixture photos twice): batch 2 x accumulation 2 -> steps of
    // 2 micro-batches, then 1.
    ds_test_tmpfile("ftsame_seg.csv", list, sizeof list);
    FILE *f = fopen(list, "w");
    if (!ds_test_check(&t, f != NULL, "cannot write %s", list)) return ds_test_finish(&t);
    fprintf(f, "image,mask\n");
    for (int r = 0; r < 2; r++)
        for (const char *s = "abc"; *s; s++)
            fprintf(f, "%s/JPEGImages/%c.jpg,%s/SegmentationClass/%c.png\n", voc, *s, voc, *s);
    fclose(f);
    char train_set[1100], dev_set[1100], names_set[1200];
    snprintf(names, sizeof names, "%s/class_names.txt", voc);
    snprintf(train_set, sizeof train_set, "data.train=%s", list);
    snprintf(dev_set, sizeof dev_set, "data.dev=%s", list);
    snprintf(names_set, sizeof names_set, "data.class_names=%s", names);
    const char *seg[] = {"task.type=segmentation", "run.threads=1", "model.width=4", train_set, dev_set, names_set,
                         "data.base_size=40", "data.crop_size=32", "data.num_workers=1", "train.optimizer=sgd",
                         "train.lr=0.01", "train.batch_size=2", "train.grad_accum=2", "train.max_steps=4",
                         "train.eval_every=4", "train.log_every=1", "train.warmup_ratio=0", "train.max_grad_norm=1",
                         "train.keep_last=5"};
    check_family(&t, "segmentation", seg, (int)(sizeof seg / sizeof *seg), 4);

    // The tiny BERT on 96 sentences (72 train after the split: 9 batches of 8), accumulation 2:
    // four steps of 2 micro-batches, then 1; dropout on (the tiny config's 0.1).
    char bert[1100], bert_set[1200], sent_set[1200];
    ds_test_fixture("trainer", bert, sizeof bert);
    snprintf(bert_set, sizeof bert_set, "model.path=%s/tiny_bert", bert);
    snprintf(sent_set, sizeof sent_set, "data.train=%s/sentiment.csv", bert);
    const char *tx[] = {"task.type=text_classification", "run.threads=1", bert_set, sent_set,
                        "data.split=0.75,0.125,0.125", "model.max_length=32", "train.batch_size=8", "train.grad_accum=2",
                        "train.max_steps=5", "train.eval_every=5", "train.log_every=1", "train.warmup_ratio=0",
                        "train.keep_last=5", "train.max_grad_norm=1"};
    check_family(&t, "text_classification", tx, (int)(sizeof tx / sizeof *tx), 5);

    // 9 utterances, batch 4 x accumulation 2: steps of (4, 4) and (1); dropout, LayerDrop and
    // SpecAugment on; the CTC loss's infinite check runs (ctc_zero_infinity false).
    snprintf(tiny, sizeof tiny, "model.scratch_config=%s/tiny_scratch.json", speech);
    snprintf(train_csv, sizeof train_csv, "data.train=%s/train.csv", speech);
    snprintf(dev_csv, sizeof dev_csv, "data.dev=%s/dev.csv", speech);
    const char *sp[] = {"task.type=speech_ctc", "run.threads=1", tiny, train_csv, dev_csv, "data.num_workers=1",
                        "model.freeze_feature_encoder=false", "train.optimizer=adamw", "train.lr=1e-3",
                        "train.batch_size=4", "train.grad_accum=2", "train.max_steps=4", "train.eval_every=4",
                        "train.log_every=1", "train.warmup_ratio=0", "train.keep_last=5", "train.metric=loss"};
    check_family(&t, "speech_ctc", sp, (int)(sizeof sp / sizeof *sp), 4);
    return ds_test_finish(&t);
}
